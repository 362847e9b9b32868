"""Make the README's pictures: the screen (a snapshot test's SVG) and an HTML report (a PNG).

    python docs/make_pictures.py   # after `pytest tests/test_ui_snapshots.py`; needs chromium

The screen picture is the 80×24 snapshot with one fix: Rich sizes each run of SVG text by its
number of characters, so Chinese (two cells a character) is squeezed to half its width; here
each run is sized by its cells. The report picture is the bundled sample call's HTML report,
rendered by headless chromium.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.cells import cell_len

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests/__snapshots__/test_ui_snapshots/test_every_element_at_each_size[80x24].svg"
OUT = ROOT / "docs/img"
CHAR_WIDTH = 12.2  # Rich's SVG export: 0.61 × a 20 px font
TEXT_RUN = re.compile(r'(<text [^>]*textLength=")([\d.]+)("[^>]*>)([^<]*)(</text>)')


def fix_text_widths(svg: str) -> str:
    def sized(match: re.Match) -> str:
        cells = cell_len(html.unescape(match.group(4)))
        return f"{match.group(1)}{CHAR_WIDTH * cells:g}{match.group(3)}{match.group(4)}{match.group(5)}"

    return TEXT_RUN.sub(sized, svg)


def report_png(out: Path) -> None:
    from callassist.cli import sample_call_dir
    from callassist.replay import ReplayRequest, replay
    from callassist.reporting.html import call_report_html
    from callassist.settings import effective_pack, load_settings

    settings = load_settings(None)
    os.chdir(sample_call_dir())  # the report names its files as given: no local folders in the picture
    report = replay(
        ReplayRequest(audio=Path("sample_call.wav"), transcript=Path("sample_call.jsonl")),
        settings, effective_pack(settings, []),
    )
    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if chromium is None:
        sys.exit("chromium is needed for the report picture")
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "report.html"
        page.write_text(call_report_html(report, title="sample_call"), encoding="utf-8")
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=1100,1400", f"--screenshot={out}", page.as_uri()],
            check=True, capture_output=True,
        )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "screen-80x24.svg").write_text(fix_text_widths(SNAPSHOT.read_text(encoding="utf-8")), encoding="utf-8")
    report_png(OUT / "report.png")
    print(f"written: {OUT / 'screen-80x24.svg'}, {OUT / 'report.png'}")


if __name__ == "__main__":
    main()
