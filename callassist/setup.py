"""`callassist setup`: the first run at a desk. Asks the company and the agent's name or number
(they fill the approved lines), the agent's microphone and where the caller is heard, shows a
live level meter for each chosen input so the agent can check both sides, and writes the config
file that `live` then reads. Every answer can be given as a flag instead (`--no-input`).

The config file is edited in place: keys set here are replaced or added under their section,
everything else in the file (comments included) stays as it was.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from callassist.errors import ConfigError
from callassist.settings import Settings, find_config, load_settings, user_config_path

Ask = Callable[[str], str]
Say = Callable[[str], None]
METER_SECONDS = 6.0


@dataclass
class Choices:
    """What setup writes: [call] company and agent, [live] devices, [ui] language."""

    company: str
    agent: str
    agent_device: str
    caller_device: str
    caller_channel: int
    language: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Choices:
        live = settings.live
        return cls(settings.call.company, settings.call.agent, live.agent_device, live.caller_device,
                   live.caller_channel, settings.ui.language)

    def sections(self) -> dict[str, dict[str, Any]]:
        return {
            "call": {"company": self.company, "agent": self.agent},
            "live": {"agent_device": self.agent_device, "caller_device": self.caller_device,
                     "caller_channel": self.caller_channel},
            "ui": {"language": self.language},
        }


def add_setup_command(commands: argparse._SubParsersAction) -> None:
    setup = commands.add_parser("setup", help="first run: company, agent, devices (with a level check); writes the config")
    setup.add_argument("--config", type=Path, help="config file to write (default: the one `live` reads)")
    setup.add_argument("--company", help="company or hotline name: fills {company} in the approved lines")
    setup.add_argument("--agent", help="the agent's name or number: fills {agent}")
    setup.add_argument("--agent-device", help="microphone: number or part of the name (`callassist devices`); '' = default")
    setup.add_argument("--caller-device", help="device carrying the caller, or loopback:NAME; '' = none")
    setup.add_argument("--caller-channel", type=int, help="channel carrying the caller (-1: none)")
    setup.add_argument("--language", choices=("zh", "en"), help="screen and report labels")
    setup.add_argument("--no-input", action="store_true", help="ask nothing: write what the flags say")
    setup.add_argument("--meter-seconds", type=float, default=METER_SECONDS, help="length of the level check (0: none)")


def config_target(explicit: Path | None) -> Path:
    """The file `live` will read: the one given, else the first found, else the user's config."""
    return explicit or find_config(None) or user_config_path()


def run_setup(args: argparse.Namespace, ask: Ask = input, say: Say = print) -> int:
    path = config_target(args.config)
    current = load_settings(path) if path.is_file() else load_settings(None)
    choices = Choices.from_settings(current)
    for name in ("company", "agent", "agent_device", "caller_device", "caller_channel", "language"):
        value = getattr(args, name)
        if value is not None:
            setattr(choices, name, value.strip() if isinstance(value, str) else value)
    interactive = not args.no_input and sys.stdin.isatty()
    if interactive:
        ask_interactively(choices, args, ask, say, current.live.sample_rate)
    else:
        missing = [f"--{key}" for key in ("company", "agent")
                   if not getattr(choices, key) or getattr(choices, key) == _shipped_call()[key]]
        if missing:
            raise ConfigError(
                f"setup: {' and '.join(missing)} must be given (the approved lines would read XX/YYY); "
                "e.g. callassist setup --company 平安 --agent 302 --no-input"
            )
    write_config(path, choices.sections())
    say(f"config written: {path}")
    say("next: callassist live" + (f" --config {path}" if args.config else ""))
    return 0


def _shipped_call() -> dict[str, str]:
    """The company and agent as shipped: placeholders, not names."""
    from callassist.settings import _defaults

    return _defaults()["call"]


def ask_interactively(choices: Choices, args: argparse.Namespace, ask: Ask, say: Say, sample_rate: int = 16000) -> None:
    from callassist.errors import CallassistError
    from callassist.live.devices import format_device_table, format_loopback_section, list_input_devices
    from callassist.live.loopback import loopback_speakers

    shipped = _shipped_call()
    say("callassist setup — press Enter to keep the value in [brackets].")
    choices.company = _ask(ask, "公司/热线名称 company", "" if choices.company == shipped["company"] else choices.company)
    choices.agent = _ask(ask, "坐席姓名或工号 agent name or number", "" if choices.agent == shipped["agent"] else choices.agent)
    say("")
    try:
        say(format_device_table(list_input_devices()))
    except CallassistError as error:  # no sound system here: the devices can still be named
        say(f"(cannot list the input devices: {error})")
    say("")
    say(format_loopback_section(loopback_speakers()))
    say("")
    choices.agent_device = _ask(ask, "坐席麦克风 agent's microphone (number or name; Enter = default input)",
                                choices.agent_device, allow_empty=True)
    say("客户声音 where is the caller heard?  1 = a second device or loopback:NAME,  "
        "2 = a channel of the microphone's device,  3 = not wired")
    current = "1" if choices.caller_device else "2" if choices.caller_channel >= 0 else "3"
    how = _ask(ask, "caller (1/2/3)", current)
    if how == "1":
        choices.caller_device = _ask(ask, "caller device (number, name or loopback:NAME)", choices.caller_device)
        choices.caller_channel = max(choices.caller_channel, 0)
    elif how == "2":
        choices.caller_device = ""
        choices.caller_channel = _ask_number(ask, say, "caller channel", max(choices.caller_channel, 1))
    else:
        choices.caller_device, choices.caller_channel = "", -1
    if args.meter_seconds > 0:
        check_levels(choices, args.meter_seconds, say, sample_rate)


def _ask_number(ask: Ask, say: Say, question: str, current: int) -> int:
    while True:
        answer = _ask(ask, question, str(current))
        if answer.isdigit():
            return int(answer)
        say(f"'{answer}' is not a channel number: 0, 1, ...")


def _ask(ask: Ask, question: str, current: str, allow_empty: bool = False) -> str:
    while True:
        answer = ask(f"{question} [{current}]: ").strip()
        if answer:
            return answer
        if current or allow_empty:
            return current


def check_levels(choices: Choices, seconds: float, say: Say, sample_rate: int = 16000,
                 clock: Callable[[], float] = time.monotonic) -> None:
    """A live meter per side for `seconds`: the agent speaks, a test call plays through the softphone."""
    from callassist.errors import CallassistError
    from callassist.live.devices import resolve_input_device
    from callassist.live.loopback import LoopbackSource, SoundcardCapture, is_loopback, loopback_name
    from callassist.live.sources import DeviceSource

    say(f"Level check, {seconds:g} s: speak into the headset; play something through the softphone (the caller's side).")
    try:
        device = resolve_input_device(choices.agent_device or None)
        separate = bool(choices.caller_device)
        channels = max(1, choices.caller_channel + 1 if not separate and choices.caller_channel >= 0 else 1)
        sources = [DeviceSource(device.index, min(channels, device.channels))]
        wiring = [("坐席 agent", 0, 0)]
        if is_loopback(choices.caller_device):
            sources.append(LoopbackSource(SoundcardCapture(loopback_name(choices.caller_device), sample_rate)))
            wiring.append(("客户 caller", 1, 0))
        elif separate:
            sources.append(DeviceSource(choices.caller_device, max(choices.caller_channel, 0) + 1))
            wiring.append(("客户 caller", 1, max(choices.caller_channel, 0)))
        elif choices.caller_channel >= 0:
            wiring.append(("客户 caller", 0, choices.caller_channel))
        for source in sources:
            source.start()
    except CallassistError as error:
        say(f"level check skipped: {error}")
        return
    levels = {label: -100.0 for label, _, _ in wiring}
    peaks = dict(levels)
    end = clock() + seconds
    try:
        while clock() < end:
            for index, source in enumerate(sources):
                block = source.read(timeout=0.05)
                if block is None:
                    continue
                for label, wired, channel in wiring:
                    if wired == index and channel < block.samples.shape[1]:
                        levels[label] = _dbfs(block.samples[:, channel])
                        peaks[label] = max(peaks[label], levels[label])
            sys.stdout.write("\r" + "   ".join(_bar(label, level) for label, level in levels.items()) + "  ")
            sys.stdout.flush()
    finally:
        for source in sources:
            source.stop()
    say("")
    for label, peak in peaks.items():
        verdict = "ok" if peak > -45 else "quiet or silent: check the device and its volume"
        say(f"{label}: loudest {peak:.0f} dBFS — {verdict}")


def _dbfs(samples) -> float:
    import numpy as np

    energy = float(np.mean(np.square(samples, dtype=np.float64))) if len(samples) else 0.0
    return 10 * np.log10(energy) if energy > 1e-10 else -100.0


def _bar(label: str, dbfs: float, width: int = 20) -> str:
    filled = round(width * min(max((dbfs + 60) / 60, 0.0), 1.0))
    return f"{label} {'█' * filled}{'░' * (width - filled)} {dbfs:4.0f} dB"


# ---------------------------------------------------------------- writing the config file


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> None:
    """Set `sections` in the TOML file at `path` (created if missing), keeping everything else."""
    from callassist.atomic import write_text_atomically

    text = path.read_text(encoding="utf-8") if path.is_file() else "# callassist configuration (written by `callassist setup`)\n"
    for section, values in sections.items():
        for key, value in values.items():
            text = set_key(text, section, key, value)
    write_text_atomically(path, text)
    load_settings(path)  # what was written must load: an error names the file and line


def set_key(text: str, section: str, key: str, value: Any) -> str:
    line = f"{key} = {toml_value(value)}"
    lines = text.splitlines()
    header = re.compile(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$")
    start = next((i for i, l in enumerate(lines) if (m := header.match(l)) and m.group(1).strip() == section), None)
    if start is None:
        return text.rstrip("\n") + f"\n\n[{section}]\n{line}\n"
    end = next((i for i in range(start + 1, len(lines)) if header.match(lines[i])), len(lines))
    for i in range(start + 1, end):
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            lines[i] = line
            return "\n".join(lines) + "\n"
    while end > start + 1 and not lines[end - 1].strip():  # after the section's last line, before blanks
        end -= 1
    lines.insert(end, line)
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string
