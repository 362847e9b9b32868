#!/usr/bin/env python3
"""Compose stereo test calls from the real recorded voices and noises in ../shared/realaudio.

    python tests/realaudio/make_calls.py OUT_DIR            # 16 kHz PCM and 8 kHz mu-law calls
    python tests/realaudio/make_calls.py --group heldout OUT_DIR   # only the held-out scenes
    callassist eval OUT_DIR                                 # precision and recall per event id

Each call NAME is a scene: real Mandarin utterances placed on the agent's channel (0) and the
caller's (1), over real background noise at a stated level. It is written as NAME_16k.wav
(16 kHz 16-bit PCM) and NAME_8k.wav (band-passed to 300-3400 Hz, 8 kHz mu-law, as a telephone
line carries it), each with NAME_*.labels.json: the events the service standard calls for,
worked out here from where the scene put the speech (never from what the code finds):

* silent_caller: step 1 5 s after the agent's last word with the caller silent; each further
  step 5 s after the agent's next line ends (step 3 is hanging up);
* agent_dead_air: 4 s after the caller's last word with the agent silent;
* quiet_caller: step 1 after 1.5 s of too-quiet caller speech, step 2 after 1.5 s of it once the
  agent has answered, step 3 (hang up) 5 s after the agent's step-2 line;
* noisy_line: step 1 after 2 s of caller speech drowned in noise (a noisy line, below), step 2
  (hang up) 5 s after the agent's line;
* nothing else: a clear line (below) is a good line, and no noise is a caller.

Noisy or clear is the caller's voice over the caller's line noise as the rendering carries it:
the active level of all the caller's speech minus the RMS of the noise, both measured in the
rendering's band (16 kHz: the whole band; 8 kHz: 300-3400 Hz, where a noise mostly outside the
telephone band hardly reaches the line). Within `NOISY_MAX_SNR` the noise is too loud to
understand the caller by: a noisy line. From `CLEAR_MIN_SNR` on the line is clear. A scene
whose caller's line lies in between at some rate is refused (ValueError): its labels would be a
guess. The same rule, measured for every scene at every rate, decides the labels that depend on
the line; so the 8 kHz rendering of a scene can be a clear line where the 16 kHz one is noisy.

An utterance is placed by its speech span: the 20 ms frames of the clip within 25 dB of its
active level (the power mean of the frames within 35 dB of its loudest), cut from the clip with
50 ms of margin and 10 ms fades. Levels: speech at its active level, noise at its RMS. The
clips and the calls rendered from them are never committed: tests render them into a
temporary folder and skip where ../shared/realaudio is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import soundfile
import soxr

REALAUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "realaudio"
RATE = 16000
FRAME = 320  # 20 ms at RATE
TOLERANCE = 1.0  # seconds either side of an expected event's t
NOISY_MAX_SNR = 5.0  # dB: the noise within this of the caller's voice drowns it (a noisy line)
CLEAR_MIN_SNR = 10.0  # dB: the voice this far over the noise is understood (a clear line)

# The standard's timings (scripts_zh, docs): what the labels are worked out from.
SILENT_STEP = 5.0
DEAD_AIR = 4.0
QUIET_SPEECH = 1.5
NOISY_SPEECH = 2.0
HANG_UP_WAIT = 5.0

NORMAL_DB = -20.0  # active speech level of a normal telephone voice
QUIET_DB = -48.0
LINE_FLOOR_DB = -62.0  # the agent's headset: a real, faint room floor

AGENT_CLIPS = (
    "Marco-Voice__basic_ref_zh",
    "MiMo-Audio__prompt_speech_zh_w",
    "FunASR__long",
    "FunASR__asr_example",
    "FunASR__mid",
    "CosyVoice__zero_shot_prompt",
)
# One caller is one person: each call takes its caller's lines from one speaker's clips.
SPEAKER_A = ("VoiceprintRecognition-Pytorch__a_1", "VoiceprintRecognition-Pytorch__a_2")
SPEAKER_B = ("VoiceprintRecognition-Pytorch__b_1", "VoiceprintRecognition-Pytorch__b_2")
SPEAKER_M = ("MiMo-Audio__prompt_speech_zh_m",)


def available() -> bool:
    return (REALAUDIO / "speech").is_dir() and (REALAUDIO / "noise").is_dir()


@cache
def load(name: str) -> np.ndarray:
    """A clip (speech/NAME.flac or noise/NAME.flac) as mono float64 at RATE."""
    path = next(p for p in (REALAUDIO / "speech" / f"{name}.flac", REALAUDIO / "noise" / f"{name}.flac") if p.is_file())
    audio, rate = soundfile.read(path, dtype="float64", always_2d=True)
    mono = audio.mean(axis=1)
    return soxr.resample(mono, rate, RATE) if rate != RATE else mono


def frame_levels(x: np.ndarray) -> np.ndarray:
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-20)


def active_level(x: np.ndarray) -> float:
    levels = frame_levels(x)
    return float(10 * np.log10(np.mean(10 ** (levels[levels > levels.max() - 35] / 10))))


def rms_level(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x**2) + 1e-20))


@cache
def speech_span(name: str) -> tuple[int, int]:
    """First and last sample of the clip's speech (see the module docstring)."""
    levels = frame_levels(load(name))
    loud = np.flatnonzero(levels > active_level(load(name)) - 25)
    return int(loud[0]) * FRAME, (int(loud[-1]) + 1) * FRAME


def fade(x: np.ndarray, seconds: float = 0.01) -> np.ndarray:
    n = min(round(seconds * RATE), len(x) // 2)
    ramp = np.linspace(0, 1, n)
    x = x.copy()
    x[:n] *= ramp
    x[len(x) - n :] *= ramp[::-1]
    return x


def loop_to(x: np.ndarray, length: int, crossfade: float = 0.05) -> np.ndarray:
    """A noise clip repeated to `length` samples, joined with short crossfades (no clicks)."""
    n = round(crossfade * RATE)
    out = x.copy()
    ramp = np.linspace(0, 1, n)
    while len(out) < length:
        out = np.concatenate((out[:-n], out[-n:] * ramp[::-1] + x[:n] * ramp, x[n:]))
    return out[:length]


Line = Literal["noisy", "clear"]


@dataclass(frozen=True)
class Turn:
    speaker: str  # "agent" or "caller"
    clip: str
    start: float  # where its speech starts in the call
    level_db: float
    cut: float | None = None  # keep only this many seconds of its speech (a backchannel)

    @property
    def speech_seconds(self) -> float:
        first, last = speech_span(self.clip)
        return min((last - first) / RATE, self.cut or np.inf)

    @property
    def end(self) -> float:
        return self.start + self.speech_seconds


@dataclass(frozen=True)
class Noise:
    clip: str
    level_db: float  # RMS over the call
    start: float = 0.0


@dataclass
class Scene:
    name: str
    about: str
    caller_noise: tuple[Noise, ...] = ()
    agent_noise: tuple[Noise, ...] = ()
    caller_voice: tuple[str, ...] = SPEAKER_B
    turns: list[Turn] = field(default_factory=list)
    expected: list[dict] = field(default_factory=list)
    expected_on: dict[Line, list[dict]] = field(default_factory=lambda: {"noisy": [], "clear": []})
    duration: float = 0.0
    _clock: float = 0.5
    _next_clip: dict[str, int] = field(default_factory=lambda: {"agent": 0, "caller": 0})

    def say(self, speaker: str, gap: float = 0.8, level_db: float = NORMAL_DB, clip: str | None = None,
            at: float | None = None, cut: float | None = None) -> Turn:
        """Place the speaker's next utterance `gap` seconds after the previous one ends (or at `at`)."""
        if clip is None:
            clips = AGENT_CLIPS if speaker == "agent" else self.caller_voice
            clip = clips[self._next_clip[speaker] % len(clips)]
            self._next_clip[speaker] += 1
        start = round(at if at is not None else self._clock + gap, 2)
        turn = Turn(speaker, clip, start, level_db, cut)
        self.turns.append(turn)
        if at is None:
            self._clock = turn.end
        return turn

    def pause(self, seconds: float) -> None:
        self._clock += seconds

    def expect(self, id: str, t: float, step: int | None, speaker: str, on: Line | None = None) -> None:
        """The standard calls for this event (only on a `noisy` or a `clear` caller's line, if `on`)."""
        label = {"id": id, "t": round(t, 2), "lo": round(t - TOLERANCE, 2), "hi": round(t + TOLERANCE, 2),
                 "step": step, "speaker": speaker}
        (self.expected if on is None else self.expected_on[on]).append(label)

    def labels(self, line: Line | None) -> list[dict]:
        """The events the standard calls for when the caller's line is `line` (None: no caller speech)."""
        if line is None and any(self.expected_on.values()):
            raise ValueError(f"{self.name}: its labels depend on the caller's line, but the caller never speaks")
        return sorted(self.expected + (self.expected_on[line] if line else []), key=lambda label: label["t"])

    def end(self, after: float) -> "Scene":
        self.duration = round(self._clock + after, 2)
        return self


@dataclass(frozen=True)
class Rendered:
    """A scene at RATE, its voices and its noises apart: shape (n, 2), channel 0 agent, 1 caller."""

    voices: np.ndarray
    noises: np.ndarray

    @property
    def call(self) -> np.ndarray:
        return np.clip(self.voices + self.noises, -0.999, 0.999)


def render(scene: Scene) -> Rendered:
    length = round(scene.duration * RATE)
    voices, noises = np.zeros((length, 2)), np.zeros((length, 2))
    for channel, scene_noises in ((0, scene.agent_noise), (1, scene.caller_noise)):
        for noise in scene_noises:
            clip = load(noise.clip)
            clip = clip * 10 ** ((noise.level_db - rms_level(clip)) / 20)
            at = round(noise.start * RATE)
            noises[at:, channel] += loop_to(clip, length - at)
    margin = round(0.05 * RATE)
    for turn in scene.turns:
        clip = load(turn.clip)
        first, last = speech_span(turn.clip)
        if turn.cut is not None:
            last = first + round(turn.cut * RATE)
        piece = fade(clip[max(0, first - margin) : last + margin] * 10 ** ((turn.level_db - active_level(clip)) / 20))
        at = round(turn.start * RATE) - (first - max(0, first - margin))
        voices[at : at + len(piece), 0 if turn.speaker == "agent" else 1] += piece[: length - at]
    return Rendered(voices, noises)


def telephone_band(x: np.ndarray) -> np.ndarray:
    """`x` (at RATE, time along axis 0) as a telephone line passes it: 300-3400 Hz, raised-cosine edges."""
    spectrum = np.fft.rfft(x, axis=0)
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    gain = np.clip((freqs - 250) / 100, 0, 1) * np.clip((3500 - freqs) / 200, 0, 1)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    return np.fft.irfft(spectrum * gain.reshape((-1,) + (1,) * (x.ndim - 1)), len(x), axis=0)


def telephony(call: np.ndarray) -> np.ndarray:
    """What a telephone line carries: the telephone band, at 8 kHz."""
    return np.clip(soxr.resample(telephone_band(call), RATE, 8000), -0.999, 0.999)


def caller_line_snr(rendered: Rendered, rate: int) -> float | None:
    """dB of the caller's voice over the caller's line noise in the band the rendering at `rate`
    carries (module docstring); None when the caller never speaks."""
    voice, noise = rendered.voices[:, 1], rendered.noises[:, 1]
    if not voice.any():
        return None
    if rate != RATE:
        voice, noise = telephone_band(voice), telephone_band(noise)
    return active_level(voice) - rms_level(noise)


def caller_line(scene: Scene, snr_db: float | None) -> Line | None:
    if snr_db is None:
        return None
    if snr_db <= NOISY_MAX_SNR:
        return "noisy"
    if snr_db >= CLEAR_MIN_SNR:
        return "clear"
    raise ValueError(f"{scene.name}: the caller's voice is {snr_db:.1f} dB over the noise, neither a noisy line "
                     f"(at most {NOISY_MAX_SNR:g} dB) nor a clear one (at least {CLEAR_MIN_SNR:g} dB)")


# ------------------------------------------------------------------------------------ scenes
# Caller-line noises. The clips' own floors lie 30 dB or more under their speech.
ROOM = "speechbrain__noise2"  # bumpy, low-pitched room noise
ROOM_2 = "DeepFilterNet__noise_freesound_573577"
ROOM_3 = "speechbrain__noise1"
DIFFUSE = "speechbrain__noise_diffuse"
CAFE = "noisereduce__cafe_short"
STREET = "audiomentations__perfect-alley1"  # street ambience with music
MACHINE = "speechbrain__noise5"
MACHINE_2 = "speechbrain__noise3"
TAP = "audiomentations__tap"


def agent_floor() -> tuple[Noise, ...]:
    return (Noise(DIFFUSE, LINE_FLOOR_DB),)


def silent_caller(name: str, floor: str, level_db: float = -55.0, tap_at: float | None = None) -> Scene:
    """The caller never speaks over a real room floor; the agent says silent steps 1 and 2."""
    noises = (Noise(floor, level_db),) + ((Noise(TAP, -40.0, start=tap_at),) if tap_at else ())
    scene = Scene(name, f"silent caller over {floor} at {level_db:g} dBFS", caller_noise=noises, agent_noise=agent_floor())
    greeting = scene.say("agent", gap=0.0)
    scene.expect("silent_caller", greeting.end + SILENT_STEP, 1, "caller")
    step_1 = scene.say("agent", gap=SILENT_STEP + 0.6)
    scene.expect("silent_caller", step_1.end + SILENT_STEP, 2, "caller")
    step_2 = scene.say("agent", gap=SILENT_STEP + 0.6)
    scene.expect("silent_caller", step_2.end + SILENT_STEP, 3, "caller")
    return scene.end(SILENT_STEP + 1.0)


def good_line(name: str, noise: str, snr_db: float, voice: tuple[str, ...], first_gap: float = 0.8) -> Scene:
    """A normal exchange with real noise behind the caller at `snr_db` under the caller's voice."""
    scene = Scene(name, f"normal call, {noise} {snr_db:g} dB under the caller",
                  caller_noise=(Noise(noise, NORMAL_DB - snr_db),), agent_noise=agent_floor(), caller_voice=voice)
    scene.say("agent", gap=0.0)
    scene.say("caller", gap=first_gap)
    scene.say("agent")
    scene.say("caller", gap=0.9)
    scene.say("agent", gap=0.7)
    scene.say("caller", gap=1.0)
    scene.say("agent")
    return scene.end(1.5)


def quiet_caller(name: str, voice: tuple[str, str], level_db: float = QUIET_DB, floor_db: float = -60.0) -> Scene:
    """A weak voice on a quiet line: quiet steps 1, 2 and the hang-up; never noisy_line."""
    scene = Scene(name, f"quiet caller at {level_db:g} dBFS on a {floor_db:g} dBFS line",
                  caller_noise=(Noise(ROOM_3, floor_db),), agent_noise=agent_floor())
    scene.say("agent", gap=0.0)
    first = scene.say("caller", level_db=level_db, clip=voice[0])
    scene.expect("quiet_caller", first.start + QUIET_SPEECH, 1, "caller")
    scene.say("agent", clip="CosyVoice__zero_shot_prompt")
    second = scene.say("caller", level_db=level_db, clip=voice[1])
    scene.expect("quiet_caller", second.start + QUIET_SPEECH, 2, "caller")
    step_2 = scene.say("agent", clip="FunASR__long")
    scene.expect("quiet_caller", step_2.end + HANG_UP_WAIT, 3, "caller")
    return scene.end(HANG_UP_WAIT + 1.0)


def noisy_line(name: str, noise: str, snr_db: float = 0.0) -> Scene:
    """The caller drowned in loud noise: noisy_line step 1, the agent's line, the hang-up. Where
    the line carries little of the noise (a clear line), the caller's turn is an ordinary one,
    and the caller is silent after the agent's line: silent_caller step 1."""
    level = NORMAL_DB - 2
    scene = Scene(name, f"noisy line, {noise} {snr_db:g} dB under the caller",
                  caller_noise=(Noise(noise, level - snr_db),), agent_noise=agent_floor())
    scene.say("agent", gap=0.0)
    caller = scene.say("caller", level_db=level, clip="FunASR__4")
    scene.expect("noisy_line", caller.start + NOISY_SPEECH, 1, "caller", on="noisy")
    line = scene.say("agent", clip="FunASR__long")
    scene.expect("noisy_line", line.end + HANG_UP_WAIT, 2, "caller", on="noisy")
    scene.expect("silent_caller", line.end + SILENT_STEP, 1, "caller", on="clear")
    return scene.end(HANG_UP_WAIT + 1.0)


def dead_air(name: str, floor: str) -> Scene:
    """The caller asks; the agent says nothing for 6 s over a bumpy room floor on the agent's line."""
    scene = Scene(name, f"dead air, {floor} at -55 dBFS on the agent's line",
                  caller_noise=(Noise(DIFFUSE, -60.0),), agent_noise=(Noise(floor, -55.0),), caller_voice=SPEAKER_A)
    scene.say("agent", gap=0.0)
    question = scene.say("caller")
    scene.expect("agent_dead_air", question.end + DEAD_AIR, None, "agent")
    scene.say("agent", gap=6.0)
    scene.say("caller")
    scene.say("agent")
    return scene.end(1.5)


def backchannel(name: str) -> Scene:
    """The caller is silent after the greeting (step 1); during the agent's step-1 line the
    caller says one short word (0.5 s): the caller is there, so the count starts afresh at
    step 1 after that line, and the caller then answers."""
    scene = Scene(name, "silent caller who answers the step-1 line with a short word while the agent talks",
                  caller_noise=(Noise(ROOM_3, -58.0),), agent_noise=agent_floor(), caller_voice=SPEAKER_B)
    greeting = scene.say("agent", gap=0.0)
    scene.expect("silent_caller", greeting.end + SILENT_STEP, 1, "caller")
    line = scene.say("agent", gap=SILENT_STEP + 0.6, clip="Marco-Voice__basic_ref_zh")
    scene.say("caller", at=line.start + 2.0, clip="VoiceprintRecognition-Pytorch__b_2", cut=0.5)
    scene.expect("silent_caller", line.end + SILENT_STEP, 1, "caller")
    scene.pause(SILENT_STEP + 0.6)
    scene.say("caller")
    scene.say("agent")
    return scene.end(1.5)


def scenes() -> list[Scene]:
    return [
        silent_caller("silent_room", ROOM, tap_at=9.0),
        silent_caller("silent_room_2", ROOM_2),
        silent_caller("silent_room_3", ROOM_3, level_db=-52.0),
        silent_caller("silent_street", STREET, level_db=-50.0),
        good_line("cafe_15db", CAFE, 15, SPEAKER_B),
        good_line("cafe_25db", CAFE, 25, SPEAKER_A),
        good_line("street_15db", STREET, 15, SPEAKER_A),
        good_line("street_20db", STREET, 20, SPEAKER_B),
        good_line("street_music_first", STREET, 27, SPEAKER_M, first_gap=3.0),  # -47 dBFS of street music first
        good_line("machine_15db", MACHINE, 15, SPEAKER_B),
        good_line("machine_30db", MACHINE_2, 30, SPEAKER_A),
        good_line("room_20db", ROOM_3, 20, SPEAKER_M),
        quiet_caller("quiet_line", SPEAKER_B),
        quiet_caller("quiet_line_46", SPEAKER_A, level_db=-46.0, floor_db=-62.0),
        quiet_caller("quiet_line_50", ("FunASR__4", "FunASR__3"), level_db=-50.0, floor_db=-64.0),
        noisy_line("noisy_street_0db", STREET),
        noisy_line("noisy_machine_0db", MACHINE),
        dead_air("dead_air_room", ROOM),
        dead_air("dead_air_room_2", ROOM_2),
        backchannel("backchannel"),
    ]


def heldout_scenes() -> list[Scene]:
    """Scenes the analyser's settings were never tuned on (other noises, levels and voices):
    a check that the figures on `scenes()` are not an artefact of tuning on them."""
    return [
        silent_caller("h_silent_noise4", "speechbrain__noise4"),
        silent_caller("h_silent_noise5", MACHINE, level_db=-50.0),
        silent_caller("h_silent_cafe", CAFE, level_db=-52.0),
        good_line("h_noise4_18db", "speechbrain__noise4", 18, SPEAKER_A),
        good_line("h_deepfilter_15db", ROOM_2, 15, SPEAKER_M),
        good_line("h_diffuse_20db", DIFFUSE, 20, SPEAKER_B),
        good_line("h_noise2_15db", ROOM, 15, SPEAKER_A),
        good_line("h_cafe_18db", CAFE, 18, SPEAKER_M, first_gap=2.5),
        quiet_caller("h_quiet_47", ("MiMo-Audio__prompt_speech_zh_m", "VoiceprintRecognition-Pytorch__b_1"),
                     level_db=-47.0, floor_db=-61.0),
        noisy_line("h_noisy_cafe_0db", CAFE),
        noisy_line("h_noisy_noise4_2db", "speechbrain__noise4", snr_db=2.0),
        dead_air("h_dead_air_noise4", "speechbrain__noise4"),
    ]


GROUPS = {"tuned": scenes, "heldout": heldout_scenes}


def write_calls(out: Path, rates: tuple[int, ...] = (16000, 8000), names: list[str] | None = None,
                groups: tuple[str, ...] = ("tuned", "heldout")) -> list[Path]:
    """Render every scene of `groups` (or those named) at each rate into `out`; returns the WAV paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for scene in (scene for group in groups for scene in GROUPS[group]()):
        if names and scene.name not in names:
            continue
        rendered = render(scene)
        for rate in rates:
            path = out / f"{scene.name}_{rate // 1000}k.wav"
            if rate == RATE:
                soundfile.write(path, rendered.call, RATE, subtype="PCM_16")
            else:
                soundfile.write(path, telephony(rendered.call), 8000, subtype="ULAW")
            snr = caller_line_snr(rendered, rate)
            line = caller_line(scene, snr)
            about = scene.about + (f"; {line} line: the caller's voice {snr:.1f} dB over the noise" if line else "")
            labels = {"about": about, "expect": scene.labels(line), "optional": []}
            path.with_name(f"{path.stem}.labels.json").write_text(json.dumps(labels, indent=1) + "\n", encoding="utf-8")
            written.append(path)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("names", nargs="*", help="only these scenes")
    parser.add_argument("--group", choices=[*GROUPS, "all"], default="all",
                        help="the scenes tuned on, the held-out ones, or all (default)")
    args = parser.parse_args()
    if not available():
        print(f"error: {REALAUDIO} is missing (the real recordings live beside the repository)", file=sys.stderr)
        return 2
    groups = tuple(GROUPS) if args.group == "all" else (args.group,)
    written = write_calls(args.out, names=args.names, groups=groups)
    print(f"{len(written)} calls in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
