"""One pipeline: headless replay, the replay screen's session and a live session fed the same
audio raise the same events at the same times, with recognition and without."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.audio.features import AnalyzerSettings
from callassist.inputs import Utterance
from callassist.live.messages import Heard, Raised, ReplayFinished, Withdrawn
from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.live.sources import FileSource
from callassist.pipeline import CallPipeline
from callassist.replay import ReplayRequest, replay
from callassist.transcript import read_transcript
from fakes import FakeSource, ScriptedRecognition, one_live_call

CALLS = Path(__file__).parent / "fixtures" / "calls"
SAMPLE = Path(__file__).parents[1] / "callassist" / "samples"
FIXTURE_CALLS = sorted(p.stem for p in CALLS.glob("*.wav"))
STEREO = Wiring(ChannelSource(0, 0), ChannelSource(0, 1))
RATE = 16000


def keys(events: list[dict]) -> list[tuple]:
    return [(e["id"], e.get("step"), e["t"], e.get("speaker")) for e in events]


def shown(messages: list) -> list[tuple]:
    """The events a screen ends up showing: raised and not withdrawn, in the order raised."""
    withdrawn = [m.event for m in messages if isinstance(m, Withdrawn)]
    events = [m.event for m in messages if isinstance(m, Raised) and m.event not in withdrawn]
    return [(e.id, e.step, round(e.t, 2), e.speaker) for e in events]


def recognition_for(name: str, scripted: bool):
    return ScriptedRecognition(read_transcript(CALLS / f"{name}.jsonl"), delay=0.002) if scripted else None


def screen_replay(name: str, settings, pack, scripted: bool) -> list:
    messages: list = []
    session = CallSession(
        [FileSource(CALLS / f"{name}.wav", speed=None, block_seconds=0.05)], STEREO, pack, settings, messages.append,
        recognition=recognition_for(name, scripted), options=SessionOptions(replay=True),
    )
    session.run()
    assert isinstance(messages[-1], ReplayFinished)
    return messages


def live_call(name: str, settings, pack, scripted: bool, calls_dir: Path) -> tuple[list, dict]:
    """A live session on a device that delivers the recording in 32 ms blocks; the agent starts
    the call before the first sample and ends it after the last."""
    samples, rate = soundfile.read(CALLS / f"{name}.wav", dtype="float32")
    source = FakeSource(samples, rate, block_seconds=0.032)
    messages: list = []
    session = CallSession(
        [source], STEREO, pack, settings, messages.append, recognition=recognition_for(name, scripted),
        options=SessionOptions(calls_dir=calls_dir),
    )
    report_path = one_live_call(session, source, messages)
    return messages, json.loads(report_path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("scripted", [False, True], ids=["no-recognition", "scripted-recognition"])
@pytest.mark.parametrize("name", FIXTURE_CALLS)
def test_headless_screen_and_live_give_identical_events(name, scripted, settings, pack, tmp_path):
    headless = replay(ReplayRequest(audio=CALLS / f"{name}.wav"), settings, pack, recognition_for(name, scripted)).to_json()
    expected = keys(headless["events"])
    if scripted:  # the recognised text reaches the engine: the call's text is judged
        assert headless["call"]["text_from"] == "scripted"
        assert headless["checklist"]["greeting"]["ok"] is not None
    screen = screen_replay(name, settings, pack, scripted)
    assert shown(screen) == expected, "screen replay"
    live_messages, live_report = live_call(name, settings, pack, scripted, tmp_path)
    assert keys(live_report["events"]) == expected, "live session's report"
    assert shown(live_messages) == expected, "live session's screen"
    assert live_report["score"] == headless["score"]
    assert live_report["talk"] == headless["talk"] if "talk" in headless else True


def test_recognised_text_is_judged_when_heard_not_when_said(settings, pack):
    """Text reaches the engine when the recogniser has it (the end of the utterance), even from a
    slow recogniser: a forbidden phrase is flagged at the end of what the agent said."""
    transcript = read_transcript(SAMPLE / "sample_call.jsonl")
    report = replay(ReplayRequest(audio=SAMPLE / "sample_call.wav"), settings, pack,
                    ScriptedRecognition(transcript, delay=0.005, partials=False)).to_json()
    flagged = [(e["phrase_id"], e["emitted"]) for e in report["events"] if e["id"] == "forbidden_phrase"]
    # 「这个我不知道」 ends at 43.15 s: heard at the end of the 0.05 s recognition block holding it
    # (43.15 s is a block's end), however long the recogniser took
    assert flagged == [("wo_bu_zhidao", 43.15)]


def voice_then_vowel(vowel_end: float) -> np.ndarray:
    """The agent's first two seconds of the `normal` call (espeak speech from 0.5 s), then a
    sustained vowel-like tone at the speech's loudest frame level (harmonics of 140 Hz under
    three formants, swinging 5 dB at 4 Hz, as a held syllable does: no steady noise) up to
    `vowel_end`, then a second of silence. From the speech's onset to `vowel_end` the agent
    talks without a break, every frame of the vowel loud."""
    audio, _ = soundfile.read(CALLS / "normal.wav", dtype="float32")
    speech = audio[: 2 * RATE, 0]
    frames = speech[: len(speech) // 320 * 320].reshape(-1, 320).astype(np.float64)
    loudest = np.max(np.mean(frames**2, axis=1))
    t = np.arange(round((vowel_end - 2.0) * RATE)) / RATE
    vowel = np.zeros_like(t)
    for k in range(1, int(3500 / 140) + 1):
        amplitude = sum(a / (1 + ((k * 140 - fc) / bw) ** 2) for fc, bw, a in ((500, 120, 1.0), (1500, 150, 0.5), (2500, 200, 0.25)))
        vowel += amplitude * np.sin(2 * np.pi * k * 140 * t + k)
    vowel *= 1 + 0.3 * np.sin(2 * np.pi * 4 * t)
    vowel *= np.sqrt(loudest / np.mean(vowel**2)) * 10 ** (-2 / 20)
    return np.concatenate((speech, vowel.astype(np.float32), np.zeros(RATE, np.float32)))


def wait_for_recognition(pipeline: CallPipeline) -> None:
    """Until every recogniser has processed the blocks sent to it, as a live one keeps up."""
    for channel in pipeline.channels.values():
        sent = channel.fed_frames - channel.unsent_frames
        while channel.recognized_frames + channel.thread.results.qsize() * channel.block_frames < sent:
            time.sleep(0.0005)


@pytest.mark.parametrize("heard_at", [2.7, 2.75])  # at a report's end, and between two
def test_a_flag_is_shown_a_block_after_the_text_during_speech(heard_at, settings, pack):
    """Live, 0.05 s blocks, a recogniser that keeps up: a partial holding a forbidden phrase at
    `heard_at`, while the agent is still talking (in the held vowel), reaches the screen with
    the next block, as soon as the analysis has heard a frame past it (not a fixed latency of
    the analysis later: 0.1-0.15 s with the last analysed output's time, 0.5 s with the worst
    case). The final text at the vowel's end waits for the analysis to decide that the turn
    ended there: the hangover of silence after it."""
    vowel_end = 3.2
    said = Utterance("agent", 2 * heard_at - vowel_end, vowel_end, "好的这个我不知道")
    recognition = ScriptedRecognition([said], misheard={said.text: "这个我不知道"})
    shown: list[tuple[str, float]] = []
    fed = 0.0

    def listen(message) -> None:
        if isinstance(message, Raised) and message.event.id == "forbidden_phrase":
            shown.append(("flag", fed))
        elif isinstance(message, Heard) and message.heard.final:
            shown.append(("final", fed))

    pipeline = CallPipeline(pack, settings, {"agent": RATE}, recognition=recognition, listener=listen, live=True)
    signal, step = voice_then_vowel(vowel_end), round(0.05 * RATE)
    for start in range(0, len(signal), step):
        pipeline.feed("agent", signal[start : start + step])
        fed = pipeline.fed
        wait_for_recognition(pipeline)
        pipeline.pump()
    pipeline.finish()
    (flagged,) = [e for e in pipeline.engine.events if e.id == "forbidden_phrase"]
    assert flagged.emitted == pytest.approx(heard_at)
    hangover = AnalyzerSettings().hangover
    assert shown == [("flag", pytest.approx(heard_at + 0.05)), ("final", pytest.approx(vowel_end + hangover, abs=0.051))]
