"""The pieces of the main screen. Each renders from plain state; none reads a clock.

Every piece fits any width from 60 columns up: text wraps (never cut), and the status bar, the
checklist and the key bar have a compact form below `WIDE` columns.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from rich.cells import cell_len
from rich.text import Text
from textual.events import Resize
from textual.widgets import RichLog, Static

from callassist.detectors.base import Countdown
from callassist.events import Event
from callassist.labels import Labels
from callassist.live.messages import CallPhase, Checklist
from callassist.reporting.report import format_time
from callassist.scriptpack import ScriptPack

WIDE = 100  # columns from which the long forms are shown
PHASE_COLOURS: dict[CallPhase, str] = {
    "waiting": "grey50", "in_call": "green", "on_hold": "yellow", "ending": "yellow",
    "saved": "green", "save_failed": "red", "ended": "grey50",
}
IN_CALL: tuple[CallPhase, ...] = ("in_call", "on_hold")
IDLE_CARD: dict[CallPhase, str] = {  # what the card says when no call is on (labels' words)
    "waiting": "waiting_for_call", "ending": "call_over", "saved": "call_over", "save_failed": "call_over",
    "ended": "call_over",
}
METER_FLOOR = -60.0
TRANSCRIPT_KEPT = 2000  # lines kept for reflowing; older ones scroll away


def clock(seconds: float) -> str:
    return format_time(seconds)[:-3]


def meter(label: str, dbfs: float | None, width: int, labels: Labels, compact: bool) -> Text:
    if dbfs is None:
        return Text.assemble((f"{label} ", "bold"), (labels.word("not_wired"), "grey50"))
    filled = round(width * min(max((dbfs - METER_FLOOR) / -METER_FLOOR, 0.0), 1.0))
    colour = "red" if dbfs > -6 else "green" if dbfs > -40 else "yellow"
    level = (f"{dbfs:4.0f}" if dbfs > -100 else "  -∞") + ("" if compact else " dB")
    return Text.assemble(
        (f"{label} ", "bold"), ("█" * filled, colour), ("░" * (width - filled), "grey30"), (level, "grey70")
    )


class Panel(Static):
    """A Static that repaints only when its text changed, and lays the screen out again only
    when its number of lines changed: at 20 updates a second, layout is what costs."""

    _shown: Text | None = None

    def put(self, text: Text) -> None:
        previous = self._shown
        if previous is not None and previous.plain == text.plain and previous.spans == text.spans:
            return
        self._shown = text
        same_height = previous is not None and previous.plain.count("\n") == text.plain.count("\n")
        # Wrapped text can change height without a new line: only lines that fit stay unlaid.
        fits = self.size.width and max(map(len, text.plain.split("\n"))) * 2 < self.size.width
        self.update(text, layout=not (same_height and fits))

    def width(self) -> int:
        """The width to lay out for (the screen's before this widget has been sized)."""
        return self.size.width or self.app.size.width


@dataclass(frozen=True)
class Status:
    phase: CallPhase = "waiting"
    call_time: float = 0.0
    agent: float | None = None
    caller: float | None = None
    position: float | None = None  # replay: the recording's position, shown as the one clock
    paused: bool = False
    unsaved: int = 0  # reports of ended calls not saved yet
    retry_key: str = ""


class StatusBar(Panel):
    """Call state, the clock, level meters for both speakers."""

    labels = Labels()
    status = Status()

    def show(self, status: Status) -> None:
        self.status = status
        labels, width = self.labels, self.width()
        compact = width < WIDE
        s = status
        text = Text.assemble((f" {labels.word(s.phase).upper()} ", f"bold black on {PHASE_COLOURS[s.phase]}"), " ")
        if s.position is not None:
            text += Text(f"{labels.word('replay')} {clock(s.position)}{' ⏸' if s.paused else ''}", style="bold")
        else:
            text += Text(clock(s.call_time) if s.phase != "waiting" else "--:--", style="bold")
        if s.unsaved:
            text += Text(" ⚠ " + labels.word("unsaved", n=s.unsaved, retry=s.retry_key), style="bold red")
        bar = 6 if compact else 12
        gap = " " if compact else "   "
        text += Text(gap)
        text += meter(labels.speaker("agent"), s.agent, bar, labels, compact) + Text(gap)
        text += meter(labels.speaker("caller"), s.caller, bar, labels, compact)
        self.put(text)

    def on_resize(self, event: Resize) -> None:
        self.show(self.status)


class SayNowCard(Panel):
    """The approved line for the active situation and step, with its countdown."""

    labels = Labels()

    def show(self, pack: ScriptPack, event: Event | None, countdown: Countdown | None,
             phase: CallPhase = "in_call") -> None:
        labels = self.labels
        if phase not in IN_CALL:  # nothing of a call that is not on stays on the card
            event, countdown = None, None
        if event is None and countdown is None:
            idle = labels.word(IDLE_CARD.get(phase, "nothing_to_say"))
            self.put(Text.assemble((f"{labels.word('say_now')}\n", "bold"), (idle, "grey50")))
            self.set_class(False, "active")
            return
        text = Text()
        if event is not None:
            situation = pack.situations.get(event.id)
            steps = len(situation.steps) if situation and situation.steps else None
            step = f" · {labels.step(event.step, steps)}" if event.step and steps and steps > 1 else ""
            name = labels.event(event.id, event.title)  # the standard's label, or a rule's own title
            text += Text(f"{labels.word('say_now')} · {name}{step}\n", style="bold")
            if event.say:
                text += Text(event.say + "\n", style="bold white")
            if event.advice:
                text += Text(event.advice + "\n", style="italic")
        if countdown is not None:
            nxt = f" → {labels.step(countdown.next_step)}" if countdown.next_step else ""
            text += Text(
                f"{labels.event(countdown.situation)} {countdown.elapsed:.1f}/{countdown.total:g} s{nxt} ", style="yellow"
            )
            bar_width = max(6, min(20, self.width() - 4 - text.cell_len + text.plain.rfind("\n") + 1))
            done = round(bar_width * min(countdown.elapsed / countdown.total, 1.0)) if countdown.total else 0
            text += Text("▓" * done + "░" * (bar_width - done), style="yellow")
        self.put(text.rstrip() or text)
        self.set_class(True, "active")


class AlertBanner(Static):
    """A forbidden phrase was just said: impossible to miss, at the top of the screen."""

    labels = Labels()

    def show(self, event: Event | None) -> None:
        if event is None:
            self.display = False
            return
        labels = self.labels
        self.display = True
        self.update(
            Text.assemble(
                (f"⚠ {labels.word('forbidden')} ", "bold"),
                (f"「{event.heard}」", "bold"),
                f" ({event.detail}) {clock(event.t)}\n",
                (f"{labels.word('say_instead')}：" if labels.language == "zh" else f"{labels.word('say_instead')}: ", "bold"),
                event.say or "—",
            )
        )


class ChecklistPanel(Panel):
    labels = Labels()

    def show(self, checklist: Checklist | None, caller_audio: bool, ended: bool = False) -> None:
        """`ended`: the final checklist of a call that is over, no longer running."""
        labels = self.labels
        compact = self.app.size.width < WIDE

        def mark(ok: bool | None) -> Text:
            return Text("✓", style="green") if ok else Text("✗", style="red") if ok is False else Text("·", style="grey50")

        check = checklist or Checklist(greeting=None)
        items = [(check.greeting, labels.check("greeting"))]
        for key in ("closing_offer", "closing_thanks"):
            items.append((check.closing.get(key) or None, labels.check(key)))
        holds = f" ({labels.word('hold_count', n=check.holds)})" if check.holds else ""
        items.append((check.hold_ok if check.holds else None, labels.check("hold") + holds))
        separator = "  " if compact else "\n"
        ended = ended and checklist is not None  # no call yet: nothing has ended
        title = labels.word("checklist") + (f" · {labels.word('last_call')}" if ended else "")
        text = Text(title + (": " if compact else "\n"), style="grey50" if ended else "bold")
        text += Text(separator).join(mark(ok) + Text(" " + label) for ok, label in items)
        if not caller_audio:
            text += Text("\n" + labels.word("no_caller"), style="yellow")
        self.put(text)


class AlertList(Panel):
    """Every forbidden phrase of this call, kept visible."""

    labels = Labels()

    def show(self, alerts: list[Event]) -> None:
        compact = self.app.size.width < WIDE
        text = Text(f"{self.labels.word('forbidden_this_call')}: {len(alerts)}", style="bold")
        for event in alerts[-3:] if compact else alerts[-8:]:
            text.append("  " if compact else "\n")
            text.append(f"{clock(event.t)} ", "grey70")
            text.append(f"「{event.heard}」", "red")
        self.put(text)


@dataclass(frozen=True)
class KeyHint:
    key: str  # as shown: "?", "s", "←"
    label: str


class KeyBar(Panel):
    """The keys that work on this screen, most needed first; `?` (help) always shows, whatever fits
    of the rest follows (help lists them all)."""

    hints: tuple[KeyHint, ...] = ()

    def show(self, hints: tuple[KeyHint, ...]) -> None:
        self.hints = hints
        width = self.width()
        text = Text()
        for number, hint in enumerate(hints):
            piece = Text.assemble((f" {hint.key} ", "bold black on grey70"), f" {hint.label} ")
            if number and text.cell_len + piece.cell_len > width:
                break
            text += piece
        self.put(text)

    def on_resize(self, event: Resize) -> None:
        self.show(self.hints)


def fold(text: Text, width: int) -> Text:
    """Break `text` into lines of at most `width` cells anywhere, not only at spaces: Chinese has
    none, and word wrapping would push a whole sentence under its time and speaker."""
    if width <= 1 or text.cell_len <= width:
        return text
    offsets, used = [], 0
    for index, character in enumerate(text.plain):
        cells = cell_len(character)
        if character == "\n":
            used = 0
        elif used + cells > width:
            offsets.append(index)
            used = cells
        else:
            used += cells
    return Text("\n").join(text.divide(offsets))


class Transcript(RichLog):
    """The call's transcript, ordered by start time and wrapped to the width (never cut): a line
    that arrives late is put in its place, and a resize wraps every line again."""

    def __init__(self, **kwargs) -> None:
        super().__init__(wrap=False, markup=False, min_width=1, **kwargs)  # `fold` wraps
        self.entries: list[tuple[float, int, Text]] = []
        self._count = 0
        self._width = 0

    def add(self, start: float, line: Text) -> None:
        self._count += 1
        entry = (start, self._count, line)
        if self.entries and entry < self.entries[-1]:
            bisect.insort(self.entries, entry)
            self._rewrite()
            return
        self.entries.append(entry)
        del self.entries[:-TRANSCRIPT_KEPT]
        self._write(line)

    def reset(self) -> None:
        self.entries.clear()
        self.clear()

    def _rewrite(self) -> None:
        del self.entries[:-TRANSCRIPT_KEPT]
        self.clear()
        for _, _, line in self.entries:
            self._write(line)

    def _write(self, line: Text) -> None:
        # One column spare for the scrollbar that appears once the transcript fills the box.
        self.write(fold(line, self.scrollable_content_region.width - 1))

    def on_resize(self, event: Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self.call_after_refresh(self._rewrite)
