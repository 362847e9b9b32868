"""CPU use of the screen while replaying a call at real time with meters at 20 Hz (the demo:
no recognition), measured from outside: the process runs in tmux like an agent's terminal.

    python benchmarks/bench_ui.py [--seconds 30]

Prints the process's CPU time (user + system, all its threads) over the wall-clock time, as a
percentage of one core. Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_tree(root: int) -> list[int]:
    """The pane's process and its descendants (tmux may start the command through a shell)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(stat(int(entry.name))[1])
            except (OSError, IndexError):
                continue
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = stat(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("callassist")
    session = f"bench-ui-{os.getpid()}"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "36", f"{exe} demo"], check=True)
    try:
        pane_pid = int(subprocess.run(["tmux", "display", "-p", "-t", session, "#{pane_pid}"],
                                      capture_output=True, text=True, check=True).stdout)
        time.sleep(3.0)  # start-up (imports, first layout) is not what is measured
        pids = process_tree(pane_pid)
        cpu0, wall0 = cpu_seconds(pids), time.monotonic()
        time.sleep(args.seconds)
        cpu1, wall1 = cpu_seconds(pids), time.monotonic()
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    share = (cpu1 - cpu0) / (wall1 - wall0)
    print(f"demo replay at real time, meters at 20 Hz, {wall1 - wall0:.0f} s measured:")
    print(f"CPU {cpu1 - cpu0:.2f} s over {wall1 - wall0:.1f} s = {100 * share:.1f}% of one core (target < 15%)")


if __name__ == "__main__":
    main()
