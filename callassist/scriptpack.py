"""The script pack: approved steps, forbidden phrases, required phrases and lexical cues.

The standard pack ships in `scripts_zh/` (installed as `callassist.scripts_zh`); a deployment
adds its own TOML files, whose entries extend the standard one or override it by id.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import re2

from callassist.errors import ConfigError
from callassist.rules.model import Phrase, Rule
from callassist.rules.parse import (
    PHRASE_SET_OPTIONAL,
    PHRASE_SET_REQUIRED,
    RULE_OPTIONAL,
    RULE_REQUIRED,
    RuleReader,
    expand_sets,
    read_phrase_set,
)

Speaker = Literal["agent", "caller"]
SituationKind = Literal["situation", "hint"]
RequiredWhere = Literal["opening", "closing", "hold_start", "hold_return"]
# Names a rule's `said = "@name"` or `each = "@name"` may use besides phrase sets: the
# `[[required]]` lines of one `where` (each entry one line) and every `[[forbidden]]` phrase.
FORBIDDEN_LINES = "forbidden"
STANDARD_LINES = (*get_args(RequiredWhere), FORBIDDEN_LINES)
# "@greeted_by_caller.say" names the approved lines of a situation's steps (any one of them),
# so a rule owes the line a deployment pack gives that situation, not a copy of the standard's.
SITUATION_LINES = ".say"
_STAGE_DIRECTION = re.compile(r"（[^（）]*）|\([^()]*\)")


@dataclass(frozen=True)
class SourceRef:
    """Where an entry was defined, so problems and reports can point at it."""

    path: str
    line: int


@dataclass(frozen=True)
class Step:
    """One approved step of a situation: what to say, then how long to wait for the next step."""

    say: str
    wait: float | None = None  # seconds before the next step; None on the last step
    action: Literal["hang_up"] | None = None


@dataclass(frozen=True)
class Situation:
    """A situation of the standard: what the agent says, step by step, when it is detected."""

    id: str
    title: str
    kind: SituationKind
    steps: tuple[Step, ...]
    advice: str | None = None  # coaching note for situations with no line to say (pace, crosstalk)
    source: SourceRef | None = None
    after: float | None = None
    """Seconds before step 1 is due (silent_caller: of silence after the agent speaks); the
    only situation whose first step waits for a time rather than for a detection."""


TIMED_FIRST_STEP = "silent_caller"
"""The situation whose step 1 comes `after` a time the pack sets."""


@dataclass(frozen=True)
class ForbiddenPhrase:
    """A phrase the agent must not say, and the situation whose approved line replaces it."""

    id: str
    phrase: str
    situation: str  # the situation whose approved line replaces it
    threshold: float | None = None  # match score 0-100 needed; None = the matcher's default
    source: SourceRef | None = None


@dataclass(frozen=True)
class RequiredPhrase:
    """A line the agent must say at a given point of the call; any of `phrases` satisfies it."""

    id: str
    where: RequiredWhere
    phrases: tuple[str, ...]
    threshold: float | None = None
    source: SourceRef | None = None


@dataclass(frozen=True)
class Cue:
    """Lexical evidence for a situation: fuzzy phrases, single characters, or a regex."""

    id: str
    situation: str
    speaker: Speaker
    phrases: tuple[str, ...] = ()
    characters: str = ""  # each occurrence counts (dialect-only characters)
    pattern: str | None = None  # regex; its first group fills {1} in the situation's line
    threshold: float | None = None
    source: SourceRef | None = None


@dataclass(frozen=True)
class NamedPhrases:
    """Named phrases that rules use as `said = "@id"`."""

    id: str
    phrases: tuple[str, ...]
    source: SourceRef | None = None


@dataclass(frozen=True)
class ScriptPack:
    """The effective script pack: the standard's and every extra pack's entries, merged."""

    sources: tuple[str, ...]
    situations: dict[str, Situation]
    forbidden: tuple[ForbiddenPhrase, ...]
    required: dict[str, RequiredPhrase]
    cues: tuple[Cue, ...]
    placeholders: dict[str, str] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()  # QA rules, phrase sets already expanded

    def fill(self, text: str) -> str:
        """Fill `{company}`, `{agent}` and other placeholders known to the pack."""
        for name, value in self.placeholders.items():
            text = text.replace("{" + name + "}", value)
        return text

    def say(self, situation_id: str, step: int) -> str | None:
        """The approved line for step `step` (1-based) of a situation, placeholders filled."""
        situation = self.situations.get(situation_id)
        if situation is None or not situation.steps:
            return None
        index = min(step, len(situation.steps)) - 1
        return self.fill(situation.steps[index].say)

    def required_for(self, where: RequiredWhere) -> list[RequiredPhrase]:
        return [r for r in self.required.values() if r.where == where]

    def cues_for(self, situation_id: str) -> list[Cue]:
        return [c for c in self.cues if c.situation == situation_id]


def standard_pack_dir() -> Path:
    """The standard pack's folder: the package `callassist.scripts_zh` where the wheel installs
    it, or `scripts_zh/` of a source checkout (an editable install maps the package there).
    Found by path, not with importlib.resources, whose imports cost every start 0.01 s."""
    here = Path(__file__).resolve().parent
    installed = here / "scripts_zh"
    return installed if installed.is_dir() else here.parent / "scripts_zh"


# Cue patterns ----------------------------------------------------------------------------------

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # errors are reported as pack problems, not on stderr


def compile_pattern(pattern: str) -> Any:
    """A cue pattern compiled for linear-time matching (RE2: no backtracking, so no pattern can
    freeze the live screen on a long utterance). Raises re2.error on what RE2 rejects
    (look-arounds, back-references). Python's \\uXXXX escapes are accepted (RE2 writes \\x{XXXX})."""
    re2_pattern = _PYTHON_ESCAPE.sub(lambda m: m[1] + "\\x{" + (m[2] or m[3]) + "}", pattern)
    return re2.compile(re2_pattern, options=_RE2_OPTIONS)


_PYTHON_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\(?:u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8}))")


def pattern_problem(pattern: str) -> str | None:
    """What keeps `pattern` from serving as a cue pattern, or None: it must compile with RE2 and
    its first group, which fills {1}, must take part in every match."""
    try:
        compiled = compile_pattern(pattern)
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if isinstance(error.args[0], bytes) else str(error)
        return f"not a valid regular expression for RE2 ({reason}); look-arounds and back-references are not supported"
    if compiled.groups == 0:
        return "needs a group (…) around the part that fills {1}, e.g. 我姓(.)"
    if not _group_always_set(pattern, 1):
        return "its first group is optional (inside ?, *, {0,…} or one side of |); the line's {1} would be empty"
    return None


def _group_always_set(pattern: str, group: int) -> bool:
    """Whether every match of `pattern` sets `group` (read with Python's regex parser, whose
    syntax RE2 shares for what RE2 accepts)."""
    import re._parser as parser  # noqa: PLC0415 - the standard library's own regex parser

    try:
        tree = parser.parse(pattern)
    except re.error:
        return True  # RE2-only syntax: RE2 compiled it; the group count check is all there is

    def sets(items: Any) -> bool:
        for op, value in items:
            name = str(op)
            if name == "SUBPATTERN" and (value[0] == group or sets(value[-1])):
                return True
            if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and value[0] >= 1 and sets(value[2]):
                return True
            if name == "BRANCH" and all(sets(branch) for branch in value[1]):
                return True
            if name == "ATOMIC_GROUP" and sets(value):
                return True
        return False

    return sets(tree)


# Loading and checking packs ------------------------------------------------------------------

CONFIG_PLACEHOLDERS = ("company", "agent")  # filled from the configuration
# {1} is filled at run time with the first group of the situation's cue pattern (a surname).
KNOWN_PLACEHOLDERS = (*CONFIG_PLACEHOLDERS, "1")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_ID = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class PackProblem:
    """One problem in a pack file. `line` is 0 when the problem is the path itself."""

    path: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.key}: {self.message}"


@dataclass(frozen=True)
class _Schema:
    """The keys a pack table must have and may have."""

    required: tuple[str, ...]
    optional: tuple[str, ...]

    def unknown(self, table: Mapping[str, Any]) -> list[str]:
        return [key for key in table if key not in self.required + self.optional]

    def allowed(self) -> str:
        return ", ".join(self.required + self.optional)


_TABLES = {
    "situation": _Schema(("id", "title"), ("kind", "advice", "step", "after", "disabled")),
    "forbidden": _Schema(("id", "phrase", "situation"), ("threshold", "disabled")),
    "required": _Schema(("id", "where", "phrases"), ("threshold", "disabled")),
    "cue": _Schema(
        ("id", "situation", "speaker"),
        ("phrases", "characters", "pattern", "threshold", "disabled"),
    ),
    "rule": _Schema(RULE_REQUIRED, RULE_OPTIONAL),
    "phrase_set": _Schema(PHRASE_SET_REQUIRED, PHRASE_SET_OPTIONAL),
}
_STEP = _Schema(("say",), ("wait", "action"))
_CUE_EVIDENCE = ("phrases", "characters", "pattern")
_CHOICES: dict[str, tuple[str, ...]] = {
    "kind": get_args(SituationKind),
    "where": get_args(RequiredWhere),
    "speaker": get_args(Speaker),
    "action": ("hang_up",),
}

_Table = tuple[Any, ...]  # a table's position: ("forbidden", 3) or ("situation", 0, "step", 1)
_Value = Situation | ForbiddenPhrase | RequiredPhrase | Cue | Rule | NamedPhrases
_T = TypeVar("_T")


class _Lines:
    """Line numbers of tables and keys, found by scanning a pack file's raw text.

    tomllib reports no positions, so the N-th `[[forbidden]]` header is taken to be the N-th
    forbidden entry, a `[[situation.step]]` belongs to the `[[situation]]` above it, and a
    `key =` line to the header above it. That is exact for the flat format packs use; text that
    looks like a header or key inside a multi-line string can mislead it, and a key written
    inline (`step = [{...}]`) is reported at its table's header.
    """

    _HEADER = re.compile(r"\s*(\[\[?)([^\[\]]+)\]\]?\s*(?:#.*)?$")
    _KEY = re.compile(r"""\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*[=.]""")

    def __init__(self, text: str) -> None:
        lines = text.splitlines()
        self.last = max(len(lines), 1)
        self.repeated_keys: dict[int, str] = {}  # line -> key set again in the same table
        self._headers: dict[_Table, int] = {}
        self._keys: dict[tuple[_Table, str], int] = {}
        latest: dict[str, _Table] = {}  # header name -> the table it opened last
        counts: dict[_Table, int] = {}
        table: _Table = ()
        for number, line in enumerate(lines, 1):
            if header := self._HEADER.match(line):
                name = ".".join(part.strip().strip("\"'") for part in header[2].split("."))
                parent, _, leaf = name.rpartition(".")
                base = (*latest.get(parent, (parent,)), leaf) if parent else (leaf,)
                if header[1] == "[[":
                    counts[base] = counts.get(base, 0) + 1
                    table = (*base, counts[base] - 1)
                else:
                    table = base
                latest[name] = table
                self._headers.setdefault(table, number)
            elif key := self._KEY.match(line):
                name = key[1].strip("\"'")
                if (table, name) in self._keys:
                    self.repeated_keys[number] = name
                self._keys.setdefault((table, name), number)

    def line(self, table: _Table, key: str | None = None) -> int:
        """The line of `key` in `table` (a key or a sub-table header), else of the table."""
        if key is not None:
            if (table, key) in self._keys:
                return self._keys[(table, key)]
            for sub in ((*table, key, 0), (*table, key)):
                if sub in self._headers:
                    return self._headers[sub]
        return self._headers.get(table, 1)


@dataclass(frozen=True)
class _Entry:
    """One entry of a pack file, before the packs are merged by id. `value` None: disabled."""

    table: str
    id: str
    value: _Value | None
    source: SourceRef
    id_line: int
    refers_to: tuple[str, int] | None = None  # (situation id, line) a forbidden phrase or cue names
    capture_line: int | None = None  # line of the first step that says {1}
    uses: tuple[tuple[str, str, int], ...] = ()  # (table, id, line) a rule names


class _FileReader:
    """Reads one pack file into entries, collecting every problem it finds on the way."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.problems: list[PackProblem] = []
        self.entries: list[_Entry] = []
        self.lines = _Lines("")
        try:
            raw = path.read_bytes()
        except OSError as error:
            problem = PackProblem(self.path, 0, "path", f"cannot read: {error.strerror}")
            self.problems.append(problem)
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            line = raw.count(b"\n", 0, error.start) + 1
            self.problems.append(PackProblem(self.path, line, "encoding", "not UTF-8 text"))
            return
        self.lines = _Lines(text)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            self._syntax_error(str(error))
            return
        for name, value in data.items():
            if name not in _TABLES:
                allowed = ", ".join(f"[[{table}]]" for table in _TABLES)
                self._problem((), name, f"unknown table; allowed: {allowed}")
            elif not _is_tables(value):
                self._problem((), name, f"write each entry as a [[{name}]] table")
            else:
                for index, table in enumerate(value):
                    self._entry(name, (name, index), table)

    def _syntax_error(self, message: str) -> None:
        """Report tomllib's error at its line; a key set twice often has none, so find it."""
        where = re.search(r" \(at (?:line (\d+), column \d+|end of document)\)$", message)
        text = message[: where.start()] if where else message
        set_twice = text.startswith("Cannot overwrite a value")
        repeated = self.lines.repeated_keys
        if where and where[1]:
            line = int(where[1])
        elif set_twice and repeated:
            line = min(repeated)
        else:
            line = self.lines.last
        if set_twice and line in repeated:
            key, text = repeated[line], "set twice in one table"
        else:
            key = "syntax"
        self.problems.append(PackProblem(self.path, line, key, text))

    def _problem(self, table: _Table, key: str, message: str) -> None:
        self.problems.append(PackProblem(self.path, self.lines.line(table, key), key, message))

    def _entry(self, name: str, table: _Table, raw: dict[str, Any]) -> None:
        schema = _TABLES[name]
        self._unknown_keys(table, raw, schema, f"[[{name}]]")  # reported, the rest still checked
        before = len(self.problems)
        disabled = raw.get("disabled", False)
        if not isinstance(disabled, bool):
            self._problem(table, "disabled", f"must be true or false, got {disabled!r}")
        for key in ("id",) if disabled else schema.required:
            if key not in raw:
                self._problem(table, key, f"missing (required in [[{name}]])")
        entry_id = raw.get("id")
        if entry_id is not None and (not isinstance(entry_id, str) or not _ID.fullmatch(entry_id)):
            self._problem(table, "id", f"must be ascii snake_case (a-z, 0-9, _), got {entry_id!r}")
        if len(self.problems) > before:
            return
        source = SourceRef(self.path, self.lines.line(table))
        entry = _Entry(name, entry_id, None, source, self.lines.line(table, "id"))
        if not disabled:
            build = {
                "situation": self._situation,
                "forbidden": self._forbidden,
                "required": self._required,
                "cue": self._cue,
                "rule": self._rule,
                "phrase_set": self._phrase_set,
            }[name]
            entry = build(table, raw, entry)
        if len(self.problems) == before:
            self.entries.append(entry)

    def _situation(self, table: _Table, raw: dict[str, Any], entry: _Entry) -> _Entry:
        steps: list[Step] = []
        capture_line = None
        raw_steps = raw.get("step", [])
        if not _is_tables(raw_steps):
            self._problem(table, "step", "write each step as a [[situation.step]] table")
            raw_steps = []
        for index, raw_step in enumerate(raw_steps):
            where = (*table, "step", index)
            self._unknown_keys(where, raw_step, _STEP, "[[situation.step]]")
            say = self._text(where, raw_step, "say")
            wait = self._number(where, raw_step, "wait", _positive, "a positive number of seconds")
            action = self._choice(where, raw_step, "action")
            last = index == len(raw_steps) - 1
            if last and wait is not None:
                self._problem(where, "wait", "the last step has no next step to wait for")
            if action == "hang_up" and not last:
                self._problem(where, "action", "hang_up must be the last step")
            if say is not None and "{1}" in say and capture_line is None:
                capture_line = self.lines.line(where, "say")
            steps.append(Step(say=say or "", wait=wait, action=action))  # type: ignore[arg-type]
        if not raw.get("step") and "advice" not in raw:
            self._problem(table, "step", "a situation needs [[situation.step]] lines or an advice")
        after = self._number(table, raw, "after", _positive, "a positive number of seconds")
        if entry.id == TIMED_FIRST_STEP and steps and "after" not in raw:
            message = "missing: the seconds of silence after the agent speaks before step 1 (the standard: 5.0)"
            self._problem(table, "after", message)
        elif entry.id != TIMED_FIRST_STEP and after is not None:
            message = f"only {TIMED_FIRST_STEP}'s step 1 waits for a time; {entry.id}'s comes when it is detected"
            self._problem(table, "after", message)
        situation = Situation(
            id=entry.id,
            title=self._text(table, raw, "title", placeholders=False) or "",
            kind=self._choice(table, raw, "kind") or "situation",  # type: ignore[arg-type]
            steps=tuple(steps),
            advice=self._text(table, raw, "advice", required=False),
            source=entry.source,
            after=after,
        )
        return replace(entry, value=situation, capture_line=capture_line)

    def _forbidden(self, table: _Table, raw: dict[str, Any], entry: _Entry) -> _Entry:
        phrase = ForbiddenPhrase(
            id=entry.id,
            phrase=self._text(table, raw, "phrase") or "",
            situation=self._text(table, raw, "situation", placeholders=False) or "",
            threshold=self._threshold(table, raw),
            source=entry.source,
        )
        refers_to = (phrase.situation, self.lines.line(table, "situation"))
        return replace(entry, value=phrase, refers_to=refers_to)

    def _required(self, table: _Table, raw: dict[str, Any], entry: _Entry) -> _Entry:
        required = RequiredPhrase(
            id=entry.id,
            where=self._choice(table, raw, "where") or "opening",  # type: ignore[arg-type]
            phrases=self._texts(table, raw, "phrases"),
            threshold=self._threshold(table, raw),
            source=entry.source,
        )
        return replace(entry, value=required)

    def _cue(self, table: _Table, raw: dict[str, Any], entry: _Entry) -> _Entry:
        given = [key for key in _CUE_EVIDENCE if key in raw]
        if len(given) != 1:
            key = given[1] if given else _CUE_EVIDENCE[0]
            self._problem(table, key, "a cue takes exactly one of phrases, characters, pattern")
        characters = self._text(table, raw, "characters", required=False, placeholders=False)
        pattern = self._text(table, raw, "pattern", required=False, placeholders=False)
        if pattern is not None and (problem := pattern_problem(pattern)):
            self._problem(table, "pattern", problem)
        cue = Cue(
            id=entry.id,
            situation=self._text(table, raw, "situation", placeholders=False) or "",
            speaker=self._choice(table, raw, "speaker") or "caller",  # type: ignore[arg-type]
            phrases=self._texts(table, raw, "phrases") if "phrases" in raw else (),
            characters="".join((characters or "").split()),  # spaces may separate them for review
            pattern=pattern,
            threshold=self._threshold(table, raw),
            source=entry.source,
        )
        refers_to = (cue.situation, self.lines.line(table, "situation"))
        return replace(entry, value=cue, refers_to=refers_to)

    def _rule(self, table: _Table, raw: dict[str, Any], entry: _Entry) -> _Entry:
        reader = RuleReader(lambda key, message: self._problem(table, key, message))
        rule = replace(reader.rule(entry.id, raw), source=entry.source)
        uses = tuple((r.kind, r.name, self.lines.line(table, r.key)) for r in reader.references)
        return replace(entry, value=rule, uses=uses)

    def _phrase_set(self, table: _Table, raw: dict[str, Any], entry: _Entry) -> _Entry:
        phrases = read_phrase_set(raw, lambda key, message: self._problem(table, key, message))
        return replace(entry, value=NamedPhrases(entry.id, phrases, entry.source))

    def _unknown_keys(
        self, table: _Table, raw: Mapping[str, Any], schema: _Schema, name: str
    ) -> None:
        for key in schema.unknown(raw):
            self._problem(table, key, f"unknown key; allowed in {name}: {schema.allowed()}")

    def _text(
        self,
        table: _Table,
        raw: Mapping[str, Any],
        key: str,
        *,
        required: bool = True,
        placeholders: bool = True,
    ) -> str | None:
        if key not in raw:
            if required:
                self._problem(table, key, "missing")
            return None
        value = raw[key]
        if not isinstance(value, str):
            self._problem(table, key, f"must be a string, got {value!r}")
            return None
        if not value.strip():
            self._problem(table, key, "empty")
            return None
        if placeholders:
            self._placeholders(table, key, value)
        return value

    def _texts(self, table: _Table, raw: Mapping[str, Any], key: str) -> tuple[str, ...]:
        value = raw[key]
        if not isinstance(value, list) or not value:
            self._problem(table, key, "must be a non-empty list of strings")
            return ()
        for item in value:
            if not isinstance(item, str) or not item.strip():
                self._problem(table, key, f"empty or not a string: {item!r}")
                return ()
            self._placeholders(table, key, item)
        return tuple(value)

    def _placeholders(self, table: _Table, key: str, text: str) -> None:
        for name in _PLACEHOLDER.findall(text):
            if name not in KNOWN_PLACEHOLDERS:
                known = ", ".join(f"{{{known}}}" for known in KNOWN_PLACEHOLDERS)
                self._problem(table, key, f"unknown placeholder {{{name}}}; known: {known}")

    def _choice(self, table: _Table, raw: Mapping[str, Any], key: str) -> str | None:
        value = raw.get(key)
        if value is not None and value not in _CHOICES[key]:
            self._problem(table, key, f"must be one of {', '.join(_CHOICES[key])}; got {value!r}")
            return None
        return value

    def _number(
        self,
        table: _Table,
        raw: Mapping[str, Any],
        key: str,
        ok: Callable[[float], bool],
        expected: str,
    ) -> float | None:
        if key not in raw:
            return None
        value = raw[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
            self._problem(table, key, f"must be {expected}, got {value!r}")
            return None
        return float(value)

    def _threshold(self, table: _Table, raw: Mapping[str, Any]) -> float | None:
        return self._number(table, raw, "threshold", _percent, "a number from 0 to 100")


def _positive(value: float) -> bool:
    return 0 < value < math.inf


def _percent(value: float) -> bool:
    return 0 <= value <= 100


def _is_tables(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _pack_files(path: Path) -> tuple[list[Path], str | None]:
    """A pack's files (the file itself, or a folder's *.toml in name order), or what is wrong."""
    if path.is_dir():
        files = sorted(path.glob("*.toml"))
        return files, None if files else "no *.toml files in this folder"
    if path.is_file():
        return [path], None
    return [], "no such file or folder"


@dataclass
class _Assembly:
    """The packs merged by id, every file read (in order) and every problem found."""

    files: list[str] = field(default_factory=list)
    entries: dict[str, dict[str, _Entry]] = field(
        default_factory=lambda: {name: {} for name in _TABLES}
    )
    problems: list[PackProblem] = field(default_factory=list)

    def values(self, table: str, kind: type[_T]) -> list[_T]:
        return [e.value for e in self.entries[table].values() if isinstance(e.value, kind)]


def _assemble(paths: Sequence[Path | str] | None) -> _Assembly:
    """Read the standard pack, then each extra pack in order, merging entries by id."""
    out = _Assembly()
    for pack in (standard_pack_dir(), *map(Path, paths or ())):
        files, problem = _pack_files(pack)
        if problem:
            out.files.append(str(pack))
            out.problems.append(PackProblem(str(pack), 0, "path", problem))
        first_in_pack: dict[tuple[str, str], _Entry] = {}
        for file in files:
            reader = _FileReader(file)
            out.files.append(reader.path)
            out.problems += reader.problems
            for entry in reader.entries:
                first = first_in_pack.setdefault((entry.table, entry.id), entry)
                merged = out.entries[entry.table]
                if first is not entry:
                    message = (
                        f"duplicate {entry.table} id {entry.id!r}; "
                        f"first at {first.source.path}:{first.id_line}"
                    )
                elif entry.value is not None:
                    merged[entry.id] = entry
                    continue
                elif merged.pop(entry.id, None) is None:
                    message = f"disabled, but no earlier pack defines {entry.table} {entry.id!r}"
                else:
                    continue
                out.problems.append(PackProblem(reader.path, entry.id_line, "id", message))
    out.problems += _cross_check(out.entries)
    order = {path: index for index, path in enumerate(out.files)}
    out.problems.sort(key=lambda p: (order[p.path], p.line))
    return out


def _cross_check(entries: dict[str, dict[str, _Entry]]) -> list[PackProblem]:
    """Problems between entries of the merged packs: references to situations."""
    problems = []
    situations = entries["situation"]
    for entry in (*entries["forbidden"].values(), *entries["cue"].values()):
        assert entry.refers_to is not None
        name, line = entry.refers_to
        if name not in situations:
            close = _closest(name, situations)
            message = f"no situation {name!r} is defined"
            message += f" (did you mean {close!r}?)" if close else ""
            problems.append(PackProblem(entry.source.path, line, "situation", message))
    for entry in entries["phrase_set"].values():
        if entry.id in STANDARD_LINES:
            message = f"{entry.id!r} names the standard's lines in rules (@{entry.id}); choose another id"
            problems.append(PackProblem(entry.source.path, entry.id_line, "id", message))
    for entry in entries["rule"].values():
        for table, name, line in entry.uses:
            if table == "phrases" and name.endswith(SITUATION_LINES):
                problem = _situation_lines_problem(name.removesuffix(SITUATION_LINES), situations)
                if problem:
                    problems.append(PackProblem(entry.source.path, line, "situation", problem))
                continue
            known = [*entries["phrase_set"], *STANDARD_LINES] if table == "phrases" else list(entries[table])
            if name not in known:
                close = _closest(name, known)
                what = "phrase_set" if table == "phrases" else table
                message = f"no {what} {name!r} is defined" + (f" (did you mean {close!r}?)" if close else "")
                problems.append(PackProblem(entry.source.path, line, what, message))
    capturing = {
        entry.value.situation
        for entry in entries["cue"].values()
        if isinstance(entry.value, Cue)
        and entry.value.pattern
    }
    for entry in situations.values():
        if entry.capture_line is not None and entry.id not in capturing:
            message = "{1} needs a cue for this situation whose pattern has a group"
            problems.append(PackProblem(entry.source.path, entry.capture_line, "say", message))
    return problems


def _closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like a mistyped one, if any is alike (difflib is loaded only when a
    pack has such a problem)."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    return close[0] if close else None


def _situation_lines_problem(name: str, situations: dict[str, _Entry]) -> str | None:
    """What is wrong with "@NAME.say" in a rule, if anything."""
    entry = situations.get(name)
    if entry is None:
        close = _closest(name, situations)
        return f"no situation {name!r} is defined" + (f" (did you mean '{close}{SITUATION_LINES}'?)" if close else "")
    assert isinstance(entry.value, Situation)
    if not spoken_lines(entry.value):
        return f"situation {name!r} has no line to say (its steps are stage directions or it has only advice)"
    return None


def spoken_lines(situation: Situation) -> tuple[str, ...]:
    """The lines the situation's steps say, stage directions (text in （）) left out."""
    lines = (_STAGE_DIRECTION.sub("", step.say).strip() for step in situation.steps)
    return tuple(line for line in lines if line)


def check_packs(paths: Sequence[Path | str] | None = None) -> list[PackProblem]:
    """Every problem in the standard pack plus `paths`, in load order (file, then line).

    The standard pack is always included: a deployment pack's references to situations are
    resolved against it, and overriding one of its ids is not a duplicate.
    """
    return _assemble(paths).problems


def load_pack(
    paths: Sequence[Path | str] | None = None, placeholders: Mapping[str, str] | None = None
) -> ScriptPack:
    """The standard pack extended by `paths` (files or folders of *.toml), in order.

    A later entry with the same id (per table) replaces the earlier one whole; `disabled = true`
    removes it. `placeholders` are kept for `ScriptPack.fill`, which fills {company} and {agent}
    in what is shown; entries keep their templates, because in matching a placeholder matches
    anything (the greeting matches whatever company name the agent says). Missing or empty
    values leave the placeholder as it is. Raises ConfigError with the first
    problem `check_packs` reports.
    """
    values: dict[str, str] = {}
    for name, value in (placeholders or {}).items():
        if name not in CONFIG_PLACEHOLDERS:
            raise ConfigError(
                f"placeholder {{{name}}} cannot be configured; only {{company}} and {{agent}} can"
            )
        if value:
            values[name] = value
    assembly = _assemble(paths)
    if assembly.problems:
        raise ConfigError(str(assembly.problems[0]))
    forbidden = tuple(assembly.values("forbidden", ForbiddenPhrase))
    required = assembly.values("required", RequiredPhrase)
    named = {s.id: tuple(map(Phrase, s.phrases)) for s in assembly.values("phrase_set", NamedPhrases)}
    for where in get_args(RequiredWhere):
        named[where] = tuple(Phrase(p, r.threshold, r.id) for r in required if r.where == where for p in r.phrases)
    named[FORBIDDEN_LINES] = tuple(Phrase(f.phrase, f.threshold, f.id, f.situation) for f in forbidden)
    situations = {s.id: s for s in assembly.values("situation", Situation)}
    for situation in situations.values():
        lines = tuple(Phrase(line, line_of=situation.id) for line in spoken_lines(situation))
        named[situation.id + SITUATION_LINES] = lines
    return ScriptPack(
        sources=tuple(assembly.files),
        situations=situations,
        forbidden=forbidden,
        required={r.id: r for r in required},
        cues=tuple(assembly.values("cue", Cue)),
        placeholders=values,
        rules=tuple(expand_sets(rule, named) for rule in assembly.values("rule", Rule)),
    )
