"""`callassist setup`: with flags (no questions) and interactively in a real terminal (tmux), with
the level check reading a real PortAudio device (the ALSA test device of tests/alsa/); then
`callassist live` runs on the config it wrote, and warns on screen while placeholders remain."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from callassist.cli import main
from callassist.settings import load_settings, unset_placeholders
from terminal import tmux, wait_for

CALLASSIST = Path(sys.executable).with_name("callassist")
ALSA_DIR = Path(__file__).parent / "alsa"


def test_setup_with_flags_writes_a_config_that_live_reads(tmp_path, capsys):
    config = tmp_path / "callassist.toml"
    config.write_text('# our desk\n[timings]\ndead_air = 5.0  # QA asked for 5 s\n\n[call]\ncompany = "XX"\n', encoding="utf-8")
    status = main(["setup", "--config", str(config), "--company", "平安", "--agent", "三零二",
                   "--agent-device", "USB Headset", "--caller-device", "loopback:Speakers", "--no-input"])
    assert status == 0 and f"config written: {config}" in capsys.readouterr().out
    settings = load_settings(config)
    assert (settings.call.company, settings.call.agent) == ("平安", "三零二")
    assert (settings.live.agent_device, settings.live.caller_device) == ("USB Headset", "loopback:Speakers")
    assert settings.timings.dead_air == 5.0 and unset_placeholders(settings) == {}
    text = config.read_text(encoding="utf-8")
    assert "# our desk" in text and "# QA asked for 5 s" in text, "the rest of the file stays as it was"
    assert text.count("[call]") == 1 and 'company = "XX"' not in text


def test_setup_without_a_company_refuses_with_a_one_line_error(tmp_path, capsys):
    status = main(["setup", "--config", str(tmp_path / "c.toml"), "--agent", "302", "--no-input"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "--company must be given" in err
    assert not (tmp_path / "c.toml").exists()


def test_setup_writes_where_live_looks_first(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "callassist.toml").write_text("[call]\n", encoding="utf-8")  # live reads ./callassist.toml first
    assert main(["setup", "--company", "平安", "--agent", "302", "--no-input"]) == 0
    assert load_settings(None).call.company == "平安"


# ---------------------------------------------------------------- interactive, in tmux


def answer(session: str, prompt: str, text: str) -> None:
    wait_for(session, prompt)
    subprocess.run(tmux(session, "send-keys", "-t", session, "-l", text), check=True)
    subprocess.run(tmux(session, "send-keys", "-t", session, "Enter"), check=True)


@pytest.fixture
def alsa_desk(tmp_path):
    """A terminal session's environment with one capture device playing a -23 dBFS tone."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    if not sys.platform.startswith("linux"):
        pytest.skip("the test capture device is ALSA's (Linux)")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text(f"<{(ALSA_DIR / 'callassist_capture.asoundrc').resolve()}>\n")
    tone = tmp_path / "tone.f32"
    t = np.arange(16000 * 60) / 16000
    (0.1 * np.sin(2 * np.pi * 440 * t)).astype("<f4").tofile(tone)
    env = {**os.environ, "HOME": str(home), "CALLASSIST_ALSA_INFILE": str(tone), "TERM": "xterm-256color",
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop("ALSA_CONFIG_PATH", None)
    probe = subprocess.run([str(CALLASSIST), "devices"], env=env, capture_output=True, text=True, timeout=60)
    if "callassist_test_capture" not in probe.stdout:
        pytest.skip(f"PortAudio does not list the ALSA test device: {probe.stdout}{probe.stderr}")
    return env


def in_tmux(env: dict, tmp_path: Path, command: str, size=(100, 30)) -> str:
    """Run `command` in a new tmux session, on a new tmux server of its own (`terminal.tmux`; end
    it with `close`). The variables go on the command line too (a server already running would
    keep its own environment)."""
    session = f"callassist-setup-{os.getpid()}-{time.monotonic_ns()}"
    names = ("HOME", "CALLASSIST_ALSA_INFILE", "TERM", "XDG_CONFIG_HOME")
    variables = " ".join(f"{name}={shlex.quote(env[name])}" for name in names)
    subprocess.run(tmux(session, "new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]),
                    "-c", str(tmp_path), f"env -u ALSA_CONFIG_PATH {variables} {command}; sleep 60"), check=True, env=env)
    return session


def close(session: str) -> None:
    subprocess.run(tmux(session, "kill-server"), capture_output=True)


def test_setup_interactively_then_live_uses_the_config(alsa_desk, tmp_path):
    config = tmp_path / "desk.toml"
    session = in_tmux(alsa_desk, tmp_path, f"{CALLASSIST} setup --config {config} --meter-seconds 2")
    try:
        answer(session, "company []:", "平安")
        answer(session, "agent name or number []:", "三零二")
        answer(session, "agent's microphone", "callassist_test")
        answer(session, "caller (1/2/3) [3]:", "2")
        answer(session, "caller channel [1]:", "")
        screen = wait_for(session, "坐席 agent: loudest", "config written")
        assert "坐席 agent: loudest -23 dBFS — ok" in screen and "客户 caller: loudest -23 dBFS — ok" in screen
    finally:
        close(session)
    settings = load_settings(config)
    assert (settings.call.company, settings.call.agent, settings.live.agent_device) == ("平安", "三零二", "callassist_test")
    assert (settings.live.caller_device, settings.live.caller_channel) == ("", 1)

    session = in_tmux(alsa_desk, tmp_path, f"{CALLASSIST} live --config {config} --asr none", size=(80, 24))
    try:
        screen = wait_for(session, "等待来电", " ?  帮助")
        assert "占位符" not in screen and "XX" not in screen
        subprocess.run(tmux(session, "send-keys", "-t", session, "q"), check=True)
    finally:
        close(session)


def test_live_offers_setup_and_warns_on_screen_while_placeholders_remain(alsa_desk, tmp_path):
    config = tmp_path / "desk.toml"
    config.write_text('[live]\nagent_device = "callassist_test"\n', encoding="utf-8")
    session = in_tmux(alsa_desk, tmp_path, f"{CALLASSIST} live --config {config} --asr none", size=(80, 24))
    try:
        answer(session, "Run setup now? [Y/n]", "n")
        screen = wait_for(session, "等待来电", "⚠ 开头语含占位符 XX/YYY：运行 callassist setup")
        assert " ?  帮助" in screen
        subprocess.run(tmux(session, "send-keys", "-t", session, "q"), check=True)
    finally:
        close(session)


def test_setup_asks_again_until_an_answer_makes_sense(tmp_path, monkeypatch):
    """The interactive questions, answered through `ask` (no device: the level check is skipped)."""
    import argparse

    from callassist.setup import run_setup

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["", "平安", "三零二", "", "2", "one", "1"])  # no company at first; a channel in words
    said: list[str] = []
    args = argparse.Namespace(config=tmp_path / "c.toml", company=None, agent=None, agent_device=None,
                              caller_device=None, caller_channel=None, language=None, no_input=False, meter_seconds=0)
    assert run_setup(args, ask=lambda question: next(answers), say=said.append) == 0
    settings = load_settings(tmp_path / "c.toml")
    assert (settings.call.company, settings.call.agent, settings.live.caller_channel) == ("平安", "三零二", 1)
    assert "'one' is not a channel number: 0, 1, ..." in said
