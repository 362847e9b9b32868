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


def test_demo_shows_transcript_and_prompt(tmp_path):
    session = f"callassist-test-{os.getpid()}"
    env = {**os.environ, "TERM": "xterm-256color", "XDG_CONFIG_HOME": str(tmp_path)}
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "36", "-c", str(tmp_path),
         f"{CALLASSIST} demo --speed 4"],
        check=True, env=env,
    )
    try:
        screen = wait_for(session, "客户", "SAY NOW —")
        assert "坐席" in screen and "您好，欢迎致电平安客户服务热线" in screen
        screen = wait_for(session, "FORBIDDEN", "我不知道")
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
