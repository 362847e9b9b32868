"""Replaying a recorded call through the engine: the QA path, the same engine as live."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callassist.engine import Engine
from callassist.errors import InputFileError
from callassist.report import CallSource, build_report
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.sources import heard_inputs, transcript_inputs
from callassist.timeline import EngineInput, input_sort_key
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


def prepare_call(request: ReplayRequest, utterances: list) -> PreparedCall:
    if request.audio is None:
        end = max([request.duration or 0.0] + [u.end for u in utterances])
        source = CallSource(
            audio=None,
            transcript=str(request.transcript),
            duration=end,
            text_from="transcript",
            activity_from="transcript",
        )
        return PreparedCall(transcript_inputs(utterances), source, caller_audio=True)

    from callassist.audio.features import analyze_recording
    from callassist.audio.recording import ChannelMap, channel_map, open_recording

    recording = open_recording(request.audio)
    notes: list[str] = []
    caller_audio = True
    if recording.is_mono and utterances:
        notes.append("mono recording (one mixed channel): speakers and speech activity come from the transcript")
        inputs: list[EngineInput] = transcript_inputs(utterances)
        channels, activity_from = {}, "transcript"
    else:
        if recording.is_mono:
            notes.append(
                "mono recording (one mixed channel) and no transcript: the channel is analysed as the "
                "agent's; caller-side situations are off"
            )
            mapping = ChannelMap(agent=0, caller=None)
            caller_audio = False
        else:
            mapping = channel_map(recording, request.agent_channel, request.caller_channel)
        inputs = analyze_recording(recording, mapping) + heard_inputs(utterances)
        inputs.sort(key=input_sort_key)
        channels = {k: v for k, v in (("agent", mapping.agent), ("caller", mapping.caller)) if v is not None}
        activity_from = "audio"
    end = max([recording.duration] + [u.end for u in utterances])
    source = CallSource(
        audio=str(request.audio),
        transcript=str(request.transcript) if request.transcript else None,
        duration=end,
        channel_map=channels,
        text_from="transcript" if request.transcript else "none",
        activity_from=activity_from,
        notes=tuple(notes),
    )
    return PreparedCall(inputs, source, caller_audio)


def replay(request: ReplayRequest, settings: Settings, pack: ScriptPack) -> dict[str, Any]:
    """Replay one call and return its report (schema callassist.report/1)."""
    if request.audio is None and request.transcript is None:
        raise InputFileError("nothing to replay: give an audio file, --transcript FILE, or both")
    utterances = read_transcript(request.transcript) if request.transcript else []
    call = prepare_call(request, utterances)
    engine = Engine(pack, settings, caller_audio=call.caller_audio, has_text=bool(utterances))
    engine.feed_all(call.inputs)
    engine.finish(call.source.duration)
    return build_report(engine, call.source, utterances)
