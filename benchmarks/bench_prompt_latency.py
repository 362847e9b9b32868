"""How late a silent-caller step reaches the screen: from its due time (5 s after the greeting's
end, then 5 s after each step) to the moment the screen applies it, end to end on the wall clock.

    python benchmarks/bench_prompt_latency.py [--prompts 20]

A live call (not a replay) runs in the real screen (Textual, headless) with its real session,
fed by a paced fake source: the agent's greeting from tests/fixtures/calls/silent.wav, then faint
hiss on both channels, delivered block by block as a sound card would (each 50 ms block once
its last sample has "played"). Each call gives three steps (12.76 s, 17.76 s, 22.76 s); calls
repeat until `--prompts` steps were shown. Due time on the wall clock = when the source started
+ the step's call time (the call starts with the source). Prints each delay, then the median
and the maximum. Target: at most 0.3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fakes import PacedFakeSource  # noqa: E402

from callassist.live.messages import Raised, SessionMessage  # noqa: E402
from callassist.live.session import CallSession, ChannelSource, Wiring  # noqa: E402
from callassist.scriptpack import load_pack  # noqa: E402
from callassist.settings import load_settings  # noqa: E402
from callassist.ui.app import CallAssistApp  # noqa: E402

CALL_SECONDS = 23.5
RATE = 16000


def call_audio() -> np.ndarray:
    samples, rate = soundfile.read(ROOT / "tests/fixtures/calls/silent.wav", dtype="float32")
    assert rate == RATE
    audio = np.random.default_rng(0).normal(0, 10 ** (-60 / 20), (round(CALL_SECONDS * RATE) + RATE, 2))
    audio = audio.astype(np.float32)
    audio[: 8 * RATE, 0] = samples[: 8 * RATE, 0]  # the greeting, 0.5-7.76 s; the caller stays silent
    return audio


class TimedApp(CallAssistApp):
    """The screen, noting when it applies each silent-caller step."""

    CSS_PATH = str(ROOT / "callassist/ui/app.tcss")  # a subclass's relative path would be read from here
    shown: list[tuple[int, float, float]]

    def apply(self, update: SessionMessage) -> None:
        super().apply(update)
        if isinstance(update, Raised) and update.event.id == "silent_caller":
            self.shown.append((update.event.step or 0, update.event.t, time.monotonic()))


async def one_call(audio: np.ndarray, settings, pack) -> list[float]:
    source = PacedFakeSource(audio, RATE, name="paced fake")
    session = CallSession([source], Wiring(ChannelSource(0, 0), ChannelSource(0, 1)), pack, settings)
    session.start_call()
    app = TimedApp(pack, settings, session)
    app.shown = []
    async with app.run_test(size=(80, 24)) as pilot:
        while len(app.shown) < 3 and app.call_time < CALL_SECONDS:
            await pilot.pause(0.05)
        await pilot.press("q")
    started = source._started_at  # the wall-clock moment stream time 0 played
    return [shown_at - (started + t) for _, t, shown_at in app.shown]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=20)
    args = parser.parse_args()
    settings = load_settings(None)
    pack = load_pack([], {"company": "平安", "agent": "三零二"})
    audio = call_audio()
    delays: list[float] = []
    while len(delays) < args.prompts:
        got = asyncio.run(one_call(audio, settings, pack))
        print("call:", " ".join(f"{d:.3f}" for d in got), "s", flush=True)
        delays += got
    delays = delays[: args.prompts]
    print(f"silent-caller step, due -> on screen, {len(delays)} prompts: "
          f"median {statistics.median(delays):.3f} s, max {max(delays):.3f} s (target 0.300 s)")


if __name__ == "__main__":
    main()
