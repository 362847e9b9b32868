"""Replaying a recorded call through the engine: the QA path, the same engine as live."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from callassist.audio.features import AnalyzerSettings, analyze_recording
from callassist.audio.recording import ChannelMap, channel_map, open_recording
from callassist.engine import Engine
from callassist.errors import InputFileError
from callassist.recognition import SpeechModel, recognize_channels
from callassist.reporting.report import CallReport, CallSource, Deduction, build_report
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.sources import heard_inputs, transcript_inputs
from callassist.inputs import EngineInput, SpeechStarted, Utterance, input_sort_key
from callassist.transcript import read_transcript


@dataclass(frozen=True)
class ReplayRequest:
    audio: Path | None = None
    transcript: Path | None = None
    duration: float | None = None  # where the call ends when no audio says so (else: last utterance)
    agent_channel: int = 0
    caller_channel: int = 1


@dataclass(frozen=True)
class PreparedCall:
    """Everything the engine is fed for one call, and how the report describes its source."""

    inputs: list[EngineInput]
    source: CallSource
    caller_audio: bool
    utterances: list[Utterance]  # the final text, from the transcript or from recognition
    analyzer: AnalyzerSettings | None = None  # the audio analyser's settings, when audio was analysed


RECOGNITION_BLOCK_SECONDS = 0.2  # how often recognisers are fed: the granularity of partial results


def prepare_call(request: ReplayRequest, utterances: list[Utterance], speech_model: SpeechModel | None = None) -> PreparedCall:
    if request.audio is None:
        end = max([request.duration or 0.0] + [u.end for u in utterances])
        source = CallSource(
            audio=None,
            transcript=str(request.transcript),
            duration=end,
            text_from="transcript",
            activity_from="transcript",
        )
        return PreparedCall(transcript_inputs(utterances), source, True, utterances)

    recording = open_recording(request.audio)
    notes: list[str] = []
    caller_audio = True
    analyzer = None
    if recording.is_mono and utterances:
        notes.append("mono recording (one mixed channel): speakers and speech activity come from the transcript")
        inputs: list[EngineInput] = transcript_inputs(utterances)
        channels, activity_from = {}, "transcript"
    else:
        if recording.is_mono:
            notes.append(
                "mono recording (one mixed channel) and no transcript: the channel is analysed as the "
                "agent's (so is all recognised speech); caller-side situations are off"
            )
            mapping = ChannelMap(agent=0, caller=None)
            caller_audio = False
        else:
            mapping = channel_map(recording, request.agent_channel, request.caller_channel)
        channels = {k: v for k, v in (("agent", mapping.agent), ("caller", mapping.caller)) if v is not None}
        if speech_model is not None:
            recognized = recognize_channels(
                speech_model.model, speech_model.sample_rate, recording.sample_rate, channels,
                recording.blocks(RECOGNITION_BLOCK_SECONDS),
            )
            utterances = sorted((h.utterance for h in recognized if h.final and h.utterance.text), key=lambda u: u.start)
        else:
            recognized = heard_inputs(utterances)
        analyzer = AnalyzerSettings()
        inputs = analyze_recording(recording, mapping, analyzer) + recognized
        inputs.sort(key=input_sort_key)
        activity_from = "audio"
    end = max([recording.duration] + [u.end for u in utterances])
    source = CallSource(
        audio=str(request.audio),
        transcript=str(request.transcript) if request.transcript else None,
        duration=end,
        channel_map=channels,
        text_from=(
            "transcript" if request.transcript else f"vosk:{speech_model.name}" if speech_model else "none"
        ),
        activity_from=activity_from,
        notes=tuple(notes),
    )
    return PreparedCall(inputs, source, caller_audio, utterances, analyzer)


def replay(
    request: ReplayRequest, settings: Settings, pack: ScriptPack, speech_model: SpeechModel | None = None
) -> CallReport:
    """Replay one call and return its report. Without a transcript,
    the audio is transcribed with `speech_model` when one is given."""
    if request.audio is None and request.transcript is None:
        raise InputFileError("nothing to replay: give an audio file, --transcript FILE, or both")
    utterances = read_transcript(request.transcript) if request.transcript else []
    call = prepare_call(request, utterances, speech_model if request.transcript is None else None)
    has_text = call.source.text_from != "none"
    engine = Engine(pack, settings, caller_audio=call.caller_audio, has_text=has_text)
    engine.feed_all(call.inputs)
    engine.finish(call.source.duration)
    report = build_report(engine, call.source, call.utterances, call.analyzer)
    if not any(isinstance(i, SpeechStarted) for i in call.inputs) and not any(u.text.strip() for u in call.utterances):
        return marked_no_speech(report, settings)
    return report


NO_SPEECH_NOTE = (
    "no speech on either channel (silence, a tone or noise only): nothing was judged; "
    "check the recording, its channels and the line"
)


def marked_no_speech(report: CallReport, settings: Settings) -> CallReport:
    """A call nobody speaks in is not a perfect call: it is flagged (`call.no_speech`), noted,
    and takes the `no_speech` deduction (the whole score by default)."""
    points = settings.score.deductions.get("no_speech", 0)
    score = report.score
    score = replace(
        score, value=max(0, score.value - points), deductions=(*score.deductions, Deduction("no_speech", 0.0, points))
    )
    return replace(report, score=score).with_source(no_speech=True, notes=(*report.source.notes, NO_SPEECH_NOTE))


def transcribe(request: ReplayRequest, speech_model: SpeechModel) -> list[Utterance]:
    """The recording's final recognised text, both channels, in time order."""
    return prepare_call(request, [], speech_model).utterances
