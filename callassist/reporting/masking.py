"""Masking of personal numbers (phone, ID-card, bank-card) in transcripts and reports.

Speech recognition writes digits as ASCII, full-width or Chinese numerals, often mixed
(「138零零13八000」) and with spaces between recognised words (「一三八 零零一三 八零零零」). Numbers
are looked for in *digit runs*: maximal sequences of digit characters that only separators may
separate: spaces (also no-break), hyphens and dashes, 杠, commas, full stops, slashes,
underscores, and the fillers a caller says while reading a number out (嗯, 呃, 啊, 额). Any
other character ends a run, so quantities written with units
(「八十六元」, 「一百二十块」), times (「三点半」) and dates (「二零二四年三月」) never form runs long
enough to be read as personal numbers. A run is read as the numbers that best explain it
(`_best_reading`): whole numbers matching a pattern, service numbers, and stray digits.

A caller pausing between digit groups is split by the recogniser into several utterances
(「我的号码是138」「1234」「5678」), so a report is masked on each speaker's whole stream of
utterances, joined in time order (`mask_report`); every other text of the report (what events
heard, paths, the call's name) is then masked both on its own and for any stretch of the digits
already found to be a personal number.

Masking keeps the text's length character for character (the engine maps characters to word
timings): every digit character of a personal number except its last four becomes `*`, and
separators and everything else stay. All three kinds keep their last four, as banks print cards
(`************1234`); an ID card keeps nothing else, because its first six digits (birthplace)
with the birth date identify a person. Digits of a country prefix (+86) are masked too.

Judgment calls, all erring on the side of privacy:
- An 18-character ID with a plausible birth date is masked even when its checksum fails
  (recognition errors break checksums); the checksum only decides between ID and bank card.
- A run of 16–19 digits is masked as a bank card whether or not it passes Luhn.
- Recognition glues neighbouring numerals onto a number (the 两 of 「…两个号码」, the 3 of
  「…3天」), so numbers are also looked for inside longer runs, digits left over staying visible.
- Order numbers cannot be told from card numbers by their digits: one of 16 digits or more is
  masked (as a bank card), a shorter one only where a stretch of it has a phone number's shape.
- A local number without area code (7–8 digits starting 2–8, the run on its own) is masked as a
  phone number, unless it reads as a date (YYYYMMDD) or stands next to a unit (「2345678元」).
- Hotlines (400/800) and five-digit service numbers (10086, 95588, 12345) are not personal and
  are not masked. Old 15-digit IDs (invalid since 2013) are not recognised.
- A number with a digit dropped or doubled by recognition is found only where its new length
  still fits a pattern.
- 洞 (0 in radio usage) counts as a digit: it only matters inside a run, and a run needs at least
  seven digits to be masked, so 「山洞」 or 「漏洞」 never are; at worst a 洞 next to a number is a
  stray digit left visible. 叉 counts as the ID check letter X, in the last place of an ID only.
"""

from __future__ import annotations

import copy
import datetime
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from typing import Any, Literal

Kind = Literal["phone", "id_card", "bank_card"]
# What a number read from the digits can be: a personal kind, or a service number (not masked).
_NumberKind = Literal["phone", "id_card", "bank_card", "service"]
MASKED_KINDS: tuple[Kind, ...] = ("phone", "id_card", "bank_card")
KEPT_DIGITS = 4
MASK = "*"

_DIGIT_VALUES = {
    **{digit: digit for digit in "0123456789"},
    **{chr(ord("０") + value): str(value) for value in range(10)},
    **dict(zip("零〇一二三四五六七八九", "00123456789")),
    "幺": "1",
    "两": "2",
    "洞": "0",
    **dict.fromkeys("XxＸｘ叉", "X"),
}
_SEPARATORS = (
    " \t\u00a0\u2007\u202f\u3000"  # spaces, no-break ones included
    "-\u2010\u2011\u2012\u2013\u2014\uff0d杠"  # hyphens, dashes, 杠 (how a dash is read out)
    ",，.．。、/／\\_·"  # commas, full stops, slashes, underscores (file names), middle dots
    "嗯呃啊额"  # fillers between digit groups
)
_DIGIT_CLASS = "[" + re.escape("".join(_DIGIT_VALUES)) + "]"
_RUN = re.compile(f"{_DIGIT_CLASS}(?:[{re.escape(_SEPARATORS)}]*{_DIGIT_CLASS})*")

_MOBILE = re.compile(r"(?:(?:00)?86)?1[3-9]\d{9}", re.ASCII)
_LANDLINE = re.compile(r"(?:(?:00)?86|0)(?:10|2\d|[3-9]\d{2})\d{7,8}", re.ASCII)
_LOCAL = re.compile(r"[2-8]\d{6,7}", re.ASCII)
_SERVICE = re.compile(r"[48]00\d{7}|(?:10|12|95)\d{3}", re.ASCII)
# Characters that make the run they precede or follow a quantity, time or date, not a local number.
_QUANTITY_BEFORE = frozenset("第点.¥￥$")
_QUANTITY_AFTER = frozenset("十百千万亿点年月日号时分秒元块角毛个位岁次%％")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARACTERS = "10X98765432"
_NUMBER_LENGTHS = range(5, 20)  # from service numbers (10086) to the longest bank cards
# A reading of a run scores the evidence of its numbers minus this for every digit left outside
# a number: validity (evidence up to 3) can outweigh one stray digit, never two.
_STRAY_DIGIT_COST = 2


@dataclass(frozen=True)
class MaskedSpan:
    """A masked number, as offsets [start, end) in the original text, from its first digit to its last."""

    kind: Kind
    start: int
    end: int


@dataclass(frozen=True)
class MaskResult:
    text: str
    spans: tuple[MaskedSpan, ...]


@dataclass(frozen=True)
class _Reading:
    """What a whole digit string is, and how strong the evidence is (see `_read`)."""

    kind: _NumberKind
    evidence: int


@dataclass(frozen=True)
class _Number:
    """A number found in a run, as positions [first, stop) in the run's digits."""

    kind: _NumberKind
    first: int
    stop: int


@dataclass(frozen=True)
class _RunReading:
    score: int
    numbers: tuple[_Number, ...]

    def preference(self) -> tuple[int, int]:
        """Best score first; on equal scores, fewer numbers (a card over two pieces of one)."""
        return self.score, -len(self.numbers)


def mask_text(text: str) -> MaskResult:
    """Mask every phone, ID-card and bank-card number in `text`; the result has the same length."""
    characters = list(text)
    spans: list[MaskedSpan] = []
    for run in _RUN.finditer(text):
        positions = [index for index in range(run.start(), run.end()) if text[index] in _DIGIT_VALUES]
        digits = "".join(_DIGIT_VALUES[text[index]] for index in positions)
        for number in _numbers_in_run(text, run, digits):
            if number.kind == "service":
                continue
            number_positions = positions[number.first : number.stop]
            for index in number_positions[:-KEPT_DIGITS]:
                characters[index] = MASK
            spans.append(MaskedSpan(number.kind, number_positions[0], number_positions[-1] + 1))
    return MaskResult("".join(characters), tuple(spans))


# Report fields never masked: they hold no personal text, and the fingerprint must stay as it is.
_UNMASKED_FIELDS = frozenset({"schema", "generator", "fingerprint", "id", "kind", "speaker"})
_STREAM_JOINER = " "  # between one speaker's utterances: a separator, so runs continue across them


MASKED_DEVICE = "(masked)"
"""What a masked report says for an audio device's name."""


def mask_report(report: dict[str, Any], names: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """A masked copy of a report's JSON (`CallReport.to_json`). Utterance texts and words are masked per
    speaker over the whole call (a number split across utterances is found whole); words keep
    their lengths (and so their timings). Every other string of the report (what events heard,
    paths, the call's name) is masked too. The input is not changed.

    A masked report names no folder outside what was given (an absolute path can hold a
    person's name: C:\\Users\\zhangwei\\..., a folder per customer): the recording and transcript
    are named by `names` (`audio`, `transcript`: the batch's names, relative to the folder it
    was given), else by their file names; the script pack's files, the config file and the
    folders the settings name, by their file names. Audio device names are left out: a headset
    is often named after its owner ("张伟的 AirPods")."""
    masked = copy.deepcopy(report)
    masked["utterances"], secrets = mask_utterances(masked["utterances"])
    call = masked["call"]
    for key in ("audio", "transcript"):
        if names is not None and key in names:
            call[key] = names[key]
        elif call.get(key):
            call[key] = file_name(call[key])
    call["script_pack"] = [file_name(source) for source in call.get("script_pack", ())]
    settings = call.get("settings") or {}
    if "source" in settings:
        settings["source"] = file_name(settings["source"])
    if "extra" in settings.get("scripts", {}):
        settings["scripts"]["extra"] = [file_name(extra) for extra in settings["scripts"]["extra"]]
    if "calls_dir" in settings.get("live", {}):
        settings["live"]["calls_dir"] = file_name(settings["live"]["calls_dir"])
    for key in ("agent_device", "caller_device"):
        if settings.get("live", {}).get(key):
            settings["live"][key] = MASKED_DEVICE
    for key, value in masked.items():
        if key != "utterances":
            masked[key] = _mask_strings(value, secrets)
    masked["call"]["masked"] = list(MASKED_KINDS)
    return masked


def mask_utterances(utterances: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
    """Masked copies of utterances in their JSON form (a report's or a transcript's), each
    speaker's masked over the whole call, and the digits of every number masked."""
    masked = copy.deepcopy(list(utterances))
    secrets: set[str] = set()
    for speaker in sorted({u["speaker"] for u in masked}):
        spoken = [u for u in masked if u["speaker"] == speaker]
        for utterance, text in zip(spoken, mask_stream([u["text"] for u in spoken], secrets)):
            utterance["text"] = text
        worded = [u for u in spoken if u.get("words")]
        joined_words = mask_stream(["".join(w["word"] for w in u["words"]) for u in worded], secrets)
        for utterance, text in zip(worded, joined_words):
            offset = 0
            for word in utterance["words"]:
                length = len(word["word"])
                word["word"] = text[offset : offset + length]
                offset += length
    return masked, secrets


def file_name(path: str) -> str:
    """The last part of a path written on this system or on Windows (a report read elsewhere)."""
    return PureWindowsPath(path).name or path


def masked_file_name(path: Path) -> Path:
    """`path` with its file name masked (its folder is the user's own choice, kept)."""
    return path.with_name(mask_free_text(path.name))


def mask_stream(pieces: Sequence[str], secrets: set[str] | None = None) -> list[str]:
    """Mask consecutive pieces of one speaker's text as one text, so that a number split
    across pieces is found; each piece keeps its length. The digits of every number masked are
    added to `secrets`."""
    joined = _STREAM_JOINER.join(pieces)
    result = mask_text(joined)
    if secrets is not None:
        secrets.update(_digits(joined[span.start : span.end]) for span in result.spans)
    out, offset = [], 0
    for piece in pieces:
        out.append(result.text[offset : offset + len(piece)])
        offset += len(piece) + len(_STREAM_JOINER)
    return out


def mask_free_text(text: str, secrets: Sequence[str] | set[str] = ()) -> str:
    """Mask `text` on its own (`mask_text`), and any run in it holding 5 or more digits of a
    number already masked elsewhere (`secrets`, digit strings): a fragment of a number that on
    its own would not read as one (what an event heard of a number split across utterances)."""
    masked = list(mask_text(text).text)
    for run in _RUN.finditer(text):
        positions = [i for i in range(run.start(), run.end()) if text[i] in _DIGIT_VALUES]
        digits = "".join(_DIGIT_VALUES[text[i]] for i in positions)
        if len(digits) > KEPT_DIGITS and any(_shares_digits(digits, secret) for secret in secrets):
            for index in positions[:-KEPT_DIGITS]:
                masked[index] = MASK
    return "".join(masked)


MASKED_PATH_MATCHES = 64  # files a masked path is matched against at most, per folder level


def find_masked_file(path: Path) -> Path | None:
    """The one existing file whose path reads as `path` once masked: each `*` of `path` that is
    not in the real name stands for one digit character (masking keeps a text's length). A
    masked report names its recording so; the review page and `callassist eval` find it through
    this. None when no file, or more than one, fits."""
    normal = Path(os.path.normpath(path))
    parts = normal.parts
    found = [Path(parts[0])] if normal.is_absolute() else [Path()]
    for part in parts[1:] if normal.is_absolute() else parts:
        fitting: list[Path] = []
        for folder in found:
            if (folder / part).exists():
                fitting.append(folder / part)
            elif MASK in part:
                try:
                    names = [entry.name for entry in os.scandir(folder)]
                except OSError:
                    continue
                fitting += [folder / name for name in sorted(names) if _reads_as(name, part)]
        found = fitting[:MASKED_PATH_MATCHES]
    files = [candidate for candidate in found if candidate.is_file()]
    return files[0] if len(files) == 1 else None


def _reads_as(name: str, masked: str) -> bool:
    """`name`, masked, could read as `masked`: the same but digits where `masked` has `*`."""
    return len(name) == len(masked) and all(
        real == shown or (shown == MASK and real in _DIGIT_VALUES) for real, shown in zip(name, masked)
    )


def _shares_digits(digits: str, secret: str) -> bool:
    """`digits` is a piece of `secret` (5 digits or more), or holds 7 of its digits in a row."""
    if len(digits) >= 5 and digits in secret:
        return True
    return any(secret[i : i + 7] in digits for i in range(len(secret) - 6))


def _digits(text: str) -> str:
    return "".join(_DIGIT_VALUES[c] for c in text if c in _DIGIT_VALUES)


def _mask_strings(value: Any, secrets: set[str]) -> Any:
    if isinstance(value, str):
        return mask_free_text(value, secrets)
    if isinstance(value, list):
        return [_mask_strings(item, secrets) for item in value]
    if isinstance(value, dict):
        return {k: v if k in _UNMASKED_FIELDS else _mask_strings(v, secrets) for k, v in value.items()}
    return value


def _numbers_in_run(text: str, run: re.Match[str], digits: str) -> tuple[_Number, ...]:
    if _is_local_number(text, run, digits):
        return (_Number("phone", 0, len(digits)),)
    return _best_reading(digits).numbers


def _best_reading(digits: str) -> _RunReading:
    """The numbers that best explain a run. Numbers may follow one another directly (two phone
    numbers read out in one breath) and stray digits may surround them (the 两 of 「…两个号码」
    that recognition glues to a number)."""
    best_from = [_RunReading(0, ())] * (len(digits) + 1)
    for first in range(len(digits) - 1, -1, -1):
        rest = best_from[first + 1]
        candidates = [_RunReading(rest.score - _STRAY_DIGIT_COST, rest.numbers)]
        for stop in range(first + _NUMBER_LENGTHS.start, min(first + _NUMBER_LENGTHS.stop, len(digits) + 1)):
            reading = _read(digits[first:stop])
            if reading is not None:
                rest = best_from[stop]
                candidates.append(
                    _RunReading(rest.score + reading.evidence, (_Number(reading.kind, first, stop), *rest.numbers))
                )
        best_from[first] = max(candidates, key=_RunReading.preference)
    return best_from[0]


def _read(digits: str) -> _Reading | None:
    """What a whole digit string is, with the evidence for it: 3 for an ID that passes its
    checksum, 2 for a Luhn-valid card or a mobile number, 1 for a landline or an ID failing its
    checksum, 0 for a card failing Luhn or a service number."""
    if _is_plausible_id(digits):
        if _id_checksum_passes(digits):
            return _Reading("id_card", 3)
        if digits.isdigit() and _luhn_passes(digits):
            return _Reading("bank_card", 2)
        return _Reading("id_card", 1)
    if "X" in digits:
        return None
    if 16 <= len(digits) <= 19:
        return _Reading("bank_card", 2 if _luhn_passes(digits) else 0)
    if _MOBILE.fullmatch(digits):
        return _Reading("phone", 2)
    if _LANDLINE.fullmatch(digits):
        return _Reading("phone", 1)
    if _SERVICE.fullmatch(digits):
        return _Reading("service", 0)
    return None


def _is_local_number(text: str, run: re.Match[str], digits: str) -> bool:
    """A local phone number without area code: the whole run, not a date, not a quantity (nor a
    decimal fraction: one full stop in the run)."""
    if not _LOCAL.fullmatch(digits) or (len(digits) == 8 and _is_date(digits)):
        return False
    if run.group().count(".") == 1 and not any(c in _SEPARATORS and c != "." for c in run.group()):
        return False
    before = _nearest_character(text, run.start() - 1, step=-1)
    after = _nearest_character(text, run.end(), step=1)
    return before not in _QUANTITY_BEFORE and after not in _QUANTITY_AFTER


def _nearest_character(text: str, index: int, step: int) -> str:
    """The first character from `index` on, going by `step`, that is not a separator ("" if none)."""
    while 0 <= index < len(text) and text[index] in _SEPARATORS:
        index += step
    return text[index] if 0 <= index < len(text) else ""


def _is_plausible_id(digits: str) -> bool:
    """18 characters, 17 digits and a digit or X, with a birth date YYYYMMDD at positions 7–14."""
    return len(digits) == 18 and digits[:17].isdigit() and _is_date(digits[6:14])


def _is_date(digits: str) -> bool:
    if not digits.startswith(("19", "20")):
        return False
    try:
        datetime.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return False
    return True


def _id_checksum_passes(digits: str) -> bool:
    """ISO 7064 MOD 11-2, as GB 11643 specifies for the 18th character."""
    total = sum(int(digit) * weight for digit, weight in zip(digits, _ID_WEIGHTS))
    return _ID_CHECK_CHARACTERS[total % 11] == digits[17]


def _luhn_passes(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0
