"""Driving a real terminal (tmux) as a person would: each test session on a tmux server of its own.

Not on the shared default server: a server whose last session has just ended exits, and a
`new-session` that reaches it meanwhile fails ("server exited unexpectedly"), which happens when
one test ends its session and starts the next, or another test or benchmark on the machine does
(often under load, when the server is slow to exit). End a session with `kill-server`."""

from __future__ import annotations

import subprocess
import time


def tmux(session: str, *args: str) -> list[str]:
    """A tmux command to `session`, on the tmux server named after it (`tmux -L`)."""
    return ["tmux", "-L", session, *args]


def capture_screen(session: str) -> str:
    return subprocess.run(tmux(session, "capture-pane", "-p", "-t", session), capture_output=True, text=True).stdout


def wait_for(session: str, *needles: str, timeout: float = 90.0) -> str:
    """The screen once every needle is on it. Polled: a real program in a real terminal has no
    stream clock to drive."""
    deadline = time.monotonic() + timeout
    while True:
        shown = capture_screen(session)
        if all(needle in shown for needle in needles):
            return shown
        if time.monotonic() > deadline:
            raise AssertionError(f"not on screen after {timeout} s: {needles}\n{shown}")
        time.sleep(0.2)
