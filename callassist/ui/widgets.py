"""The pieces of the main screen. Each renders from plain state; none reads a clock."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from callassist.detectors.base import Countdown
from callassist.events import Event
from callassist.live.messages import CallPhase, Checklist
from callassist.reporting.report import format_time
from callassist.scriptpack import ScriptPack

PHASE_LABELS: dict[CallPhase, tuple[str, str]] = {
    "waiting": ("等待来电 WAITING", "grey50"),
    "in_call": ("通话中 IN CALL", "green"),
    "on_hold": ("保持中 ON HOLD", "yellow"),
    "ended": ("已结束 ENDED", "grey50"),
}
METER_FLOOR = -60.0


def meter(label: str, dbfs: float | None, width: int = 12) -> Text:
    if dbfs is None:
        return Text.assemble((f"{label} ", "bold"), ("not wired", "grey50"))
    filled = round(width * min(max((dbfs - METER_FLOOR) / -METER_FLOOR, 0.0), 1.0))
    colour = "red" if dbfs > -6 else "green" if dbfs > -40 else "yellow"
    return Text.assemble(
        (f"{label} ", "bold"),
        ("█" * filled, colour),
        ("░" * (width - filled), "grey30"),
        (f" {dbfs:4.0f} dB" if dbfs > -100 else "   -∞ dB", "grey70"),
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
        self.update(text, layout=not same_height)


class StatusBar(Panel):
    """Call state, call timer, level meters for both speakers."""

    def show(self, phase: CallPhase, call_time: float, agent: float | None, caller: float | None,
             position: float | None = None, paused: bool = False) -> None:
        label, colour = PHASE_LABELS[phase]
        text = Text.assemble((f" {label} ", f"bold black on {colour}"), f"  {format_time(call_time)[:-3]}  ")
        if position is not None:
            text += Text(f"replay {format_time(position)[:-3]}{' ⏸' if paused else ''}  ", style="grey70")
        text += meter("坐席 agent", agent) + Text("   ") + meter("客户 caller", caller)
        self.put(text)


class SayNowCard(Panel):
    """The approved line for the active situation and step, with its countdown."""

    def show(self, pack: ScriptPack, event: Event | None, countdown: Countdown | None) -> None:
        if event is None and countdown is None:
            self.put(Text.assemble(("说 / SAY NOW\n", "bold"), ("— nothing to say yet —", "grey50")))
            self.set_class(False, "active")
            return
        text = Text()
        if event is not None:
            situation = pack.situations.get(event.id)
            title = situation.title if situation else event.id
            steps = len(situation.steps) if situation and situation.steps else None
            step = f"  step {event.step} of {steps}" if event.step and steps and steps > 1 else ""
            text += Text(f"说 / SAY NOW — {title} ({event.id}){step}\n", style="bold")
            if event.say:
                text += Text(event.say + "\n", style="bold white")
            if event.advice:
                text += Text(event.advice + "\n", style="italic")
        if countdown is not None:
            situation = pack.situations.get(countdown.situation)
            name = situation.title if situation else countdown.situation
            bar_width = 20
            done = round(bar_width * min(countdown.elapsed / countdown.total, 1.0)) if countdown.total else 0
            nxt = f" → step {countdown.next_step}" if countdown.next_step else ""
            text += Text(f"{name}: {countdown.elapsed:.1f} s of {countdown.total:g} s{nxt}  ", style="yellow")
            text += Text("▓" * done + "░" * (bar_width - done), style="yellow")
        self.put(text)
        self.set_class(True, "active")


class AlertBanner(Static):
    """A forbidden phrase was just said: impossible to miss, at the top of the screen."""

    def show(self, event: Event | None) -> None:
        if event is None:
            self.display = False
            return
        self.display = True
        self.update(
            Text.assemble(
                ("⚠ 禁用语 FORBIDDEN  ", "bold"),
                (f"「{event.heard}」", "bold"),
                f"  ({event.detail})  {format_time(event.t)[:-3]}\n",
                ("改说 say instead: ", "bold"),
                event.say or "—",
            )
        )


class ChecklistPanel(Panel):
    def show(self, checklist: Checklist | None, caller_audio: bool) -> None:
        def mark(ok: bool | None) -> Text:
            return Text("✓ ", style="green") if ok else Text("✗ ", style="red") if ok is False else Text("· ", style="grey50")

        check = checklist or Checklist(greeting=None)
        text = Text.assemble(("Checklist\n", "bold"))
        text += mark(check.greeting)
        text.append("greeting 开头问候\n")
        for key, label in (("closing_offer", "还有什么可以帮助您"), ("closing_thanks", "感谢来电，再见")):
            text += mark(check.closing.get(key) or None)
            text.append(f"closing {label}\n")
        text += mark(check.hold_ok if check.holds else None)
        text.append(f"hold etiquette ({check.holds} hold(s))\n")
        if not caller_audio:
            text += Text("\nNo caller channel: caller-side\nsituations are off.", style="yellow")
        self.put(text)


class AlertList(Panel):
    """Every forbidden phrase of this call, kept visible."""

    def show(self, alerts: list[Event]) -> None:
        text = Text.assemble((f"Forbidden phrases this call: {len(alerts)}\n", "bold"))
        for event in alerts[-8:]:
            text.append(f"{format_time(event.t)[:-3]} ", "grey70")
            text.append(f"「{event.heard}」\n", "red")
        self.put(text)
