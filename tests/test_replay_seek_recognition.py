"""Seeking back in a replay does not decode or analyse again what was decoded and analysed: the
recogniser's results and the analyser's are kept (`callassist.live.taped`) and played back, and
the call is judged exactly as a replay that never seeked: the unbroken replay's events and
report are the reference, and they are checked against the scene's expected events."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile

from callassist.audio.features import ChannelAnalyzer
from callassist.inputs import Speaker, UtteranceHeard
from callassist.live.messages import CallEnded, Jumped, ReplayFinished, Tick
from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.live.sources import FileSource
from callassist.live.taped import TapedRecognition
from callassist.reporting.report import CallReport
from callassist.transcript import read_transcript
from expectations import match_events
from fakes import ScriptedRecognition

CALLS = Path(__file__).parent / "fixtures" / "calls"
SAMPLE = Path(__file__).parents[1] / "callassist" / "samples"
STEREO = Wiring(ChannelSource(0, 0), ChannelSource(0, 1))
EVENT_FIELDS = ("id", "kind", "t", "step", "speaker", "phrase_id", "emitted")


class CountingRecognition:
    """A recognition that counts how often each channel is opened and how many samples each
    channel is asked to decode; `inner` does the hearing."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.opened: Counter[Speaker] = Counter()
        self.decoded: Counter[Speaker] = Counter()

    @property
    def name(self) -> str:
        return self.inner.name

    def open_channel(self, speaker: Speaker, input_rate: int) -> CountingChannel:
        self.opened[speaker] += 1
        return CountingChannel(self, speaker, self.inner.open_channel(speaker, input_rate))


class CountingChannel:
    def __init__(self, owner: CountingRecognition, speaker: Speaker, inner) -> None:
        self.owner, self.speaker, self.inner = owner, speaker, inner

    def feed(self, samples: np.ndarray) -> list[UtteranceHeard]:
        self.owner.decoded[self.speaker] += len(samples)
        return self.inner.feed(samples)

    def finish(self) -> list[UtteranceHeard]:
        return self.inner.finish()


def blocks(count: int, size: int = 800) -> list[np.ndarray]:
    return [np.zeros(size, np.float32) for _ in range(count)]


# ---------------------------------------------------------------- the tape on its own


def scripted_call() -> ScriptedRecognition:
    """The cantonese fixture call's transcript, heard as each utterance's audio passes."""
    return ScriptedRecognition(read_transcript(CALLS / "cantonese.jsonl"))


def test_a_judgement_from_the_start_plays_back_then_decodes_on_from_where_decoding_stopped():
    rate, total = 16000, 500  # 500 blocks of 0.05 s: 25 s, the whole transcript
    reference = scripted_call().open_channel("caller", rate)
    unbroken = [reference.feed(block) for block in blocks(total)] + [reference.finish()]
    assert sum(len(h) for h in unbroken) >= 4, "the reference hears the caller's utterances"

    counting = CountingRecognition(scripted_call())
    taped = TapedRecognition(counting)
    first = taped.open_channel("caller", rate)
    heard = [first.feed(block) for block in blocks(300)]
    assert heard == unbroken[:300]
    taped.rewind()
    # what the dropped judgement still had queued, its last part-block and its end: not decoded
    assert [first.feed(block) for block in blocks(5)] == [[]] * 5
    assert first.feed(np.zeros(123, np.float32)) == [] and first.finish() == []
    assert counting.decoded["caller"] == 300 * 800

    second = taped.open_channel("caller", rate)
    again = [second.feed(block) for block in blocks(total)] + [second.finish()]
    assert again == unbroken, "played back to block 300, decoded on from there: the unbroken stream's text"
    assert counting.opened == {"caller": 1}, "one recogniser, one stream"
    assert counting.decoded["caller"] == total * 800, "no block decoded twice"


def test_a_dropped_judgement_never_ends_the_stream_and_a_short_one_hears_no_end():
    counting = CountingRecognition(scripted_call())
    taped = TapedRecognition(counting)
    first = taped.open_channel("caller", 16000)
    for block in blocks(400):
        first.feed(block)
    taped.rewind()
    second = taped.open_channel("caller", 16000)
    for block in blocks(100):
        second.feed(block)
    # a replay quit after seeking back: the recogniser is at block 400, not 100, so no end is made up
    assert second.finish() == []
    assert counting.decoded["caller"] == 400 * 800


def test_a_judgement_feeding_other_blocks_than_the_tape_is_an_error():
    taped = TapedRecognition(scripted_call())
    first = taped.open_channel("agent", 16000)
    first.feed(np.zeros(800, np.float32))
    taped.rewind()
    with pytest.raises(RuntimeError, match="block 0 has 400 samples, not the 800"):
        taped.open_channel("agent", 16000).feed(np.zeros(400, np.float32))
    with pytest.raises(ValueError, match="recorded at 16000 Hz, not 8000 Hz"):
        taped.open_channel("agent", 8000)


# ---------------------------------------------------------------- the replay screen's session


def replay_on_screen(audio: Path, recognition: CountingRecognition, calls_dir: Path, settings, pack,
                     at: float | None = None, seeks: tuple[float, ...] = ()) -> tuple[list, dict]:
    """The replay screen's session on `audio`, as fast as it reads; at `at` s into the recording
    the keys for `seeks` are pressed in a row. Returns its messages and its saved report."""
    messages: list = []
    pressed: list[bool] = []
    session: CallSession

    def deliver(message) -> None:
        messages.append(message)
        if at is not None and isinstance(message, Tick) and (message.position or 0.0) >= at and not pressed:
            pressed.append(True)
            for delta in seeks:
                session.seek(delta)

    session = CallSession(
        [FileSource(audio, speed=None)], STEREO, pack, settings, deliver,
        recognition=recognition, options=SessionOptions(replay=True, calls_dir=calls_dir, source_name=audio.name),
    )
    session.run()
    assert isinstance(messages[-1], ReplayFinished)
    (ended,) = [m for m in messages if isinstance(m, CallEnded)]
    assert ended.report_path is not None
    return messages, json.loads(Path(ended.report_path).read_text(encoding="utf-8"))


def events(report: dict) -> list[tuple]:
    return [tuple(e.get(k) for k in EVENT_FIELDS) for e in report["events"]]


CASES = [
    ("cantonese", 20.0, (-5,)),  # back: re-judged from the tape, the dialect at 17.55 s raised again
    ("silent", 22.0, (-5, -5)),  # back twice: the second from within the tape
    ("silent", 12.0, (5, 5, -8)),  # forward (decoded once, unseen), then back
]


@pytest.mark.parametrize(("name", "at", "seeks"), CASES, ids=[f"{c[0]}-{'_'.join(map(str, c[2]))}" for c in CASES])
def test_seeking_back_decodes_no_audio_twice_and_judges_as_an_unbroken_replay(
    name, at, seeks, tmp_path, settings, pack, monkeypatch
):
    analysed: Counter[Speaker] = Counter()

    class CountingAnalyzer(ChannelAnalyzer):
        def feed(self, samples: np.ndarray) -> list:
            analysed[self.speaker] += len(samples)
            return super().feed(samples)

    monkeypatch.setattr("callassist.live.taped.ChannelAnalyzer", CountingAnalyzer)
    audio = CALLS / f"{name}.wav"
    frames = soundfile.info(audio).frames
    transcript = read_transcript(CALLS / f"{name}.jsonl")

    plain = CountingRecognition(ScriptedRecognition(transcript, delay=0.001))
    _, reference = replay_on_screen(audio, plain, tmp_path / "unbroken", settings, pack)
    expected = json.loads((CALLS / f"{name}.expected.json").read_text(encoding="utf-8"))["events"]
    situations = [e for e in CallReport.from_json(reference).events if e.kind != "hint"]
    assert match_events(situations, expected) == [], "the reference is the scene's truth"

    counting = CountingRecognition(ScriptedRecognition(transcript, delay=0.001))
    analysed.clear()
    messages, report = replay_on_screen(audio, counting, tmp_path / "seeked", settings, pack, at, seeks)
    jumps = [m for m in messages if isinstance(m, Jumped)]
    assert len(jumps) == len(seeks) and any(j.restart for j in jumps)
    assert counting.opened == {"agent": 1, "caller": 1}
    assert counting.decoded == {"agent": frames, "caller": frames}, "every sample decoded once, none twice"
    assert analysed == {"agent": frames, "caller": frames}, "and analysed once"
    assert events(report) == events(reference)
    assert report == reference


def test_with_vosk_seeking_back_decodes_once_and_reports_as_an_unbroken_replay(ko_model, tmp_path, settings, pack):
    """The real recogniser (the Korean model standing in for ours): its stream is not ended at
    the seek, and goes on from its state where decoding stopped, so its text, and the report,
    are the unbroken replay's to the word."""
    from callassist.models import load_model
    from callassist.recognition import SpeechModel, VoskRecognition, model_sample_rate

    audio = CALLS / "cantonese.wav"
    frames = soundfile.info(audio).frames
    model = SpeechModel(ko_model, load_model(ko_model), model_sample_rate(ko_model))
    plain = CountingRecognition(VoskRecognition(model))
    _, reference = replay_on_screen(audio, plain, tmp_path / "unbroken", settings, pack)
    assert reference["call"]["text_from"] == f"vosk:{ko_model.name}"
    decoded = reference["utterances"]
    assert {u["speaker"] for u in decoded} == {"agent", "caller"}, "both channels' speech was decoded"
    assert any(u["end"] > 18.0 for u in decoded), "text the judgement after the seek decodes on to hear"

    counting = CountingRecognition(VoskRecognition(model))
    messages, report = replay_on_screen(audio, counting, tmp_path / "seeked", settings, pack, 20.0, (-5,))
    (jump,) = [m for m in messages if isinstance(m, Jumped)]
    assert jump.restart and 14.5 <= jump.position <= 15.5
    assert counting.decoded == {"agent": frames, "caller": frames}, "every sample decoded once, none twice"
    assert report == reference
