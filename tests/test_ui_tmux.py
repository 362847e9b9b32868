"""`callassist demo` as a person sees it: run in tmux, read the screen with capture-pane."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from terminal import capture_screen, tmux, wait_for

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
CALLASSIST = Path(sys.executable).with_name("callassist")


def unwrapped(screen: str) -> str:
    """The screen's lines joined, borders and indents removed, so a wrapped line reads whole."""
    return "".join(line.strip(" │┃█╭╮╰╯─━┏┓┗┛▂▃▄▅▆▇") for line in screen.splitlines())


def test_demo_at_80x24_shows_the_whole_greeting_and_the_help_key(tmp_path):
    session = f"callassist-test-{os.getpid()}"
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(tmp_path)}
    subprocess.run(
        tmux(session, "new-session", "-d", "-s", session, "-x", "80", "-y", "24", "-c", str(tmp_path),
             f"{CALLASSIST} demo --speed 2"),
        check=True, env=env,
    )
    try:
        greeting = "00:00 坐席 您好，欢迎致电平安客户服务热线，客服代表三零二很高兴为您服务，请问有什么可以帮助您！"
        deadline = time.monotonic() + 60
        while greeting not in unwrapped(screen := capture_screen(session)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert greeting in unwrapped(screen), screen
        assert screen.splitlines()[-1].startswith(" ?  帮助  q  退出"), screen  # the key bar, help first
        subprocess.run(tmux(session, "send-keys", "-t", session, "?"), check=True)
        help_screen = wait_for(session, "callassist — 按键", "暂停/继续", "后退 5 秒", timeout=60)
        assert "接通" not in help_screen, "a replay has no call to start: the key is not offered"
        subprocess.run(tmux(session, "send-keys", "-t", session, "Escape"), check=True)
        wait_for(session, "现在说")
        screen = wait_for(session, "禁用语", "我不知道")
        subprocess.run(tmux(session, "send-keys", "-t", session, "q"), check=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            alive = subprocess.run(tmux(session, "has-session", "-t", session), capture_output=True).returncode == 0
            if not alive:
                break
            time.sleep(0.2)
        assert not alive, "q quits"
    finally:
        subprocess.run(tmux(session, "kill-server"), capture_output=True)
