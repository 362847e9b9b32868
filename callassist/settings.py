"""Settings: defaults from `defaults.toml`, overridden by the user's config file."""

from __future__ import annotations

import os
import re
import sys
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callassist.errors import ConfigError

if TYPE_CHECKING:
    from callassist.scriptpack import ScriptPack


@dataclass(frozen=True)
class CallSettings:
    """[call]: who answers (fills {company} and {agent} in the approved lines)."""

    company: str
    agent: str


@dataclass(frozen=True)
class ScriptsSettings:
    """[scripts]: extra script packs over the standard one."""

    extra: tuple[str, ...]


@dataclass(frozen=True)
class TimingSettings:
    """[timings]: seconds that the situations are judged by."""

    dead_air: float
    crosstalk_overlap: float
    hold_check_back: float
    episode_gap: float


@dataclass(frozen=True)
class SpeechRateSettings:
    """[speech_rate]: when the agent speaks too fast."""

    max_chars_per_second: float
    min_duration: float


@dataclass(frozen=True)
class MatchingSettings:
    """[matching]: how closely heard text must match a phrase."""

    threshold: float


@dataclass(frozen=True)
class DialectSettings:
    """[dialect]: the lexical and confidence cues for a caller's dialect."""

    min_characters: int
    low_confidence: float
    min_words_for_confidence: int


@dataclass(frozen=True)
class AcousticSettings:
    """[acoustic]: levels and windows of the audio checks."""

    quiet_level_dbfs: float
    quiet_min_speech: float
    voice_window: float
    background_window: float
    noisy_snr_db: float
    noisy_min_background_dbfs: float
    noisy_min_speech: float
    noisy_floor_dbfs: float
    noisy_min_floor_time: float
    min_turn: float
    angry_jump_db: float
    angry_pitch_rise: float
    angry_min_speech: float
    angry_baseline_speech: float


@dataclass(frozen=True)
class LiveSettings:
    """[live]: devices and channels of a live call, and where its reports go."""

    agent_device: str
    agent_channel: int
    caller_device: str
    caller_channel: int
    sample_rate: int
    calls_dir: str
    record: bool
    meter_hz: int


@dataclass(frozen=True)
class KeySettings:
    """[keys]: the live screen's keys."""

    start_call: str
    end_call: str
    hold: str
    silent: str
    quiet: str
    noisy: str
    dialect: str
    angry: str
    dismiss: str
    retry_save: str
    help: str
    quit: str
    pause: str
    back: str
    forward: str


@dataclass(frozen=True)
class UiSettings:
    """[ui]: the language of labels."""

    language: str  # "zh" or "en": labels on the screen, in HTML reports and summaries


@dataclass(frozen=True)
class PrivacySettings:
    """[privacy]: whether what is written is masked (as --mask), so a deployment can make it
    the default for its agents."""

    mask: bool


@dataclass(frozen=True)
class ScoreSettings:
    """[score]: the starting score and what each event deducts."""

    start: int
    deductions: dict[str, int]


@dataclass(frozen=True)
class Settings:
    """The effective configuration: defaults.toml overlaid by the user's config file."""

    call: CallSettings
    scripts: ScriptsSettings
    timings: TimingSettings
    speech_rate: SpeechRateSettings
    matching: MatchingSettings
    dialect: DialectSettings
    acoustic: AcousticSettings
    live: LiveSettings
    keys: KeySettings
    score: ScoreSettings
    ui: UiSettings
    privacy: PrivacySettings
    source: str  # the config file used, or "defaults"
    base_dir: Path  # relative paths in the config are relative to this folder

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source}
        for section in SECTIONS:
            value = getattr(self, section)
            out[section] = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Settings:
        """Settings as a report states them (`to_json`); relative paths have no base folder. A
        section a report of an earlier version lacks gets the defaults."""
        defaults = _defaults()
        return _build({name: data.get(name, defaults[name]) for name in SECTIONS}, data["source"], Path("."))


SECTIONS: dict[str, type] = {
    "call": CallSettings,
    "scripts": ScriptsSettings,
    "timings": TimingSettings,
    "speech_rate": SpeechRateSettings,
    "matching": MatchingSettings,
    "dialect": DialectSettings,
    "acoustic": AcousticSettings,
    "live": LiveSettings,
    "keys": KeySettings,
    "score": ScoreSettings,
    "ui": UiSettings,
    "privacy": PrivacySettings,
}
CHOICES = {"ui.language": ("zh", "en")}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


_DAY = 24 * 3600.0
# Allowed values of every number setting: (lowest, highest, lowest allowed itself). NaN and
# infinity are outside every range. Checked for the defaults and for every config file.
NUMBER_RANGES: dict[str, tuple[float, float, bool]] = {
    **{f"timings.{f.name}": (0.0, _DAY, False) for f in fields(TimingSettings)},
    "speech_rate.max_chars_per_second": (0.0, 100.0, False),
    "speech_rate.min_duration": (0.0, _DAY, True),
    "matching.threshold": (0.0, 100.0, True),
    "dialect.min_characters": (1, 1000, True),
    "dialect.low_confidence": (0.0, 1.0, True),
    "dialect.min_words_for_confidence": (1, 1000, True),
    "acoustic.quiet_level_dbfs": (-120.0, 0.0, True),
    "acoustic.quiet_min_speech": (0.0, _DAY, False),
    "acoustic.noisy_snr_db": (0.0, 120.0, True),
    "acoustic.noisy_min_speech": (0.0, _DAY, False),
    "acoustic.noisy_floor_dbfs": (-120.0, 0.0, True),
    "acoustic.noisy_min_floor_time": (0.0, _DAY, False),
    "acoustic.angry_jump_db": (0.0, 120.0, False),
    "acoustic.angry_pitch_rise": (1.0, 10.0, True),
    "acoustic.angry_min_speech": (0.0, _DAY, False),
    "acoustic.angry_baseline_speech": (0.0, _DAY, False),
    "live.agent_channel": (0, 63, True),
    "live.caller_channel": (-1, 63, True),
    "live.sample_rate": (8000, 192000, True),
    "live.meter_hz": (1, 60, True),
    "score.start": (0, 10000, True),
}
DEDUCTION_RANGE = (0, 1000)


def _shown(value: Any) -> str:
    """A value for an error line: a 400-digit number is not shown whole."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:20]}... ({len(text)} characters)"


def user_config_path() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "callassist" / "config.toml"


def find_config(explicit: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: config file not found; check the --config path")
        return explicit
    for candidate in (Path("callassist.toml"), user_config_path()):
        try:
            if candidate.is_file():
                return candidate
        except OSError as error:  # e.g. a config folder the user may not read
            raise ConfigError(f"{candidate}: cannot read config file ({error.strerror}); fix its permissions or give --config") from None
    return None


def _defaults_text() -> str:
    # Beside this module, as the wheel installs it (importlib.resources would cost every start
    # 0.01 s of imports, zipfile among them, for packages that are never zipped).
    return Path(__file__).with_name("defaults.toml").read_text(encoding="utf-8")


def _defaults() -> dict[str, Any]:
    return tomllib.loads(_defaults_text())


def unset_placeholders(settings: Settings) -> dict[str, str]:
    """The company and agent names when either is still the out-of-the-box placeholder (or
    empty), so the approved lines would read 「欢迎致电XX…客服代表YYY」; {} once set up."""
    shipped = _defaults()["call"]
    values = {"company": settings.call.company, "agent": settings.call.agent}
    if any(not value.strip() or value == shipped[key] for key, value in values.items()):
        return values
    return {}


def load_settings(config: Path | None = None) -> Settings:
    """Defaults overlaid with the first config file found (see defaults.toml for the order)."""
    defaults_text = _defaults_text()
    merged = tomllib.loads(defaults_text)
    path = find_config(config)
    if path is None:
        _check_ranges(merged, "defaults.toml", defaults_text)
        return _build(merged, "defaults", Path.cwd())
    text = _read(path)
    try:
        overrides = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}:{_toml_error_line(error)}: {_toml_error_message(error)}") from None
    _overlay(merged, overrides, path, text, prefix="")
    _check_ranges(merged, str(path), text)
    return _build(merged, str(path), path.resolve().parent)


def _check_ranges(merged: dict, path: str, text: str) -> None:
    """Every number setting within its range (finite); every deduction a whole number of points."""
    for dotted, (low, high, low_allowed) in NUMBER_RANGES.items():
        section, key = dotted.split(".")
        value = merged[section][key]
        if not (low <= value <= high) or (value == low and not low_allowed):
            bound = f"from {low:g}" if low_allowed else f"more than {low:g}"
            raise ConfigError(f"{path}:{key_line(text, dotted)}: {dotted}: must be {bound} to {high:g}, not {_shown(value)}")
    for event_id, points in merged["score"]["deductions"].items():
        low, high = DEDUCTION_RANGE
        if isinstance(points, bool) or not isinstance(points, int) or not low <= points <= high:
            dotted = f"score.deductions.{event_id}"
            raise ConfigError(f"{path}:{key_line(text, dotted)}: {dotted}: must be whole points from {low} to {high}, not {_shown(points)}")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config file ({error.strerror}); check its permissions") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not UTF-8 text; save it as UTF-8") from None


# Settings that became part of the script pack's rules, and where to change them now.
MOVED_TO_PACK = {
    "timings.silent_step": (
        "the silence before silent_caller's step 1 is its `after` in the script pack "
        "(scripts_zh/situations.toml); override that situation in a deployment pack"
    ),
    "timings.greeting_within": (
        "the greeting's window is the `first` of the standard's missing_greeting rule "
        "(scripts_zh/rules.toml); override that rule in a deployment pack"
    ),
}


def _overlay(base: dict, overrides: dict, path: Path, text: str, prefix: str) -> None:
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if key not in base:
            allowed = ", ".join(sorted(base)) if base else "none"
            if prefix == "score.deductions.":  # deductions are open: any event id may be weighed
                base[key] = value
                continue
            line = key_line(text, dotted)
            if dotted in MOVED_TO_PACK:
                raise ConfigError(f"{path}:{line}: {dotted}: no longer a setting; {MOVED_TO_PACK[dotted]}")
            raise ConfigError(f"{path}:{line}: {dotted}: unknown setting (known here: {allowed})")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{path}:{key_line(text, dotted)}: {dotted}: must be a [section]")
            _overlay(base[key], value, path, text, prefix=f"{dotted}.")
            continue
        if not _same_type(base[key], value):
            expected = type(base[key]).__name__
            line = key_line(text, dotted)
            raise ConfigError(f"{path}:{line}: {dotted}: must be {expected}, not {value!r}")
        if dotted in CHOICES and value not in CHOICES[dotted]:
            allowed = " or ".join(repr(c) for c in CHOICES[dotted])
            raise ConfigError(f"{path}:{key_line(text, dotted)}: {dotted}: must be {allowed}, not {value!r}")
        base[key] = value


def _same_type(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _build(data: dict, source: str, base_dir: Path) -> Settings:
    sections = {}
    for name, cls in SECTIONS.items():
        values = dict(data[name])
        for f in fields(cls):
            if f.type == "tuple[str, ...]":
                values[f.name] = tuple(values[f.name])
            elif f.type == "float":
                values[f.name] = float(values[f.name])
        sections[name] = cls(**values)
    return Settings(**sections, source=source, base_dir=base_dir)


def key_line(text: str, dotted: str) -> int:
    """Line of `section.key` in a flat TOML file (tomllib keeps no positions)."""
    *section_parts, key = dotted.split(".")
    section = ".".join(section_parts)
    current = ""
    header = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.match(line)
        if match:
            current = match.group(1).strip()
            if current == dotted:
                return number
            continue
        if current == section and re.match(rf"^\s*{re.escape(key)}\s*=", line):
            return number
    return 1


def _toml_error_line(error: tomllib.TOMLDecodeError) -> int:
    match = re.search(r"line (\d+)", str(error))
    return int(match.group(1)) if match else 1


def _toml_error_message(error: tomllib.TOMLDecodeError) -> str:
    return re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error)) + " (TOML syntax)"


def effective_pack(settings: Settings, extra: list[Path]) -> ScriptPack:
    """The standard pack, then the packs the settings name, then `extra` (command line), with
    the settings' placeholders filled: the pack every command runs."""
    from callassist.scriptpack import load_pack

    configured = [settings.base_dir / p for p in settings.scripts.extra]
    placeholders = {"company": settings.call.company, "agent": settings.call.agent}
    return load_pack(configured + extra, placeholders)
