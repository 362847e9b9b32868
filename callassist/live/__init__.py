"""Live audio capture: sound devices, recordings played as if live."""

from callassist.live.devices import (
    AudioDeviceError,
    InputDevice,
    format_device_table,
    list_input_devices,
    resolve_input_device,
)
from callassist.live.sources import (
    AudioBlock,
    AudioSource,
    DeviceSource,
    FileSource,
    SourceStatus,
)

__all__ = [
    "AudioBlock",
    "AudioDeviceError",
    "AudioSource",
    "DeviceSource",
    "FileSource",
    "InputDevice",
    "SourceStatus",
    "format_device_table",
    "list_input_devices",
    "resolve_input_device",
]
