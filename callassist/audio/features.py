"""Streaming acoustic features of one channel: voice activity, level, noise floor and pitch.

Everything is decided per 20 ms frame, and partial frames are held until they are complete, so
the output does not depend on how the audio is cut into chunks.

Timing. Every output carries `t`, the stream time at which it holds (counted in samples from
the start of the channel), but some of it can only be decided a little later in the stream:

* SpeechStarted.t is the start of the first voiced frame of the segment. A stretch of voiced
  frames is only proposed by webrtcvad and the level gates; it starts speech once the learned
  model confirms it (`speech_confirm`), at most `confirm_window` (400 ms) after its t. A stretch
  that ends unconfirmed was noise: no event at all.
* SpeechEnded.t is the end of the last voiced frame that went on with the turn (a loud one, or a
  weak one the model heard as speech: `_follow`). It is emitted once `hangover` (400 ms) of
  frames that do not go on with it has followed, so exactly `hangover` after its t (at once at
  the end of stream).
* LevelFrame.t is the end of its report interval, and `voiced` says whether speech goes on
  through t, which depends on the decisions above. So a LevelFrame is held back until the frames
  on both sides of its t are decided: normally it is emitted one frame (20 ms) after its t, while
  an onset may be confirmed up to `confirm_window` after, during a pause in speech up to `hangover` after.

`MAX_DECISION_DELAY` bounds all of these: what is emitted for t comes at most that long after t.
Most decisions come sooner, and `ChannelAnalyzer.settled_until` says exactly how far the output
is complete (every output still to come has t at or after it); the call pipeline judges up to it,
so text the recogniser has is shown once the analysis has settled up to it: during voiced speech
at once, in a pause when the turn goes on or ends.

So the output of each `feed` call, and the concatenation of all of them, is sorted by
`callassist.inputs.input_sort_key`, and LevelFrame.voiced always agrees with the speech state
that the SpeechStarted/SpeechEnded events before it describe: at a shared t, an end comes
before the LevelFrame, and the LevelFrame before a start.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

# webrtcvad-wheels' C module, driven directly: its `webrtcvad` wrapper looks its own version up
# through importlib.metadata when imported (20 ms of every start-up) and adds a call per frame.
import _webrtcvad
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from callassist.audio.recording import ChannelMap, Recording
from callassist.audio.speech_confirm import SpeechConfirmer
from callassist.inputs import SPEAKERS, EngineInput, LevelFrame, Speaker, SpeechEnded, SpeechStarted, input_sort_key

FRAME_SECONDS = 0.02
"""Length of the analysis frame: one of the three webrtcvad accepts (10, 20, 30 ms)."""
VAD_RATES = (8000, 16000)
"""Rates analysed as they are; anything else is resampled to 16 kHz first."""
RESAMPLE_RATE = 16000
PITCH_RATE = 4000
"""Rate the pitch is estimated at: enough for the 60–400 Hz speaking range and cheap."""
SILENCE_DBFS = -100.0
"""Level reported for digital silence (the log of zero)."""
SILENCE_ENERGY = 10 ** (SILENCE_DBFS / 10)
MAX_DECISION_DELAY = 0.42
"""Seconds after t by which every input for t is emitted (with the default settings: the
hangover or the confirmation window, plus one frame)."""


@dataclass(frozen=True)
class AnalyzerSettings:
    """How a channel's audio is turned into speech activity and levels."""

    report_interval: float = 0.1
    """Seconds between LevelFrames; a whole number of 20 ms frames."""
    vad_mode: int = 2
    """webrtcvad aggressiveness 0–3. Modes 0 and 1 call steady noise speech; 3 drops quiet speech."""
    min_snr_db: float = 6.0
    """A voiced frame is at least this much louder than the running noise floor."""
    min_level_dbfs: float = -60.0
    """A voiced frame is at least this loud, whatever the noise floor."""
    onset_window_frames: int = 5
    """Speech starts when `onset_voiced_frames` of the last this-many frames are voiced."""
    onset_voiced_frames: int = 3
    """3 of 5: a click or a single noise frame does not start speech, a syllable does within 60 ms."""
    confirm_speech: bool = True
    """A proposed stretch is speech only once Silero VAD confirms it (False: webrtcvad alone,
    which takes the 60-240 ms bumps of a real room's noise floor for speech)."""
    confirm_probability: float = 0.5
    confirm_chunks: int = 2
    """The stretch is speech once this many of Silero's 32 ms chunks reach `confirm_probability`
    (one is not enough: a knock in a real room's noise scores just over 0.5 for one chunk)."""
    follow_probability: float = 0.2
    follow_weak_db: float = 6.0
    follow_reference_frames: int = 25
    follow_warmup: float = 0.192
    """Once a turn is confirmed, a voiced frame within `follow_weak_db` of the loudest of the
    turn's last `follow_reference_frames` such (strong) frames goes on with it; a weaker one does
    only once the model hears speech after its start with at least `follow_probability`. The
    model runs only when the turn would otherwise end (`hangover` after the last frame that went
    on with it), from a fresh state `follow_warmup` before the first weak frame, at the onset's
    gain, and goes on (run whenever the turn would end again) until the next strong frame. (Live,
    `ChannelAnalyzer(live=True)`, it hears weak frames as they come: the same decisions, sooner.)
    After the last word, bumps of a real room's noise 10-15 dB under the voice keep webrtcvad
    voiced for seconds, never the model; and running the model on every chunk of a turn would
    cost three times the rest of the analysis."""
    follow_weak_db_8k: float = 18.0
    """`follow_weak_db` at 8 kHz, where the model scores some clear telephone-band speech under
    0.2 mid-sentence (FunASR test.pcm: 0.05-0.2 for a second): with 6 dB there it cut turns short
    (speech recall 0.951 instead of 0.995; 15 dB: 0.975, 18 dB: 0.984), while 18 dB still ends a
    turn when only a noise event 20-40 dB under the voice goes on (20 dB cut a quiet caller's
    last word)."""
    confirm_window: float = 0.4
    """Seconds after a voiced frame within which confirmation may still make it the onset;
    a stretch is confirmed within 0.07 s of its onset for half of real utterances, 0.2 s for 90%."""
    confirm_level_dbfs: float = -35.0
    confirm_max_gain_db: float = 20.0
    """The model hears a stretch raised (never lowered) by up to `confirm_max_gain_db` so that the
    loudest of its onset frames is at `confirm_level_dbfs`: its speech probability falls with the
    level (0.95 for a voice at -28 dBFS, under 0.4 for the same voice at -48)."""
    confirm_warmup: float = 0.064
    """Seconds of audio before the onset that the model hears first (from a fresh state)."""
    confirm_warmup_8k: float = 0.192
    """The same at 8 kHz, where the model needs longer to settle: with 64 ms it confirms only
    two thirds of the speech of some telephone-band clips, with 192 ms all but 4%."""
    hangover: float = 0.4
    """Seconds of unvoiced frames before speech ends, so pauses within a sentence stay speech
    (a comma pause over 8 dB SNR noise measures up to 0.36 s once its faint edges fall under the gate)."""
    steady_window: float = 0.3
    steady_spread_db: float = 4.0
    """A frame is steady background, never speech, when the frame levels of the last
    `steady_window` seconds lie within this many dB: webrtcvad takes a sudden steady noise for
    speech for seconds, while speech swings by more (7 dB or more over 0.3 s, even at 10 dB SNR)."""
    noise_rise_time: float = 1.0
    """Time constant (s) with which the noise floor follows unvoiced frames louder than it,
    outside a confirmed turn. Inside one, such frames are mostly the talker's own soft syllables
    and word tails: in continuous read speech they pulled the floor to within 6 dB of the voice
    and cut the last words short (1% of the speech frames of the real clips at 16 kHz). A
    background that rises during a turn is still followed, by the quietest-frame bound
    (`noise_min_window`) and by steady frames."""
    noise_min_window: float = 1.5
    """The floor is never below the quietest frame of the last this-many seconds: speech dips to
    the floor between words, but street music that webrtcvad takes for speech (which freezes the
    floor) would otherwise hold it far below the real background, and itself counts as speech."""
    noise_fall_time: float = 0.05
    """Time constant (s) with which it follows unvoiced frames quieter than it, and steady ones."""
    pitch_min_hz: float = 60.0
    pitch_max_hz: float = 400.0
    pitch_min_correlation: float = 0.5
    """Normalised autocorrelation at the period below which a frame has no pitch."""

    def __post_init__(self) -> None:
        frames = self.report_interval / FRAME_SECONDS
        if round(frames) < 1 or abs(frames - round(frames)) > 1e-6:
            raise ValueError(f"report_interval must be a whole number of {FRAME_SECONDS} s frames")
        if self.vad_mode not in range(4):
            raise ValueError("vad_mode must be 0, 1, 2 or 3")
        if not 1 <= self.onset_voiced_frames <= self.onset_window_frames:
            raise ValueError("onset_voiced_frames must be between 1 and onset_window_frames")
        if self.confirm_chunks < 1:
            raise ValueError("confirm_chunks must be at least 1")
        if not 0 < self.confirm_probability < 1:
            raise ValueError("confirm_probability must lie between 0 and 1")
        if not FRAME_SECONDS <= self.confirm_window <= MAX_DECISION_DELAY - FRAME_SECONDS + 1e-9:
            longest = MAX_DECISION_DELAY - FRAME_SECONDS
            raise ValueError(f"confirm_window must lie within {FRAME_SECONDS} to {longest:.2f} s")
        if not (0 <= self.confirm_warmup <= 0.25 and 0 <= self.confirm_warmup_8k <= 0.25):
            raise ValueError("confirm_warmup and confirm_warmup_8k must lie within 0 to 0.25 s")
        if not 50 <= self.pitch_min_hz < self.pitch_max_hz <= PITCH_RATE / 2:
            raise ValueError(f"pitch range must lie within 50 Hz to {PITCH_RATE // 2} Hz")


class _PendingReport(NamedTuple):
    """A LevelFrame whose `voiced` waits for the decision on the frame after `frame`."""

    frame: int
    t: float
    level_dbfs: float
    noise_floor_dbfs: float
    pitch_hz: float | None


class ChannelAnalyzer:
    """Turns one channel's samples into SpeechStarted, SpeechEnded and LevelFrame inputs."""

    def __init__(
        self, speaker: Speaker, sample_rate: int, settings: AnalyzerSettings = AnalyzerSettings(), *, live: bool = False
    ) -> None:
        """`live`: a screen waits for the decisions (`settled_until`), so the weak voiced frames
        of a turn are heard as they come instead of only when the turn would otherwise end: the
        same decisions, up to `hangover` sooner, for 1.7x the analysis CPU on the fixture calls
        (0.0074 against 0.0044 CPU seconds per second of audio)."""
        if speaker not in SPEAKERS:
            raise ValueError(f"speaker must be one of {SPEAKERS}, not {speaker!r}")
        if sample_rate < VAD_RATES[0]:
            raise ValueError(f"sample rate {sample_rate} Hz is below {VAD_RATES[0]} Hz")
        self.speaker: Speaker = speaker
        self.settings = settings
        self._live = live
        self._resampler = None
        if sample_rate not in VAD_RATES:
            import soxr  # imported only here: 8 and 16 kHz recordings, the usual ones, never need it

            # soxr's stream output is aligned with the input (no delay) and the same however the input is chunked.
            self._resampler = soxr.ResampleStream(sample_rate, RESAMPLE_RATE, 1, dtype="float32", quality="HQ")
        self._rate = sample_rate if sample_rate in VAD_RATES else RESAMPLE_RATE
        self._frame_length = round(self._rate * FRAME_SECONDS)
        self._vad = _webrtcvad.create()
        _webrtcvad.init(self._vad)
        _webrtcvad.set_mode(self._vad, settings.vad_mode)
        self._frames_per_report = round(settings.report_interval / FRAME_SECONDS)
        self._hangover_frames = round(settings.hangover / FRAME_SECONDS)
        self._steady_frames = max(1, round(settings.steady_window / FRAME_SECONDS))
        self._noise_rise = 1 - math.exp(-FRAME_SECONDS / settings.noise_rise_time)
        self._min_frames = max(1, round(settings.noise_min_window / FRAME_SECONDS))
        self._noise_fall = 1 - math.exp(-FRAME_SECONDS / settings.noise_fall_time)
        self._pitch = _PitchEstimator(settings)
        self._confirmer = (
            SpeechConfirmer(self._rate, settings.confirm_probability, settings.confirm_chunks)
            if settings.confirm_speech
            else None
        )
        self._confirm_window_frames = round(settings.confirm_window / FRAME_SECONDS)
        warmup = settings.confirm_warmup_8k if self._rate == 8000 else settings.confirm_warmup
        self._warmup_samples = round(warmup * self._rate)
        self._follow_warmup_samples = round(settings.follow_warmup * self._rate)
        self._follow_weak_db = settings.follow_weak_db_8k if self._rate == 8000 else settings.follow_weak_db
        self._history_samples = round(0.5 * self._rate) + max(self._warmup_samples, self._follow_warmup_samples)
        self._history = np.zeros(0, dtype=np.float32)
        self._onset_levels: deque[float] = deque(maxlen=settings.onset_window_frames)  # of the last frames
        self._history_start = 0  # sample index of _history[0]

        self._partial_frame = np.zeros(0, dtype=np.float32)
        self._previous_decimated_frame = np.zeros(round(PITCH_RATE * FRAME_SECONDS))
        self._frame_count = 0
        self._noise_floor = SILENCE_DBFS  # set from the first frame's level
        self._previous_levels = np.zeros(0)  # the levels of the last steady_window frames but one
        self._quiet_history = np.zeros(0)  # the levels of the last noise_min_window frames but one
        self._finished = False
        self._output: list[EngineInput] = []

        # Voice activity. Frames before `_decided_until` are known to be inside a speech
        # segment or not; `_last_decided_in_speech` is the answer for the last of them.
        # A proposed stretch waits for confirmation (`_proposed`), then is speech (`_speaking`).
        self._speaking = False
        self._proposed = False
        self._stretch_voiced: deque[int] = deque()  # voiced frames of the proposed stretch, undecided
        self._last_voiced_frame = -1
        self._heard_until = 0  # end sample of the last chunk the model heard as speech in this turn
        self._unheard_voiced: deque[int] = deque()  # weak voiced frames of the turn the model has not yet heard
        self._strong_levels: deque[float] = deque(maxlen=settings.follow_reference_frames)
        self._turn_gain_db = 0.0  # the gain the model heard the turn's onset at
        self._recent_voiced_frames: deque[int] = deque()  # voiced frames in the onset window
        self._decided_until = 0
        self._last_decided_in_speech = False
        self._pending_reports: deque[_PendingReport] = deque()

        # The report interval being accumulated.
        self._interval_energy = 0.0
        self._interval_frames = 0
        self._interval_pitches: list[float] = []

    def feed(self, samples: np.ndarray) -> list[EngineInput]:
        """Analyse the next samples (mono, float in [-1, 1], any length); return what is decided."""
        if self._finished:
            raise RuntimeError("feed() after flush()")
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples of shape (n,), got shape {samples.shape}")
        if self._resampler is not None:
            samples = self._resampler.resample_chunk(samples)
        self._analyse(samples)
        return self._take_output()

    @property
    def settled_until(self) -> float:
        """Stream time before which every output has been emitted: whatever `feed` or `flush`
        returns from now on has t >= this (an output at exactly this t may still come). It is the
        start of the first frame not yet known to be in speech or not (`_decide`), and every
        output still to come is about such a frame: a LevelFrame waits for the frame after its t;
        a turn in its hangover ends (if it does) at the end of its last voiced frame, where the
        decided frames stop until it goes on or ends; a stretch awaiting confirmation starts (if
        it does) at its onset, where they stop until it is confirmed or dropped; before that, a
        turn may start at the first voiced frame of the onset window; otherwise at the next frame
        to analyse, where `flush` also closes the report interval being accumulated. So after a
        voiced frame that goes on with a turn it is the end of the audio analysed (the audio fed
        less a partial frame; at a resampled rate, what the resampler has given out), and it is
        never a report interval or more before the next output. Infinite after `flush`."""
        return math.inf if self._finished else self._time(self._decided_until)

    @property
    def hearing(self) -> bool:
        """The speech-confirmation model is hearing a stretch (this channel holds a model)."""
        return self._confirmer is not None and self._confirmer.running

    def reserve_model(self) -> None:
        """Load the speech-confirmation model now and hold it to the end of the stream (a live
        call: its first words must not wait for a model to load); otherwise one is borrowed
        for each stretch heard."""
        if self._confirmer is not None:
            self._confirmer.reserve()

    def flush(self) -> list[EngineInput]:
        """End of the stream: decide everything still open. A last partial frame (< 20 ms) is dropped."""
        if self._finished:
            return []
        if self._resampler is not None:
            self._analyse(self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
        self._finished = True
        if self._interval_frames:
            self._close_interval(self._frame_count - 1)
        if self._speaking:
            self._end_speech()
        self._end_proposal()
        if self._confirmer is not None:
            self._confirmer.close()
        self._decide(self._frame_count + 1, in_speech=False)  # the frame after the end is silent
        return self._take_output()

    def _take_output(self) -> list[EngineInput]:
        output, self._output = self._output, []
        return output

    def _time(self, frame: int) -> float:
        return frame * self._frame_length / self._rate

    def _analyse(self, samples: np.ndarray) -> None:
        buffered = np.concatenate((self._partial_frame, samples)) if len(self._partial_frame) else samples
        count = len(buffered) // self._frame_length
        whole = count * self._frame_length
        self._partial_frame = buffered[whole:].copy()
        if count:
            self._analyse_frames(buffered[:whole].reshape(count, self._frame_length))

    def _analyse_frames(self, frames: np.ndarray) -> None:
        """Vectorised per-frame measurements, then the frame-by-frame decisions."""
        settings = self.settings
        samples = frames.astype(np.float64)
        energies = np.einsum("ij,ij->i", samples, samples) / self._frame_length
        levels = 10 * np.log10(np.maximum(energies, SILENCE_ENERGY))
        if self._frame_count == 0:
            self._noise_floor = float(levels[0])
            # Repeating the first level: the spread of a window at the start is that of the frames so far.
            self._previous_levels = np.full(self._steady_frames - 1, levels[0])
            self._quiet_history = np.full(self._min_frames - 1, SILENCE_DBFS)  # no history: no lower bound yet
        recent_levels = sliding_window_view(np.concatenate((self._previous_levels, levels)), self._steady_frames)
        steady = recent_levels.max(axis=1) - recent_levels.min(axis=1) < settings.steady_spread_db
        self._previous_levels = np.concatenate((self._previous_levels, levels))[len(levels) :]
        history = np.concatenate((self._quiet_history, levels))
        quietest_levels = sliding_window_view(history, self._min_frames).min(axis=1).tolist()
        self._quiet_history = history[len(history) - (self._min_frames - 1) :] if self._min_frames > 1 else history[:0]

        pcm = np.clip(np.rint(frames * 32768), -32768, 32767).astype(np.int16).tobytes()
        vad, rate, length, pcm_frame, is_speech = self._vad, self._rate, self._frame_length, 2 * self._frame_length, _webrtcvad.process
        vad_speech = [is_speech(vad, rate, pcm[start : start + pcm_frame], length) for start in range(0, len(pcm), pcm_frame)]
        # Everything a voiced frame needs except the margin over the noise floor, which is sequential.
        may_be_voiced = np.array(vad_speech) & ~steady & (levels >= settings.min_level_dbfs)

        # Pitch of those frames, each over itself and the frame before, at PITCH_RATE.
        # Boxcar low-pass: the sum of each run of samples, added up run position by position (the
        # order numpy's sum over that short axis takes, at an eighth of its time).
        runs = samples.reshape(len(samples), -1, self._rate // PITCH_RATE)
        decimated = runs[:, :, 0].copy()
        for position in range(1, runs.shape[2]):
            decimated += runs[:, :, position]
        with_previous = np.concatenate((self._previous_decimated_frame, decimated.reshape(-1)))
        self._previous_decimated_frame = decimated[-1]
        candidates = np.flatnonzero(may_be_voiced)
        pitches = np.full(len(frames), np.nan)
        if len(candidates):
            pitch_frame = decimated.shape[1]
            windows = sliding_window_view(with_previous, 2 * pitch_frame)[::pitch_frame]
            pitches[candidates] = self._pitch.estimate(windows[candidates])

        if self._confirmer is not None:
            self._history = np.concatenate((self._history, frames.reshape(-1)))

        noise_floor = self._noise_floor
        min_snr_db = settings.min_snr_db
        confirming = self._confirmer is not None
        measurements = zip(
            levels.tolist(), energies.tolist(), may_be_voiced.tolist(), steady.tolist(), pitches.tolist(), quietest_levels
        )
        for level, energy, may_be, is_steady, pitch, quietest in measurements:
            frame = self._frame_count
            voiced = may_be and level >= noise_floor + min_snr_db
            self._onset_levels.append(level)
            if not voiced:
                if is_steady or level < noise_floor:
                    noise_floor += (level - noise_floor) * self._noise_fall
                elif not (confirming and self._speaking):  # not inside a confirmed turn: `noise_rise_time`
                    noise_floor += (level - noise_floor) * self._noise_rise
            noise_floor = max(noise_floor, quietest)
            self._noise_floor = noise_floor
            self._update_activity(frame, voiced, level)

            self._interval_energy += energy
            self._interval_frames += 1
            if voiced and pitch == pitch:  # not NaN
                self._interval_pitches.append(pitch)
            if self._interval_frames == self._frames_per_report:
                self._close_interval(frame)
            self._frame_count += 1

        if self._confirmer is not None and len(self._history) > self._history_samples:
            drop = len(self._history) - self._history_samples
            self._history = self._history[drop:]
            self._history_start += drop

    def _update_activity(self, frame: int, voiced: bool, level: float) -> None:
        """An onset needs enough voiced frames in a short window and then confirmation; the end
        needs a hangover of unvoiced frames."""
        if self._speaking and self._confirmer is not None:
            self._follow(frame, voiced, level)
            return
        if self._speaking:
            if voiced:
                self._decide(frame + 1, in_speech=True)
                self._last_voiced_frame = frame
            elif frame - self._last_voiced_frame >= self._hangover_frames:
                self._end_speech()
                self._decide(frame + 1, in_speech=False)
            return
        if self._proposed:
            if voiced:
                self._last_voiced_frame = frame
                self._stretch_voiced.append(frame)
            self._confirm(frame)
            return
        recent = self._recent_voiced_frames
        if voiced:
            recent.append(frame)
        while recent and recent[0] <= frame - self.settings.onset_window_frames:
            recent.popleft()
        if len(recent) < self.settings.onset_voiced_frames:
            # Only the frames from the first voiced one in the window may still start speech.
            self._decide(recent[0] if recent else frame + 1, in_speech=False)
            return
        onset = recent[0]
        self._decide(onset, in_speech=False)
        self._last_voiced_frame = frame
        if self._confirmer is None:
            recent.clear()
            self._start_speech(onset, frame)
            return
        self._proposed = True
        self._stretch_voiced = deque(recent)
        recent.clear()
        gain = min(max(self.settings.confirm_level_dbfs - max(self._onset_levels), 0.0), self.settings.confirm_max_gain_db)
        self._turn_gain_db = gain
        self._confirmer.start(onset * self._frame_length - self._warmup_samples, gain)
        self._confirm(frame)

    def _confirm(self, frame: int) -> None:
        """A proposed stretch, up to and including `frame`: confirmed, over, or still waiting."""
        assert self._confirmer is not None
        stretch = self._stretch_voiced
        # A voiced frame older than the window can no longer be the onset.
        while stretch and stretch[0] <= frame - self._confirm_window_frames:
            stretch.popleft()
        if not stretch or frame - self._last_voiced_frame >= self._hangover_frames:
            self._end_proposal()  # it never sounded like speech: noise
            self._decide(frame + 1, in_speech=False)
        elif self._confirmer.advance(self._history, self._history_start, (frame + 1) * self._frame_length):
            onset = stretch[0]
            self._proposed = False  # the model goes on hearing the turn (`_follow`)
            stretch.clear()
            self._start_speech(onset, frame)
        else:
            self._decide(stretch[0], in_speech=False)

    def _follow(self, frame: int, voiced: bool, level: float) -> None:
        """A confirmed turn goes on through a strong voiced frame, and through a weak one once
        the model hears speech after its start; it ends `hangover` after the last such frame."""
        confirmer = self._confirmer
        assert confirmer is not None
        strong = self._strong_levels
        if voiced and (not strong or level >= max(strong) - self._follow_weak_db):
            strong.append(level)
            self._unheard_voiced.clear()  # speech goes on past them
            confirmer.stop()
            self._last_voiced_frame = frame
            self._decide(frame + 1, in_speech=True)
            return
        unheard = self._unheard_voiced
        if voiced:
            unheard.append(frame)
        if unheard and (self._live or frame - self._last_voiced_frame >= self._hangover_frames):
            # Only now, when the turn would end without them, does the model hear the weak frames
            # (live: at once, so that what waits for the decision need not wait for the hangover).
            # It then goes on with the turn until the next strong frame, but is run only when the
            # turn would end again (live: while a weak frame is unheard): its chunks run in order
            # all the same, so the answers do not change, and the chunks up to a strong frame
            # that comes first are never run.
            if not confirmer.running:
                confirmer.start(unheard[0] * self._frame_length - self._follow_warmup_samples, self._turn_gain_db)
                self._heard_until = 0
            # Once a chunk is heard after the last weak frame's start, all of them go on with the
            # turn, and the chunks after it can wait: for the next call, which comes within
            # `hangover` (their audio is still in the history), or for a strong frame first,
            # which ends the model's run. 21% fewer chunks on the 1-minute benchmark call.
            heard = confirmer.follow(
                self._history, self._history_start, (frame + 1) * self._frame_length, self.settings.follow_probability,
                enough=unheard[-1] * self._frame_length,
            )
            if heard is not None:
                self._heard_until = heard
            last = self._last_voiced_frame
            while unheard and unheard[0] * self._frame_length < self._heard_until:
                last = unheard.popleft()
            if last != self._last_voiced_frame:
                self._last_voiced_frame = last
                self._decide(last + 1, in_speech=True)
        if frame - self._last_voiced_frame >= self._hangover_frames:
            self._end_speech()
            self._decide(frame + 1, in_speech=False)

    def _start_speech(self, onset: int, frame: int) -> None:
        self._decide(onset, in_speech=False)
        self._decide(onset + 1, in_speech=True)
        self._output.append(SpeechStarted(t=self._time(onset), speaker=self.speaker))
        self._decide(frame + 1, in_speech=True)
        self._speaking = True
        self._last_voiced_frame = frame  # decided: speech goes on through it
        self._strong_levels.clear()
        self._strong_levels.extend(self._onset_levels)
        if self._confirmer is not None:
            self._confirmer.stop()

    def _end_proposal(self) -> None:
        self._proposed = False
        self._stretch_voiced.clear()
        if self._confirmer is not None:
            self._confirmer.stop()

    def _end_speech(self) -> None:
        """Close the segment at the end of its last voiced frame (before that frame's LevelFrame)."""
        self._output.append(SpeechEnded(t=self._time(self._last_voiced_frame + 1), speaker=self.speaker))
        self._speaking = False
        self._unheard_voiced.clear()
        if self._confirmer is not None:
            self._confirmer.stop()

    def _decide(self, until_frame: int, in_speech: bool) -> None:
        """Frames up to `until_frame` (exclusive) are now known; release the LevelFrames this settles.

        A LevelFrame at the end of frame k is voiced when frames k and k + 1 are both in speech:
        at its t, speech neither ends nor starts.
        """
        first = self._decided_until
        if until_frame <= first:
            return
        pending = self._pending_reports
        while pending and pending[0].frame + 1 < until_frame:
            report = pending.popleft()
            frame_in_speech = self._last_decided_in_speech if report.frame < first else in_speech
            self._output.append(
                LevelFrame(
                    t=report.t,
                    speaker=self.speaker,
                    voiced=frame_in_speech and in_speech,
                    level_dbfs=report.level_dbfs,
                    noise_floor_dbfs=report.noise_floor_dbfs,
                    pitch_hz=report.pitch_hz,
                )
            )
        self._last_decided_in_speech = in_speech
        self._decided_until = until_frame

    def _close_interval(self, last_frame: int) -> None:
        mean_energy = self._interval_energy / self._interval_frames
        self._pending_reports.append(
            _PendingReport(
                frame=last_frame,
                t=self._time(last_frame + 1),
                level_dbfs=10 * math.log10(max(mean_energy, SILENCE_ENERGY)),
                noise_floor_dbfs=self._noise_floor,
                pitch_hz=_median(self._interval_pitches) if self._interval_pitches else None,
            )
        )
        self._interval_energy = 0.0
        self._interval_frames = 0
        self._interval_pitches = []


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


class _PitchEstimator:
    """F0 by normalised autocorrelation of 40 ms windows at 4 kHz, many windows at once."""

    def __init__(self, settings: AnalyzerSettings) -> None:
        self._min_lag = math.floor(PITCH_RATE / settings.pitch_max_hz)
        self._max_lag = math.ceil(PITCH_RATE / settings.pitch_min_hz)
        self._min_correlation = settings.pitch_min_correlation

    def estimate(self, windows: np.ndarray) -> np.ndarray:
        """F0 in Hz for each row of `windows` (samples at PITCH_RATE), NaN where there is none."""
        x = windows - windows.mean(axis=1, keepdims=True)
        x = 0.25 * x[:, :-2] + 0.5 * x[:, 1:-1] + 0.25 * x[:, 2:]  # low-pass: formants blur the period
        length = x.shape[1]
        lags = np.arange(self._max_lag + 2)
        fft_length = 1 << (length + len(lags)).bit_length()
        spectrum = np.fft.rfft(x, fft_length, axis=1)
        autocorrelation = np.fft.irfft(spectrum.real**2 + spectrum.imag**2, fft_length, axis=1)[:, : len(lags)]
        cumulative = np.cumsum(x * x, axis=1)
        head_energy = cumulative[:, length - 1 - lags]  # x[0 : length - lag]
        tail_energy = cumulative[:, -1:] - np.hstack((np.zeros((len(x), 1)), cumulative[:, lags[1:] - 1]))
        correlation = autocorrelation / np.sqrt(head_energy * tail_energy + 1e-20)

        band = correlation[:, self._min_lag - 1 :]  # column c + 1 is lag min_lag + c
        centre = band[:, 1:-1]
        peaks = np.where((centre > band[:, :-2]) & (centre >= band[:, 2:]), centre, -np.inf)
        best = peaks.max(axis=1)
        # The shortest lag nearly as good as the best: the best is often a multiple of the period.
        chosen = np.argmax(peaks >= 0.9 * best[:, None], axis=1)
        rows = np.arange(len(x))
        before, at, after = band[rows, chosen], band[rows, chosen + 1], band[rows, chosen + 2]
        curvature = before - 2 * at + after
        offset = np.divide(0.5 * (before - after), curvature, out=np.zeros_like(at), where=curvature < 0)
        lag = self._min_lag + chosen + offset
        return np.where(best >= self._min_correlation, PITCH_RATE / lag, np.nan)


def analyze_recording(
    recording: Recording,
    channels: ChannelMap,
    settings: AnalyzerSettings = AnalyzerSettings(),
    block_seconds: float = 2.0,
) -> list[EngineInput]:
    """Analyse the mapped channels of a recording; the inputs of both, merged in stream order."""
    analyzers = {
        channel: ChannelAnalyzer(speaker, recording.sample_rate, settings)
        for speaker, channel in (("agent", channels.agent), ("caller", channels.caller))
        if channel is not None
    }
    inputs: list[EngineInput] = []
    for block in recording.blocks(block_seconds):
        for channel, analyzer in analyzers.items():
            inputs.extend(analyzer.feed(block[:, channel]))
    for analyzer in analyzers.values():
        inputs.extend(analyzer.flush())
    inputs.sort(key=input_sort_key)
    return inputs
