"""Live audio capture: sound devices, recordings played as if live, and fake sources for tests."""

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
    FakeSource,
    FileSource,
    SourceStatus,
)

__all__ = [
    "AudioBlock",
    "AudioDeviceError",
    "AudioSource",
    "DeviceSource",
    "FakeSource",
    "FileSource",
    "InputDevice",
    "SourceStatus",
    "format_device_table",
    "list_input_devices",
    "resolve_input_device",
]
