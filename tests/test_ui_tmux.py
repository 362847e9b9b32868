"""`callassist demo` as a person sees it: run in tmux, read the screen with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
CALLASSIST = Path(sys.executable).with_name("callassist")


def capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout


def wait_for(session: str, *needles: str, timeout: float = 60.0) -> str:
    """Polls the screen (a real program in a real terminal has no stream clock to drive)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if all(needle in screen for needle in needles):
            return screen
        time.sleep(0.5)
    raise AssertionError(f"not on screen after {timeout} s: {needles}\n{screen}")


def unwrapped(screen: str) -> str:
    """The screen's lines joined, borders and indents removed, so a wrapped line reads whole."""
    return "".join(line.strip(" │┃█╭╮╰╯─━┏┓┗┛▂▃▄▅▆▇") for line in screen.splitlines())


def test_demo_at_80x24_shows_the_whole_greeting_and_the_help_key(tmp_path):
    session = f"callassist-test-{os.getpid()}"
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(tmp_path)}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", "-c", str(tmp_path),
         f"{CALLASSIST} demo --speed 2"],
        check=True, env=env,
    )
    try:
        greeting = "00:00 坐席 您好，欢迎致电平安客户服务热线，客服代表三零二很高兴为您服务，请问有什么可以帮助您！"
        deadline = time.monotonic() + 60
        while greeting not in unwrapped(screen := capture(session)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert greeting in unwrapped(screen), screen
        assert screen.splitlines()[-1].startswith(" ?  帮助  q  退出"), screen  # the key bar, help first
        subprocess.run(["tmux", "send-keys", "-t", session, "?"], check=True)
        help_screen = wait_for(session, "callassist — 按键", "暂停/继续", "后退 5 秒")
        assert "接通" not in help_screen, "a replay has no call to start: the key is not offered"
        subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
        wait_for(session, "现在说")
        screen = wait_for(session, "禁用语", "我不知道")
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, "q quits"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
