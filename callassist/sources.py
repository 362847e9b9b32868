"""Turning recorded material into engine inputs."""

from __future__ import annotations

from collections.abc import Iterable

from callassist.inputs import (
    SPEAKERS,
    EngineInput,
    SpeechEnded,
    SpeechStarted,
    Utterance,
    UtteranceHeard,
    input_sort_key,
)


def heard_inputs(utterances: Iterable[Utterance]) -> list[UtteranceHeard]:
    """Each utterance's final text, arriving when the utterance ends."""
    return [
        UtteranceHeard(t=u.end, utterance=u, final=True, key=f"{u.speaker}:{index}")
        for index, u in enumerate(utterances)
    ]


def activity_from_utterances(utterances: Iterable[Utterance]) -> list[EngineInput]:
    """Speech activity when there is no audio: each speaker speaks during their utterances
    (overlapping or touching utterances of one speaker make one stretch of speech)."""
    inputs: list[EngineInput] = []
    for speaker in SPEAKERS:
        spans = sorted((u.start, u.end) for u in utterances if u.speaker == speaker)
        merged: list[list[float]] = []
        for start, end in spans:
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in merged:
            inputs.append(SpeechStarted(t=start, speaker=speaker))
            inputs.append(SpeechEnded(t=end, speaker=speaker))
    return inputs


def transcript_inputs(utterances: list[Utterance]) -> list[EngineInput]:
    """A transcript alone: activity from utterance times, text at each utterance's end."""
    inputs = activity_from_utterances(utterances) + heard_inputs(utterances)
    inputs.sort(key=input_sort_key)
    return inputs
