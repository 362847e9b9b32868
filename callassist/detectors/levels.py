"""The caller's voice and background levels as the acoustic detectors weigh them.

A single 100 ms LevelFrame says little on a real line: real speech swings by 20 dB within a
sentence (word tails, pauses inside a turn that the hangover keeps voiced), and a real noise
floor has dips that the analyser's running floor (a near-minimum, made for gating voice
activity) follows. So the detectors compare two power means over recent frames instead:

* voice: the caller's voiced frames of the last `voice_window` seconds of their speech;
* background: the median level of the caller channel's unvoiced frames of the last
  `background_window` seconds of them (the line while the caller is silent; the median, so that
  the frame where a turn ends, partly speech, does not count), which keeps its value while the
  caller talks.
"""

from __future__ import annotations

import math
from collections import deque

from callassist.inputs import LevelFrame


class CallerLevels:
    def __init__(self, voice_window: float, background_window: float) -> None:
        self._voice: deque[tuple[float, float]] = deque()  # (t, power)
        self._background: deque[tuple[float, float]] = deque()
        self._voice_window = voice_window
        self._background_window = background_window
        self._voice_time = 0.0  # seconds of voiced frames so far: the window's clock
        self._background_time = 0.0

    def add(self, frame: LevelFrame, dt: float) -> None:
        """Take in one of the caller channel's frames; `dt` is the time it stands for."""
        power = 10 ** (frame.level_dbfs / 10)
        if frame.voiced:
            self._voice_time += dt
            self._push(self._voice, self._voice_time, power, self._voice_window)
        else:
            self._background_time += dt
            self._push(self._background, self._background_time, power, self._background_window)

    @staticmethod
    def _push(window: deque[tuple[float, float]], clock: float, power: float, length: float) -> None:
        window.append((clock, power))
        while window[0][0] <= clock - length + 1e-9:
            window.popleft()

    @property
    def voice_dbfs(self) -> float | None:
        return _mean_dbfs(self._voice)

    @property
    def background_dbfs(self) -> float | None:
        if not self._background:
            return None
        levels = sorted(power for _, power in self._background)
        middle = len(levels) // 2
        median = levels[middle] if len(levels) % 2 else (levels[middle - 1] + levels[middle]) / 2
        return 10 * math.log10(max(median, 1e-10))

    @property
    def snr_db(self) -> float | None:
        """The voice over the background (None until both were heard)."""
        voice, background = self.voice_dbfs, self.background_dbfs
        return None if voice is None or background is None else voice - background


def _mean_dbfs(window: deque[tuple[float, float]]) -> float | None:
    if not window:
        return None
    return 10 * math.log10(max(sum(power for _, power in window) / len(window), 1e-10))
