"""HTML report building against replaying, for calls of 2,500 to 20,000 utterances: the page
must grow linearly with the call, like the replay does.

    python benchmarks/bench_report_html.py

Before the overlap sweep and the bisected highlights, 20,000 utterances took 81 s (and 143 s on
a loaded machine) to render against 2.7 s to replay: quadratic.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from callassist.replay import ReplayRequest, replay
from callassist.reporting.html import call_report_html
from callassist.settings import effective_pack, load_settings


def transcript(path: Path, utterances: int) -> Path:
    lines = []
    for number in range(utterances):
        speaker = ("agent", "caller")[number % 2]
        text = "您好请问有什么可以帮您" if speaker == "agent" else "我想问一下我的账单"
        lines.append(json.dumps({"speaker": speaker, "start": 2.0 * number, "end": 2.0 * number + 2.5, "text": text}, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def main() -> int:
    settings = load_settings(None)
    pack = effective_pack(settings, [])
    print(f"{'utterances':>10} {'replay s':>9} {'html s':>8} {'html/replay':>12} {'page MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for utterances in (2_500, 5_000, 10_000, 20_000):
            path = transcript(Path(folder) / f"{utterances}.jsonl", utterances)
            began = time.perf_counter()
            report = replay(ReplayRequest(transcript=path), settings, pack)
            replayed = time.perf_counter() - began
            began = time.perf_counter()
            page = call_report_html(report)
            rendered = time.perf_counter() - began
            print(f"{utterances:>10,} {replayed:>9.2f} {rendered:>8.2f} {rendered / replayed:>12.2f} {len(page) / 1e6:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
