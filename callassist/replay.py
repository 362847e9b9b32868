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
from callassist.sources import transcript_inputs
from callassist.transcript import read_transcript


@dataclass(frozen=True)
class ReplayRequest:
    audio: Path | None = None
    transcript: Path | None = None
    duration: float | None = None  # where the call ends when no audio says so (else: last utterance)


def audio_duration(path: Path) -> float:
    import soundfile

    if not path.is_file():
        raise InputFileError.at(path, "audio file not found; check the path")
    try:
        info = soundfile.info(str(path))
    except Exception as error:  # soundfile raises RuntimeError/LibsndfileError with libsndfile's text
        raise InputFileError.at(path, f"cannot read audio ({error}); is it a WAV, FLAC or OGG file?") from None
    return info.frames / info.samplerate


def replay(request: ReplayRequest, settings: Settings, pack: ScriptPack) -> dict[str, Any]:
    """Replay one call and return its report (schema callassist.report/1)."""
    if request.audio is None and request.transcript is None:
        raise InputFileError("nothing to replay: give an audio file, --transcript FILE, or both")
    utterances = read_transcript(request.transcript) if request.transcript else []
    duration = audio_duration(request.audio) if request.audio else 0.0
    end = max([duration, request.duration or 0.0] + [u.end for u in utterances])
    engine = Engine(pack, settings)
    engine.feed_all(transcript_inputs(utterances))
    engine.finish(end)
    notes = []
    if request.audio is not None:
        notes.append("audio contributes only the call duration in this version")
    source = CallSource(
        audio=str(request.audio) if request.audio else None,
        transcript=str(request.transcript) if request.transcript else None,
        duration=end,
        text_from="transcript" if request.transcript else "none",
        activity_from="transcript",
        notes=tuple(notes),
    )
    return build_report(engine, source, utterances)
