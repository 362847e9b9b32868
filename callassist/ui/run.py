"""Starting the screen for a live call, a replay or the demo (Textual is imported only here)."""

from __future__ import annotations

from pathlib import Path

from callassist.errors import CallassistError
from callassist.live.loopback import LoopbackSource, SoundcardCapture, is_loopback, loopback_name
from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
from callassist.live.sources import AudioSource, DeviceSource, FileSource
from callassist.pipeline import Recognition
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.inputs import Utterance
from callassist.ui.app import CallAssistApp


def replay_app(audio: Path, settings: Settings, pack: ScriptPack, *, speed: float | None,
               transcript: list[Utterance] | None, recognition: Recognition | None,
               agent_channel: int, caller_channel: int | None) -> CallAssistApp:
    source = FileSource(audio, speed=speed)
    caller = ChannelSource(0, caller_channel) if caller_channel is not None and source.channels > 1 else None
    if caller_channel is not None and caller_channel >= source.channels and source.channels > 1:
        raise CallassistError(f"{audio}: has {source.channels} channels; --caller-channel {caller_channel} does not exist")
    return _app(
        [source], Wiring(ChannelSource(0, min(agent_channel, source.channels - 1)), caller), settings, pack,
        SessionOptions(replay=True, meter_hz=settings.live.meter_hz, source_name=str(audio)),
        transcript, recognition, replay=True,
    )


def live_app(settings: Settings, pack: ScriptPack, recognition: Recognition | None,
             calls_dir: Path, record: bool, mask: bool = False) -> CallAssistApp:
    from callassist.live.devices import resolve_input_device

    live = settings.live
    agent_device = resolve_input_device(live.agent_device or None)
    separate_caller = bool(live.caller_device)
    agent_channels = max(live.agent_channel + 1, live.caller_channel + 1 if not separate_caller else 1)
    if agent_channels > agent_device.channels:
        raise CallassistError(
            f"input device {agent_device.index} ({agent_device.name}) has {agent_device.channels} channel(s); "
            f"channel {agent_channels - 1} does not exist: check [live] in the config or run `callassist devices`"
        )
    sources: list[AudioSource] = [DeviceSource(agent_device.index, agent_channels, live.sample_rate)]
    caller = None
    if is_loopback(live.caller_device):
        sources.append(LoopbackSource(SoundcardCapture(loopback_name(live.caller_device), live.sample_rate)))
        caller = ChannelSource(1, 0)
    elif separate_caller:
        caller_device = resolve_input_device(live.caller_device)
        channel = max(live.caller_channel, 0)
        sources.append(DeviceSource(caller_device.index, channel + 1, live.sample_rate))
        caller = ChannelSource(1, channel)
    elif live.caller_channel >= 0:
        caller = ChannelSource(0, live.caller_channel)
    options = SessionOptions(meter_hz=live.meter_hz, calls_dir=calls_dir, record=record, source_name="live", mask=mask)
    return _app(sources, Wiring(ChannelSource(0, live.agent_channel), caller), settings, pack, options, None, recognition)


def _app(sources, wiring, settings, pack, options, transcript, recognition, replay: bool = False) -> CallAssistApp:
    session = CallSession(
        sources, wiring, pack, settings, recognition=recognition, transcript=transcript, options=options
    )
    return CallAssistApp(pack, settings, session, replay=replay)
