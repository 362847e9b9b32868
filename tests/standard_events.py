"""The standard pack's events on every fixture call, as the code before the standard became rules
gave them: the truth that `tests/test_standard_rules.py` holds the rules-based standard to.

    python tests/standard_events.py     # record (only ever run on the pre-change code)

The recording in tests/data/standard_events/ was made at commit 6249b7a (the last commit with the
greeting, closing, hold-return and forbidden-phrase detectors), see its README.md.
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
RECORDED = TESTS / "data" / "standard_events"
PLACEHOLDERS = {"company": "平安", "agent": "三零二"}
DEPLOY = TESTS / "data" / "packs" / "deploy"  # overrides the greeting, retires and adds forbidden phrases


@dataclass(frozen=True)
class FixtureCall:
    """One call replayed for the recording: its name in the recording, its files, its packs."""

    name: str
    audio: Path | None
    transcript: Path
    duration: float | None = None
    packs: tuple[Path, ...] = ()


def fixture_calls() -> list[FixtureCall]:
    """Every committed fixture call (audio with transcript, and transcript only), each also under
    the deployment pack that overrides the standard's greeting and forbidden phrases."""
    calls: list[FixtureCall] = []
    for folder in (TESTS / "fixtures" / "calls", TESTS / "fixtures" / "rule_calls"):
        for wav in sorted(folder.glob("*.wav")):
            calls.append(FixtureCall(f"{folder.name}/{wav.stem}", wav, wav.with_suffix(".jsonl")))
    data = TESTS / "data" / "calls"
    for transcript in sorted(data.glob("*.jsonl")):
        expected = transcript.with_name(transcript.stem + ".expected.json")
        duration = json.loads(expected.read_text(encoding="utf-8")).get("duration") if expected.is_file() else None
        calls.append(FixtureCall(f"data/{transcript.stem}", None, transcript, duration))
        calls.append(FixtureCall(f"deploy/{transcript.stem}", None, transcript, duration, (DEPLOY,)))
    return calls


def variation_calls(folder: Path) -> list[FixtureCall]:
    """The variations of tests/fixtures/variations.py, rendered into `folder`."""
    sys.path.insert(0, str(TESTS / "fixtures"))
    import variations

    return [FixtureCall(f"variations/{wav.stem}", wav, wav.with_suffix(".jsonl")) for wav in variations.render_all(folder)]


def outcome(call: FixtureCall) -> dict[str, Any]:
    """What the standard decided on `call`: its events, score and checklist."""
    from callassist.replay import ReplayRequest, replay
    from callassist.scriptpack import load_pack
    from callassist.settings import load_settings

    report = replay(
        ReplayRequest(audio=call.audio, transcript=call.transcript, duration=call.duration),
        load_settings(None), load_pack(list(call.packs), PLACEHOLDERS),
    )
    data = report.to_json()
    keep = ("id", "kind", "t", "start", "end", "step", "speaker", "phrase_id", "say")
    return {
        "events": [{k: e[k] for k in keep if k in e} for e in data["events"]],
        "score": {k: data["score"][k] for k in ("value", "deductions", "failed")},
        "checklist": data["checklist"],
    }


def record() -> None:
    RECORDED.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        for group, calls in (("fixtures", fixture_calls()), ("variations", variation_calls(Path(folder)))):
            out = {call.name: outcome(call) for call in calls}
            path = RECORDED / f"{group}.json"
            path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            print(f"{len(out)} calls -> {path.relative_to(ROOT)}")


if __name__ == "__main__":
    record()
