"""Audio front end: opening recordings and turning their channels into engine inputs."""

from callassist.audio.features import AnalyzerSettings, ChannelAnalyzer, analyze_recording
from callassist.audio.recording import ChannelMap, Recording, channel_map, open_recording

__all__ = [
    "AnalyzerSettings",
    "ChannelAnalyzer",
    "ChannelMap",
    "Recording",
    "analyze_recording",
    "channel_map",
    "open_recording",
]
