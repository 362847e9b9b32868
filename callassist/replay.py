"""Replaying a recorded call: the call pipeline driven as fast as it goes (the QA path).

The file is read once, in blocks, straight into the pipeline, so memory does not grow with the
call's length; the screen replay and live calls drive the same pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callassist.audio.recording import ChannelMap, Recording, channel_map, open_recording
from callassist.detectors import DETECTORS, Detector
from callassist.errors import CallassistError, InputFileError
from callassist.inputs import Speaker, Utterance
from callassist.pipeline import CallPipeline, Recognition
from callassist.reporting.report import CallReport, CallSource
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.transcript import read_transcript

READ_BLOCK_SECONDS = 10.0
REST_STEP_SECONDS = 0.1  # a channel whose speech model is hearing a stretch goes on in steps this long
"""How much of the file is read at a time. Results do not depend on it; the analysis pays a fixed
numpy cost per block, so 10 s blocks replay a 10-minute call about 10% faster than 2 s blocks
(benchmarks/bench_pipeline.py), for a few MiB of memory that does not grow with the call."""


@dataclass(frozen=True)
class ReplayRequest:
    """A call to replay: its audio and/or transcript, and which channel carries whom."""

    audio: Path | None = None
    transcript: Path | None = None
    duration: float | None = None  # where the call ends when no audio says so (else: when the talk ends)
    agent_channel: int = 0
    caller_channel: int = 1


@dataclass(frozen=True)
class CallPlan:
    """What a request amounts to: which channels of which recording carry whom, what gives the text."""

    recording: Recording | None
    channels: dict[Speaker, int]  # speaker -> channel of the recording analysed as theirs
    transcript: list[Utterance] | None
    transcript_activity: bool  # the transcript also says who speaks when (no usable audio)
    caller_audio: bool
    notes: tuple[str, ...]


def plan_call(request: ReplayRequest, utterances: list[Utterance] | None) -> CallPlan:
    if request.audio is None:
        if request.duration is not None and utterances and request.duration < max(u.end for u in utterances):
            last = max(u.end for u in utterances)
            raise CallassistError(
                f"--duration {request.duration:g} is shorter than the transcript {request.transcript} "
                f"(its last utterance ends at {last:.2f} s); give at least {last:.2f} or leave --duration out"
            )
        return CallPlan(None, {}, utterances or [], True, True, ())
    recording = open_recording(request.audio)
    if recording.is_mono and utterances:
        note = "mono recording (one mixed channel): speakers and speech activity come from the transcript"
        return CallPlan(recording, {}, utterances, True, True, (note,))
    if recording.is_mono:
        note = (
            "mono recording (one mixed channel) and no transcript: the channel is analysed as the "
            "agent's (so is all recognised speech); caller-side situations are off"
        )
        return CallPlan(recording, {"agent": 0}, None, False, False, (note,))
    mapping: ChannelMap = channel_map(recording, request.agent_channel, request.caller_channel)
    channels = {k: v for k, v in (("agent", mapping.agent), ("caller", mapping.caller)) if v is not None}
    return CallPlan(recording, channels, utterances, False, True, ())


@dataclass
class ReplayedCall:
    """A call driven through the pipeline to its end: its judgement, and its source as the report states it."""

    pipeline: CallPipeline
    source: CallSource

    def report(self) -> CallReport:
        return self.pipeline.report(self.source)


def run_call(
    request: ReplayRequest, settings: Settings, pack: ScriptPack, recognition: Recognition | None = None,
    *, detectors: Sequence[type[Detector]] = DETECTORS,
) -> ReplayedCall:
    """Drive one call through the pipeline as fast as it goes, to its end. Without a transcript,
    the audio is transcribed by `recognition` when one is given."""
    if request.audio is None and request.transcript is None:
        raise InputFileError("nothing to replay: give an audio file, --transcript FILE, or both")
    utterances = read_transcript(request.transcript) if request.transcript else None
    plan = plan_call(request, utterances)
    if utterances is not None:
        recognition = None  # the transcript gives the text
    pipeline = _drive(request, plan, settings, pack, recognition, detectors)
    source = CallSource(
        audio=str(request.audio) if request.audio else None,
        transcript=str(request.transcript) if request.transcript else None,
        duration=pipeline.now,
        channel_map=dict(plan.channels),
        text_from="transcript" if utterances is not None else recognition.name if recognition else "none",
        activity_from="transcript" if plan.transcript_activity else "audio",
        notes=plan.notes,
    )
    return ReplayedCall(pipeline, source)


def replay(
    request: ReplayRequest, settings: Settings, pack: ScriptPack, recognition: Recognition | None = None
) -> CallReport:
    """Replay one call and return its report."""
    return run_call(request, settings, pack, recognition).report()


def transcribe(
    request: ReplayRequest, settings: Settings, pack: ScriptPack, recognition: Recognition
) -> list[Utterance]:
    """The recording's final recognised text, both channels, in time order."""
    plan = plan_call(ReplayRequest(request.audio, None, None, request.agent_channel, request.caller_channel), None)
    return _drive(request, plan, settings, pack, recognition, DETECTORS).report_utterances()


def _drive(
    request: ReplayRequest, plan: CallPlan, settings: Settings, pack: ScriptPack, recognition: Recognition | None,
    detectors: Sequence[type[Detector]],
) -> CallPipeline:
    """Feed the planned call through a pipeline as fast as it goes, to its end."""
    recording = plan.recording
    pipeline = CallPipeline(
        pack, settings,
        {speaker: recording.sample_rate for speaker in plan.channels} if recording else {},
        recognition=recognition if plan.channels else None,
        transcript=plan.transcript,
        transcript_activity=plan.transcript_activity,
        caller_audio=plan.caller_audio,
        detectors=detectors,
    )
    end = request.duration or 0.0
    if recording is not None:
        end = max(end, recording.duration)
        if plan.channels:
            _feed_in_turns(pipeline, recording, plan.channels)
    elif request.duration is None:
        end = pipeline.settle(pipeline.transcript_end)
    pipeline.finish(end)
    if pipeline.recognition_errors:
        raise RuntimeError("; ".join(pipeline.recognition_errors))
    return pipeline


def _feed_in_turns(pipeline: CallPipeline, recording: Recording, channels: dict[Speaker, int]) -> None:
    """Feed the channels block by block, one block behind the file, leaving a channel for the next
    only once its speech model rests: while the model hears a stretch, the channel goes on into
    the block read ahead, in steps. So the channels' stretches are never heard at once and one
    loaded model serves a call (a second one costs about 10 MiB). The analysis does not depend
    on how its audio is cut, so the results are those of feeding whole blocks."""
    step = max(1, round(REST_STEP_SECONDS * recording.sample_rate))
    behind: dict[Speaker, np.ndarray] = {speaker: np.zeros(0, dtype=np.float32) for speaker in channels}
    for block in recording.blocks(READ_BLOCK_SECONDS):
        for speaker, column in channels.items():
            if len(behind[speaker]):
                pipeline.feed(speaker, behind[speaker])
            ahead, fed = block[:, column], 0
            while fed < len(ahead) and pipeline.hearing(speaker):
                pipeline.feed(speaker, ahead[fed : fed + step])
                fed += step
            behind[speaker] = ahead[fed:]
        pipeline.pump()
    for speaker in channels:
        pipeline.feed(speaker, behind[speaker])
        pipeline.end_audio(speaker)  # its last stretch is decided (and its model back) before the next channel's
