"""What the engine consumes: a stream-time-ordered flow of speech activity, text and levels.

Every input carries `t`, the stream time in seconds from the start of the call at which a live
assistant would know it. Live audio, a recording and a transcript all become these inputs, so
the detectors never see where the data came from and never read the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Speaker = Literal["agent", "caller"]
SPEAKERS: tuple[Speaker, ...] = ("agent", "caller")


@dataclass(frozen=True)
class Word:
    """A recognised word with its times (s) and the recogniser's confidence where it gives one."""

    word: str
    start: float
    end: float
    conf: float | None = None


@dataclass(frozen=True)
class Utterance:
    """A speaker's final text between two times (s): from a transcript or the recogniser."""

    speaker: Speaker
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    line: int | None = None  # line in the transcript file, when it came from one

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SpeechStarted:
    """A speaker starts speaking at `t` (from the audio, or a transcript without it)."""

    t: float
    speaker: Speaker


@dataclass(frozen=True)
class SpeechEnded:
    """A speaker stops speaking at `t`."""

    t: float
    speaker: Speaker


@dataclass(frozen=True)
class UtteranceHeard:
    """Recognised text arrives. `final` is False for a partial result that may still change;
    partials of one utterance share `key` with its final result."""

    t: float
    utterance: Utterance
    final: bool = True
    key: str = ""


@dataclass(frozen=True)
class LevelFrame:
    """Acoustic features of one analysis frame of one channel (from audio only)."""

    t: float
    speaker: Speaker
    voiced: bool  # voice activity after hangover smoothing
    level_dbfs: float  # RMS level of this frame
    noise_floor_dbfs: float  # running estimate of the channel's background level
    pitch_hz: float | None = None


@dataclass(frozen=True)
class HoldChanged:
    """The agent put the caller on hold or resumed, by key press (live UI)."""

    t: float
    on_hold: bool


@dataclass(frozen=True)
class AudioMissing:
    """A device stopped delivering audio (unplugged) from `t`, or delivers again. The silence
    it leaves is no evidence that nobody speaks: the silence checks pause, as on hold."""

    t: float
    missing: bool


@dataclass(frozen=True)
class ManualSituation:
    """The agent pressed a situation key (silent, quiet, noisy, dialect, angry)."""

    t: float
    situation: str


EngineInput = (
    SpeechStarted | SpeechEnded | UtteranceHeard | LevelFrame | HoldChanged | AudioMissing | ManualSituation
)

# At equal times, ends go before text, text before starts: an utterance's final text arrives
# when its speech ends, and a turn change at one instant is an end followed by a start.
INPUT_ORDER: dict[type, int] = {
    SpeechEnded: 0,
    LevelFrame: 1,
    UtteranceHeard: 2,
    HoldChanged: 3,
    AudioMissing: 3,
    ManualSituation: 3,
    SpeechStarted: 4,
}


def input_sort_key(item: EngineInput) -> tuple[float, int]:
    return (item.t, INPUT_ORDER[type(item)])
