"""Call statistics for the report, as QA expects from call analytics: talk time and share per
speaker, non-talk time, overlap, and speech level / noise / SNR per speaker and per utterance."""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from callassist.detectors.base import Detector
from callassist.inputs import SPEAKERS, LevelFrame, Speaker, SpeechEnded, SpeechStarted, Utterance


def _floats() -> array[float]:
    return array("d")


@dataclass
class ChannelLevels:
    """Voiced frames' levels and the noise floor, in time order, for one speaker's channel.
    Packed arrays (8 bytes a value, not a list's 32): a two-hour call keeps about 3 MB here."""

    times: array[float] = field(default_factory=_floats)
    levels: array[float] = field(default_factory=_floats)
    floors: array[float] = field(default_factory=_floats)
    noise: array[float] = field(default_factory=_floats)  # floors of unvoiced frames

    def voiced_between(self, start: float, end: float) -> tuple[array[float], array[float]]:
        lo, hi = bisect_left(self.times, start), bisect_right(self.times, end)
        return self.levels[lo:hi], self.floors[lo:hi]


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


class CallStatistics(Detector):
    """Observes the inputs like a detector, raises nothing."""

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.talk = {s: 0.0 for s in SPEAKERS}
        self.overlap = 0.0
        self.non_talk = 0.0
        self.speaking_since: dict[Speaker, float | None] = {s: None for s in SPEAKERS}
        self.last_change = 0.0
        self.channels = {s: ChannelLevels() for s in SPEAKERS}
        self.has_levels = False

    def _account(self, t: float) -> None:
        """Attribute the time since the last change of who speaks."""
        span = t - self.last_change
        if span > 0:
            active = [s for s in SPEAKERS if self.speaking_since[s] is not None]
            for speaker in active:
                self.talk[speaker] += span
            if len(active) > 1:
                self.overlap += span
            if not active and not self.state.on_hold:
                self.non_talk += span
        self.last_change = max(self.last_change, t)

    def on_speech_started(self, item: SpeechStarted) -> None:
        self._account(item.t)
        self.speaking_since[item.speaker] = item.t

    def on_speech_ended(self, item: SpeechEnded) -> None:
        self._account(item.t)
        self.speaking_since[item.speaker] = None

    def on_level(self, frame: LevelFrame) -> None:
        self.has_levels = True
        channel = self.channels[frame.speaker]
        if frame.voiced:
            channel.times.append(frame.t)
            channel.levels.append(frame.level_dbfs)
            channel.floors.append(frame.noise_floor_dbfs)
        else:
            channel.noise.append(frame.noise_floor_dbfs)

    def on_call_end(self, t: float) -> None:
        self._account(t)

    def utterance_levels(self, utterance: Utterance) -> tuple[float | None, float | None]:
        """Mean speech level and SNR over an utterance, from its speaker's channel."""
        if not self.has_levels:
            return None, None
        levels, floors = self.channels[utterance.speaker].voiced_between(utterance.start, utterance.end)
        if not levels:
            return None, None
        return _mean(levels), _mean([lv - fl for lv, fl in zip(levels, floors)])

    def speaker_levels(self, speaker: Speaker) -> tuple[float | None, float | None, float | None]:
        """Mean speech level, noise floor and their difference (SNR) of a speaker's channel."""
        channel = self.channels[speaker]
        floor = _mean(channel.noise or channel.floors)
        level = _mean(channel.levels)
        snr = round(level - floor, 1) if level is not None and floor is not None else None
        return level, floor, snr
