"""Transcripts as JSON Lines: one utterance per line, Vosk's word fields where present."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from callassist.errors import InputFileError
from callassist.inputs import SPEAKERS, Utterance, Word

UTTERANCE_KEYS = {"speaker", "start", "end", "text", "words"}
WORD_KEYS = {"word", "start", "end", "conf"}
# Times are seconds from the start of the call. A day bounds any call: larger values are epoch
# times or milliseconds, which would otherwise stretch a call (and its timeline) over decades.
MAX_SECONDS = 24 * 3600.0
MAX_LINE_CHARACTERS = 1_000_000  # one utterance; a longer line is not a transcript
MAX_TEXT_CHARACTERS = 100_000


def read_transcript(path: Path) -> list[Utterance]:
    """Read a transcript, sorted by start time. Any problem raises an error naming file and line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputFileError.at(path, "transcript not found; check the path") from None
    except OSError as error:
        raise InputFileError.at(path, f"cannot read transcript: {error.strerror}") from None
    text = InputFileError.decode_utf8(path, raw, "not UTF-8 text; save the transcript as UTF-8")
    utterances = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            utterances.append(_parse_line(path, number, line))
    utterances.sort(key=lambda u: (u.start, u.end))
    return utterances


def _parse_line(path: Path, number: int, line: str) -> Utterance:
    def fail(problem: str) -> InputFileError:
        return InputFileError.at(path, problem, number)

    if len(line) > MAX_LINE_CHARACTERS:
        raise fail(f"line is {len(line):,} characters long (at most {MAX_LINE_CHARACTERS:,}); one utterance per line")
    try:
        data = json.loads(line, parse_constant=_reject_constant, parse_int=_bounded_int)
    except json.JSONDecodeError as error:
        raise fail(f"not valid JSON ({error.msg} at column {error.colno})") from None
    except _BadNumber as error:
        raise fail(f"{error}; times are finite numbers of seconds") from None
    except RecursionError:
        raise fail("JSON nested too deeply; an utterance is one flat object") from None
    if not isinstance(data, dict):
        raise fail("expected a JSON object with speaker, start, end, text")
    unknown = sorted(set(data) - UTTERANCE_KEYS)
    if unknown:
        raise fail(f"unknown field {unknown[0]!r} (fields: speaker, start, end, text, words)")
    speaker = data.get("speaker")
    if speaker not in SPEAKERS:
        raise fail(f"field 'speaker' must be \"agent\" or \"caller\", not {speaker!r}")
    start = _seconds(data, "start", fail)
    end = _seconds(data, "end", fail)
    if end < start:
        raise fail(f"field 'end' ({end}) is before 'start' ({start})")
    text = data.get("text")
    if not isinstance(text, str):
        raise fail("field 'text' must be a string")
    _check_text(text, "text", fail)
    words_raw = data.get("words", [])
    if not isinstance(words_raw, list):
        raise fail("field 'words' must be a list of {word, start, end, conf}")
    words = tuple(_parse_word(index, item, fail) for index, item in enumerate(words_raw))
    return Utterance(speaker=speaker, start=start, end=end, text=text, words=words, line=number)


def _parse_word(index: int, item: Any, fail) -> Word:
    where = f"words[{index}]"
    if not isinstance(item, dict):
        raise fail(f"field '{where}' must be an object with word, start, end, conf")
    unknown = sorted(set(item) - WORD_KEYS)
    if unknown:
        raise fail(f"unknown field '{where}.{unknown[0]}' (fields: word, start, end, conf)")
    word = item.get("word")
    if not isinstance(word, str):
        raise fail(f"field '{where}.word' must be a string")
    _check_text(word, f"{where}.word", fail)
    start = _seconds(item, "start", fail, where)
    end = _seconds(item, "end", fail, where)
    conf = item.get("conf")
    if conf is not None and (not isinstance(conf, (int, float)) or isinstance(conf, bool) or not 0 <= conf <= 1):
        raise fail(f"field '{where}.conf' must be a number from 0 to 1")
    return Word(word=word.replace(" ", ""), start=start, end=end, conf=None if conf is None else float(conf))


def _seconds(data: dict, key: str, fail, where: str = "") -> float:
    name = f"{where}.{key}" if where else key
    if key not in data:
        raise fail(f"missing field '{name}'")
    value = data[key]
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= MAX_SECONDS:
        shown = repr(value) if not isinstance(value, str) else repr(value[:40])
        raise fail(
            f"field '{name}' must be seconds from the call's start, 0 to {MAX_SECONDS:.0f}, not {shown} "
            "(epoch or millisecond times must be converted)"
        )
    return float(value)


class _BadNumber(ValueError):
    pass


def _reject_constant(name: str) -> float:
    raise _BadNumber(f"{name} is not a number JSON allows")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > 18:
        raise _BadNumber(f"number {digits[:20]}... has {len(digits)} digits")
    return int(digits)


def _check_text(text: str, name: str, fail) -> None:
    if len(text) > MAX_TEXT_CHARACTERS:
        raise fail(f"field '{name}' is {len(text):,} characters long (at most {MAX_TEXT_CHARACTERS:,})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise fail(
            f"field '{name}' holds a lone surrogate (\\u{ord(text[error.start]):04x} at character {error.start + 1}); "
            "write the character itself or its full surrogate pair"
        ) from None


def utterance_to_json(utterance: Utterance) -> dict[str, Any]:
    data: dict[str, Any] = {
        "speaker": utterance.speaker,
        "start": round(utterance.start, 3),
        "end": round(utterance.end, 3),
        "text": utterance.text,
    }
    if utterance.words:
        data["words"] = [
            {"word": w.word, "start": round(w.start, 3), "end": round(w.end, 3)}
            | ({"conf": round(w.conf, 3)} if w.conf is not None else {})
            for w in utterance.words
        ]
    return data


def write_transcript(path: Path, utterances: Iterable[Utterance], mask: bool = False) -> None:
    """The transcript format, one utterance a line; `mask`: numbers masked (`mask_utterances`)."""
    data = [utterance_to_json(u) for u in utterances]
    if mask:
        from callassist.reporting.masking import mask_utterances

        data = mask_utterances(data)[0]
    from callassist.atomic import write_text_atomically  # its tempfile only when a transcript is written

    write_text_atomically(path, "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in data))
