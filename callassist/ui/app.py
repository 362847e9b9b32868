"""The live screen: what to say now, forbidden-phrase alerts, the call's transcript and checklist.

The app only renders. A `CallSession` (headless, in a worker thread) does the listening and
judging and reaches the app through `deliver`, which posts a message: widgets are never
touched from another thread.
"""

from __future__ import annotations

import math
from dataclasses import replace

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.events import Resize
from textual.widgets import Static

from callassist.detectors.base import Countdown
from callassist.events import Event
from callassist.live.messages import (
    CallEnded,
    CallPhase,
    CallStarted,
    Checklist,
    Cleared,
    DeviceProblem,
    Heard,
    Jumped,
    Raised,
    ReplayFinished,
    SaveRetried,
    SessionMessage,
    Tick,
    Withdrawn,
    WorkerFailed,
)
from callassist.labels import Labels, labels_for
from callassist.live.session import CallSession
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings, unset_placeholders
from callassist.ui.widgets import (
    IN_CALL,
    WIDE,
    AlertBanner,
    AlertList,
    ChecklistPanel,
    KeyBar,
    KeyHint,
    SayNowCard,
    Status,
    StatusBar,
    Transcript,
    clock,
)

ALERT_SHOWN_FOR = 10.0  # s of call time a forbidden-phrase banner stays up (the list keeps it)
HINT_SHOWN_FOR = 15.0  # s of call time a hint stays on the card; situations stay until they end
SITUATION_KEYS = ("silent", "quiet", "noisy", "dialect", "angry")
SITUATION_IDS = {
    "silent": "silent_caller",
    "quiet": "quiet_caller",
    "noisy": "noisy_line",
    "dialect": "dialect_caller",
    "angry": "angry_caller",
}
SPEAKER_COLOURS = {"agent": "cyan", "caller": "magenta"}
KEY_NAMES = {"question_mark": "?", "space": "␣", "left": "←", "right": "→", "escape": "esc"}


def key_display(key: str) -> str:
    return KEY_NAMES.get(key, key)


def device_line(problem: DeviceProblem, labels: Labels) -> str:
    """The device line: the problem (or that audio is fine), then the input overflows the device
    reported and the blocks the session dropped, each under its own label: they are different
    losses with different fixes (a busy machine or USB bus; an analysis too slow for this machine)."""
    counts = (("overflows", problem.overflows), ("dropped", problem.dropped_blocks))
    note = "".join(f"  {labels.word(key)}: {count}" for key, count in counts if count)
    if problem.text:
        return f"⚠ {problem.text} — {labels.word('reconnecting')}…{note}"
    return f"{labels.word('audio_ok')}{note}"


class SessionUpdate(Message):
    """A session message crossing from the worker thread into the app."""

    def __init__(self, update: SessionMessage) -> None:
        super().__init__()
        self.update = update


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close", show=False)]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        yield Static("\n".join(self.lines), id="help")


class CallAssistApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "callassist"
    ENABLE_COMMAND_PALETTE = False

    def __init__(self, pack: ScriptPack, settings: Settings, session: CallSession | None = None,
                 replay: bool = False) -> None:
        super().__init__()
        self.pack = pack
        self.settings = settings
        self.labels: Labels = labels_for(pack, settings.ui.language)  # type: ignore[arg-type]
        self.session = session
        self.replay = replay
        self.phase: CallPhase = "waiting"
        self.prompt: Event | None = None
        self.countdown: Countdown | None = None
        self.alert: Event | None = None
        self.alerts: list[Event] = []
        self.checklist: Checklist | None = None
        self.caller_audio = session.wiring.caller is not None if session else True
        if session is not None:
            session.deliver = self.deliver
        self.status = Status(retry_key=key_display(settings.keys.retry_save))
        self.paused = False
        self.unsaved = 0  # reports of ended calls that could not be saved (the session keeps them)
        self._install_bindings()

    @property
    def call_time(self) -> float:
        return self.status.call_time

    def _install_bindings(self) -> None:
        """Bind the keys that work on this screen, and only those: they are what the key bar shows."""
        keys = self.settings.keys
        actions = [("help", "help"), ("quit", "quit")]
        if not self.replay:  # a recording starts, ends and holds as it was recorded
            actions += [("start_call", "start_call"), ("end_call", "end_call"), ("hold", "hold"),
                        ("retry_save", "retry_save")]
        actions += [("dismiss", "dismiss")]
        actions += [(name, f"mark('{name}')") for name in SITUATION_KEYS]
        if self.replay:
            actions += [("pause", "pause"), ("back", "seek(-5)"), ("forward", "seek(5)")]
        self.key_hints: list[KeyHint] = []
        for name, action in actions:
            key = getattr(keys, name)
            self.bind(key, action, description=self.labels.action(name), show=False)
            self.key_hints.append(KeyHint(key_display(key), self.labels.action(name)))

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield Static("", id="setup-warning")
        yield AlertBanner(id="alert")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield SayNowCard(id="say")
                yield Transcript(id="transcript")
                yield Static("", id="partial")
            with Vertical(id="right"):
                yield ChecklistPanel(id="checklist")
                yield AlertList(id="alerts")
                yield Static("", id="device")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.sub_title = "replay" if self.replay else "live"
        for widget in self.query("StatusBar, SayNowCard, AlertBanner, ChecklistPanel, AlertList"):
            widget.labels = self.labels
        warning = self.query_one("#setup-warning", Static)
        unset = unset_placeholders(self.settings) if not self.replay else {}
        warning.display = bool(unset)
        if unset:
            warning.update(Text("⚠ " + self.labels.word("placeholders", **unset), style="bold"))
        self._lay_out(self.size.width)
        self._render_all()
        if self.session is not None:
            self.run_worker(self.session.run, thread=True, name="session", exit_on_error=False)

    def on_resize(self, event: Resize) -> None:
        self._lay_out(event.size.width)

    def _lay_out(self, width: int) -> None:
        """Below WIDE columns the checklist and alert list go under the transcript, in one line each."""
        self.screen_stack[0].set_class(width < WIDE, "narrow")
        self.query_one(KeyBar).show(tuple(self.key_hints))
        self.query_one(ChecklistPanel).show(self.checklist, self.caller_audio, ended=self.phase not in IN_CALL)
        self.query_one(AlertList).show(self.alerts)

    # ------------------------------------------------------------------ from the session

    def deliver(self, update: SessionMessage) -> None:
        """Called from the session's thread."""
        self.post_message(SessionUpdate(update))

    def on_session_update(self, message: SessionUpdate) -> None:
        self.apply(message.update)

    def apply(self, update: SessionMessage) -> None:
        """Show one session message."""
        self._apply(update)

    def _apply(self, update: SessionMessage, quiet: bool = False) -> None:
        """`quiet`: catching up after a jump (no bell, no notices)."""
        labels = self.labels
        match update:
            case Tick():
                self.phase = update.phase
                self.paused = update.paused
                self.status = Status(
                    update.phase, update.call_time, update.agent_dbfs, update.caller_dbfs, update.position,
                    update.paused, self.unsaved, self.status.retry_key,
                )
                self.countdown = update.countdowns[0] if update.countdowns and update.phase in IN_CALL else None
                if self.alert is not None and update.call_time - self.alert.t > ALERT_SHOWN_FOR:
                    self.alert = None
                    self.query_one(AlertBanner).show(None)
                if self.prompt is not None and self.prompt.kind == "hint" and update.call_time - self.prompt.t > HINT_SHOWN_FOR:
                    self.prompt = None
                self.query_one(StatusBar).show(self.status)
                self.query_one(SayNowCard).show(self.pack, self.prompt, self.countdown, self.phase)
            case Heard():
                self._show_heard(update)
            case Raised(event=event):
                self._raise(event, quiet)
            case Withdrawn(event=event):
                self.alerts = [a for a in self.alerts if a is not event]
                if self.alert is event:
                    self.alert = None
                    self.query_one(AlertBanner).show(None)
                self.query_one(AlertList).show(self.alerts)
            case Cleared(situation=situation):
                if self.prompt is not None and self.prompt.id == situation:
                    self.prompt = None
                    self.query_one(SayNowCard).show(self.pack, None, self.countdown, self.phase)
            case Checklist():
                self.checklist = update
                self.query_one(ChecklistPanel).show(update, self.caller_audio, ended=self.phase not in IN_CALL)
            case CallStarted(caller_audio=caller_audio):
                self.caller_audio = caller_audio
                self.phase = "in_call"
                self.status = replace(self.status, phase="in_call", call_time=0.0)
                self._forget_call()
                self._render_all()
            case Jumped(position=position, restart=restart, known=known):
                if restart:
                    self._forget_call()
                self.status = replace(self.status, position=position)
                self.query_one(Transcript).add(position, Text(labels.word("jumped", t=clock(position)), style="grey50"))
                for message in known:
                    self._apply(message, quiet=True)
                self._render_all()
            case CallEnded():
                self.phase = "save_failed" if update.error else "saved" if update.report_path else "ended"
                self.unsaved = update.unsaved
                self.status = replace(self.status, phase=self.phase, unsaved=self.unsaved)
                self.prompt, self.countdown, self.alert = None, None, None
                self.query_one("#partial", Static).update("")
                saved = labels.word("report_saved", path=update.report_path) if update.report_path else labels.word("call_ended")
                score = f"{labels.word('score')} {update.score}"
                if update.error:
                    saved = f"{labels.word('call_ended')} — {update.error}"
                    self.notify(update.error, title=labels.word("not_saved"), severity="error", timeout=30)
                else:
                    self.notify(f"{saved} ({score})", title=labels.word("call_ended"), timeout=8)
                line = Text(f"— {saved}, {score} —", style="bold red" if update.error else "bold")
                self.query_one(Transcript).add(math.inf, line)
                self._render_all()
            case SaveRetried(saved=saved, error=error, unsaved=unsaved):
                self.unsaved = unsaved
                self.status = replace(self.status, unsaved=unsaved)
                if saved:
                    self.notify("\n".join(saved), title=labels.word("reports_saved"), timeout=8)
                if error:
                    self.notify(error, title=labels.word("not_saved"), severity="error", timeout=30)
                self.query_one(StatusBar).show(self.status)
            case DeviceProblem(text=text, overflows=overflows, dropped_blocks=dropped):
                device = self.query_one("#device", Static)
                device.display = bool(text or overflows or dropped)
                device.set_class(bool(text), "problem")
                device.update(device_line(update, labels))
            case WorkerFailed(text=text) if not quiet:
                self.notify(text, title=labels.word("analysis_error"), severity="error", timeout=10)
            case ReplayFinished():
                self.notify(labels.word("replay_finished"), timeout=30)

    def _forget_call(self) -> None:
        """A new call (or a replay judged again from its start): nothing of before stays."""
        self.prompt, self.countdown, self.alert = None, None, None
        self.alerts, self.checklist = [], None
        self.query_one(Transcript).reset()
        self.query_one("#partial", Static).update("")

    def _render_all(self) -> None:
        if not self.caller_audio:
            self.status = replace(self.status, caller=None)
        self.query_one(StatusBar).show(self.status)
        self.query_one(SayNowCard).show(self.pack, self.prompt, self.countdown, self.phase)
        self.query_one(AlertBanner).show(self.alert)
        self.query_one(ChecklistPanel).show(self.checklist, self.caller_audio, ended=self.phase not in IN_CALL)
        self.query_one(AlertList).show(self.alerts)

    def _raise(self, event: Event, quiet: bool = False) -> None:
        if event.id == "forbidden_phrase":
            self.alert = event
            self.alerts.append(event)
            self.query_one(AlertBanner).show(event)
            self.query_one(AlertList).show(self.alerts)
            if not quiet:
                self.bell()
        elif event.say or event.advice:
            self.prompt = event
            self.query_one(SayNowCard).show(self.pack, event, self.countdown, self.phase)
        style = "bold red" if event.kind == "violation" else "bold yellow"
        step = f" {self.labels.step(event.step)}" if event.step else ""
        self.query_one(Transcript).add(event.t, Text(f"{clock(event.t)} ▶ {self.labels.event(event.id, event.title)}{step}", style=style))

    def _show_heard(self, update: Heard) -> None:
        heard = update.heard
        name, colour = self.labels.speaker(heard.utterance.speaker), SPEAKER_COLOURS[heard.utterance.speaker]
        partial = self.query_one("#partial", Static)
        if not heard.final:
            partial.update(Text(f"{name}: {heard.utterance.text} …", style=colour, no_wrap=True, overflow="ellipsis"))
            return
        partial.update("")
        if not heard.utterance.text:
            return
        line = Text.assemble((f"{clock(heard.utterance.start)} {name} ", f"bold {colour}"))
        body = Text(heard.utterance.text)
        for alert in self.alerts:
            if heard.utterance.start - 0.5 <= alert.t <= heard.utterance.end + 0.5 and alert.heard:
                body.highlight_words([alert.heard], style="bold white on red")
        self.query_one(Transcript).add(heard.utterance.start, line + body)

    # ------------------------------------------------------------------ keys

    def action_start_call(self) -> None:
        if self.session is not None and not self.replay:
            self.session.start_call()

    def action_end_call(self) -> None:
        if self.session is not None and not self.replay:
            self.session.end_call()

    def action_hold(self) -> None:
        if self.session is not None:
            self.session.toggle_hold()

    def action_mark(self, name: str) -> None:
        if self.session is not None:
            self.session.mark(SITUATION_IDS[name])

    def action_retry_save(self) -> None:
        if self.session is not None:
            self.session.retry_save()

    def action_dismiss(self) -> None:
        self.prompt, self.alert = None, None
        self.query_one(SayNowCard).show(self.pack, None, self.countdown, self.phase)
        self.query_one(AlertBanner).show(None)

    def action_help(self) -> None:
        lines = [f"callassist — {self.labels.word('keys')}", ""]
        lines += [f"{hint.key:>5}  {hint.label}" for hint in self.key_hints]
        self.push_screen(HelpScreen(lines))

    def action_pause(self) -> None:
        if self.session is not None:
            self.session.pause(not self.paused)

    def action_seek(self, seconds: float) -> None:
        if self.session is not None:
            self.session.seek(seconds)

    async def action_quit(self) -> None:
        if self.session is not None:
            self.session.stop()
        self.exit()
