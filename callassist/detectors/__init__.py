"""One small detector per situation. Their order does not matter: the engine owns the call
phase they share and applies the changes they ask for after all of them have seen an input,
and the rules detector judges once all of them have (`on_settled`), seeing the situations they
raised for the same input. The standard's lexical checks (greeting, closing, the line after
a hold, forbidden phrases) are rules of the standard pack, judged by the rules detector."""

from callassist.detectors.angry_caller import AngryCallerDetector
from callassist.detectors.base import CallState, Countdown, Detector, DetectorContext
from callassist.detectors.crosstalk import CrosstalkDetector
from callassist.detectors.dead_air import DeadAirDetector
from callassist.detectors.dialect import DialectDetector
from callassist.detectors.fast_speech import FastSpeechDetector
from callassist.detectors.hints import HintDetector
from callassist.detectors.hold import HoldDetector
from callassist.detectors.manual import ManualSituationDetector
from callassist.detectors.noisy_line import NoisyLineDetector
from callassist.detectors.quiet_caller import QuietCallerDetector
from callassist.detectors.rules import RulesDetector
from callassist.detectors.silent_caller import SilentCallerDetector

DETECTORS: tuple[type[Detector], ...] = (
    HoldDetector,
    SilentCallerDetector,
    DeadAirDetector,
    CrosstalkDetector,
    QuietCallerDetector,
    NoisyLineDetector,
    FastSpeechDetector,
    AngryCallerDetector,
    DialectDetector,
    HintDetector,
    ManualSituationDetector,
    RulesDetector,
)

__all__ = ["DETECTORS", "CallState", "Countdown", "Detector", "DetectorContext"]
