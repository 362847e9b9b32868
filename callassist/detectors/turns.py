"""Which stretches of speech count as someone talking, for the silence checks.

A confirmed stretch of speech shorter than `min_turn` (a knock or a click that got past the
voice test, a lip smack) neither resets a silence count nor ends one: a turn counts once it
has lasted `min_turn`, which is known at its end or at the first frame after that long.
"""

from __future__ import annotations

from callassist.inputs import SPEAKERS, LevelFrame, Speaker, SpeechEnded, SpeechStarted


class Turns:
    def __init__(self, min_turn: float) -> None:
        self.min_turn = min_turn
        self._start: dict[Speaker, float | None] = {s: None for s in SPEAKERS}
        self.counted: dict[Speaker, bool] = {s: False for s in SPEAKERS}

    def started(self, item: SpeechStarted) -> None:
        self._start[item.speaker] = item.t
        self.counted[item.speaker] = False

    def lasted(self, frame: LevelFrame) -> list[Speaker]:
        """The speakers whose current stretch became a turn by `frame.t`."""
        return [s for s in SPEAKERS if self._becomes_turn(s, frame.t)]

    def ended(self, item: SpeechEnded) -> bool:
        """The stretch is over; True when it first counts as a turn now."""
        new = self._becomes_turn(item.speaker, item.t)
        self._start[item.speaker] = None
        return new

    def talking(self, speaker: Speaker) -> bool:
        """A turn of `speaker` is going on and counts."""
        return self._start[speaker] is not None and self.counted[speaker]

    def _becomes_turn(self, speaker: Speaker, t: float) -> bool:
        start = self._start[speaker]
        if start is None or self.counted[speaker] or t - start < self.min_turn - 1e-9:
            return False
        self.counted[speaker] = True
        return True
