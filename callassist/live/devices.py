"""Audio input devices as PortAudio sees them: listing, choosing one by number or name, and the
`callassist devices` table."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from callassist.errors import CallassistError

RUN_DEVICES_HINT = "run `callassist devices` to see the input devices"


class AudioDeviceError(CallassistError):
    """No usable input device: PortAudio missing, or the device asked for is not there."""


@dataclass(frozen=True)
class InputDevice:
    """A device that can record, numbered as PortAudio numbers it for this run of the program."""

    index: int
    name: str
    channels: int  # most input channels it offers
    default_rate: float  # Hz
    host_api: str  # "ALSA", "Windows WASAPI", "MME", "Core Audio", ...
    is_default: bool  # the system's default input device


def sounddevice_module() -> ModuleType:
    """Import sounddevice, turning a missing PortAudio library into a one-line user error."""
    try:
        import sounddevice
    except OSError as error:
        raise AudioDeviceError(
            f"cannot use the sound system: {error} (PortAudio is missing); on Debian/Ubuntu install it "
            f"with `sudo apt-get install libportaudio2` (the Windows and macOS packages include it)"
        ) from None
    return sounddevice


def list_input_devices() -> list[InputDevice]:
    """Every device with at least one input channel, in PortAudio's order."""
    return [device for device in _all_devices() if device.channels > 0]


def resolve_input_device(spec: int | str | None) -> InputDevice:
    """The input device `spec` names: its number (also as text, as given on the command line), a
    case-insensitive part of its name, or None for the system's default input device."""
    devices = _all_devices()
    inputs = [device for device in devices if device.channels > 0]
    if not inputs:
        raise AudioDeviceError(
            "no audio input devices found: connect a headset or microphone (and check that the sound "
            "system is running), then run `callassist devices`"
        )
    if spec is None:
        for device in inputs:
            if device.is_default:
                return device
        raise AudioDeviceError(f"there is no default input device; choose one by number or name ({RUN_DEVICES_HINT})")
    if isinstance(spec, int) or spec.strip().isdigit():
        return _by_index(int(spec), devices)
    return _by_name(spec.strip(), devices, inputs)


def format_device_table(devices: list[InputDevice]) -> str:
    """The `callassist devices` listing, with a hint on capturing the caller."""
    if not devices:
        return (
            "No audio input devices found. Connect a headset or microphone, check that the sound "
            "system is running, and run `callassist devices` again."
        )
    name_width = max(len("device"), *(len(device.name) for device in devices))
    lines = [f"     #  {'device':<{name_width}}  channels     rate  host API"]
    for device in devices:
        mark = "*" if device.is_default else " "
        lines.append(
            f"{mark} {device.index:>4}  {device.name:<{name_width}}  {device.channels:>8}  "
            f"{device.default_rate:>7.0f}  {device.host_api}"
        )
    lines += [
        "",
        "* = default input device. Choose a device by its number or part of its name.",
        "The caller is heard through a second device that carries the softphone's sound: a",
        "PulseAudio/PipeWire \"Monitor of ...\" source (on Linux; if none is listed, record from \"pulse\" and",
        "pick the monitor in pavucontrol's Recording tab), \"Stereo Mix\" on Windows, or the other",
        "channel of a stereo device that has the agent on one channel and the caller on the other.",
    ]
    return "\n".join(lines)


def format_loopback_section(speakers: list[str] | None) -> str:
    """The speakers whose output can be recorded as the caller (WASAPI loopback), or how to get them."""
    if speakers is None:
        return (
            "Loopback (the caller from what the softphone plays, Windows): not installed; "
            'pip install "callassist[loopback]"\nor use VB-Cable or Stereo Mix (see the README).'
        )
    if not speakers:
        return "Loopback: no speakers found."
    lines = ["Loopback (choose one as the caller: --caller-device \"loopback:NAME\"; \"loopback:\" = default speaker):"]
    lines += [f"  loopback:{name}" for name in speakers]
    return "\n".join(lines)


def _all_devices() -> list[InputDevice]:
    """All devices, output-only ones included (with 0 channels), so errors can say what a number is."""
    sd = sounddevice_module()
    host_apis = [host_api["name"] for host_api in sd.query_hostapis()]
    try:
        default_index = sd.query_devices(kind="input")["index"]
    except (sd.PortAudioError, ValueError):  # no default input device
        default_index = None
    return [
        InputDevice(
            index=info["index"],
            name=info["name"],
            channels=info["max_input_channels"],
            default_rate=info["default_samplerate"],
            host_api=host_apis[info["hostapi"]],
            is_default=info["index"] == default_index,
        )
        for info in sd.query_devices()
    ]


def _by_index(index: int, devices: list[InputDevice]) -> InputDevice:
    for device in devices:
        if device.index == index:
            if device.channels == 0:
                raise AudioDeviceError(
                    f"audio device {index} ({device.name}) is an output device and cannot record; {RUN_DEVICES_HINT}"
                )
            return device
    raise AudioDeviceError(f"there is no audio device {index}; {RUN_DEVICES_HINT}")


def _by_name(text: str, devices: list[InputDevice], inputs: list[InputDevice]) -> InputDevice:
    wanted = text.casefold()
    matches = [device for device in inputs if wanted in device.name.casefold()]
    exact = [device for device in matches if device.name.casefold() == wanted]
    if len(matches) == 1 or len(exact) == 1:
        return exact[0] if exact else matches[0]
    if matches:
        candidates = "; ".join(f"{device.index} ({device.name}, {device.host_api})" for device in matches)
        raise AudioDeviceError(
            f"input device '{text}' is ambiguous: it matches {candidates}; give the number or more of the name "
            f"(run `callassist devices` to see them all)"
        )
    outputs = [device for device in devices if device.channels == 0 and wanted in device.name.casefold()]
    if outputs:
        raise AudioDeviceError(
            f"'{text}' matches only output devices ({outputs[0].index}: {outputs[0].name}), which cannot record; "
            f"{RUN_DEVICES_HINT}"
        )
    raise AudioDeviceError(f"no input device matches '{text}'; {RUN_DEVICES_HINT}")
