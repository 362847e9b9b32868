"""The live screen: what to say now, forbidden-phrase alerts, the call's transcript and checklist.

The app only renders. A `CallSession` (headless, in a worker thread) does the listening and
judging and reaches the app through `deliver`, which posts a message: widgets are never
touched from another thread.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Footer, RichLog, Static

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
    Raised,
    ReplayFinished,
    SessionMessage,
    Tick,
    Withdrawn,
    WorkerFailed,
)
from callassist.live.session import CallSession
from callassist.reporting.report import format_time
from callassist.scriptpack import ScriptPack
from callassist.settings import Settings
from callassist.ui.widgets import AlertBanner, AlertList, ChecklistPanel, SayNowCard, StatusBar

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
SPEAKER_STYLE = {"agent": ("坐席", "cyan"), "caller": ("客户", "magenta")}


class SessionUpdate(Message):
    """A session message crossing from the worker thread into the app."""

    def __init__(self, update: SessionMessage) -> None:
        super().__init__()
        self.update = update


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "close")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        yield Static("\n".join(self.lines), id="help")


class CallAssistApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "callassist"

    def __init__(self, pack: ScriptPack, settings: Settings, session: CallSession | None = None,
                 replay: bool = False) -> None:
        super().__init__()
        self.pack = pack
        self.settings = settings
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
        self.call_time = 0.0
        self.paused = False
        self.markers: list[Text] = []  # event lines waiting for the transcript line they belong after
        self._install_bindings()

    def _install_bindings(self) -> None:
        keys = self.settings.keys
        bindings = [
            (keys.start_call, "start_call", "start call"),
            (keys.end_call, "end_call", "end call"),
            (keys.hold, "hold", "hold/resume"),
            *[(getattr(keys, name), f"mark('{name}')", name) for name in SITUATION_KEYS],
            (keys.dismiss, "dismiss", "dismiss"),
            (keys.help, "help", "help"),
            (keys.quit, "quit", "quit"),
        ]
        if self.replay:
            bindings += [(keys.pause, "pause", "pause"), (keys.back, "seek(-5)", "-5 s"), (keys.forward, "seek(5)", "+5 s")]
        for key, action, description in bindings:
            self.bind(key, action, description=description)
        self.key_help = [f"{key:>14}  {description}" for key, _, description in bindings]

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        yield AlertBanner(id="alert")
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield SayNowCard(id="say")
                yield RichLog(id="transcript", wrap=True, markup=False)
                yield Static("", id="partial")
            with Vertical(id="right"):
                yield ChecklistPanel(id="checklist")
                yield AlertList(id="alerts")
                yield Static("", id="device")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "replay" if self.replay else "live"
        self._render_all(agent=None, caller=None)
        if self.session is not None:
            self.run_worker(self.session.run, thread=True, name="session", exit_on_error=False)

    # ------------------------------------------------------------------ from the session

    def deliver(self, update: SessionMessage) -> None:
        """Called from the session's thread."""
        self.post_message(SessionUpdate(update))

    def on_session_update(self, message: SessionUpdate) -> None:
        self.apply(message.update)

    def apply(self, update: SessionMessage) -> None:
        match update:
            case Tick():
                self.phase = update.phase
                self.call_time = update.call_time
                self.paused = update.paused
                self.countdown = update.countdowns[0] if update.countdowns else None
                if self.alert is not None and update.call_time - self.alert.t > ALERT_SHOWN_FOR:
                    self.alert = None
                    self.query_one(AlertBanner).show(None)
                if self.prompt is not None and self.prompt.kind == "hint" and update.call_time - self.prompt.t > HINT_SHOWN_FOR:
                    self.prompt = None
                self._flush_markers()
                self.query_one(StatusBar).show(
                    update.phase, update.call_time, update.agent_dbfs, update.caller_dbfs, update.position, update.paused
                )
                self.query_one(SayNowCard).show(self.pack, self.prompt, self.countdown)
            case Heard():
                self._show_heard(update)
            case Raised(event=event):
                self._raise(event)
            case Withdrawn(event=event):
                self.alerts = [a for a in self.alerts if a is not event]
                if self.alert is event:
                    self.alert = None
                    self.query_one(AlertBanner).show(None)
                self.query_one(AlertList).show(self.alerts)
            case Cleared(situation=situation):
                if self.prompt is not None and self.prompt.id == situation:
                    self.prompt = None
                    self.query_one(SayNowCard).show(self.pack, None, self.countdown)
            case Checklist():
                self.checklist = update
                self.query_one(ChecklistPanel).show(update, self.caller_audio)
            case CallStarted(caller_audio=caller_audio, resumed_at=resumed_at):
                self.caller_audio = caller_audio
                self.phase = "in_call"
                self.prompt, self.countdown = None, None
                log = self.query_one("#transcript", RichLog)
                if resumed_at is None:
                    self.alert, self.alerts, self.checklist = None, [], None
                    log.clear()
                else:
                    log.write(Text(f"— jumped to {format_time(resumed_at)[:-3]}: judging afresh from here —", style="grey50"))
                self._render_all()
            case CallEnded():
                self.phase = "ended"
                saved = f"report saved: {update.report_path}" if update.report_path else "call ended"
                self.notify(f"{saved} (score {update.score})", title="Call ended", timeout=8)
                self.query_one("#transcript", RichLog).write(Text(f"— {saved}, score {update.score} —", style="bold"))
            case DeviceProblem(text=text, overflows=overflows):
                device = self.query_one("#device", Static)
                device.set_class(bool(text), "problem")
                note = f"\ninput overflows: {overflows}" if overflows else ""
                device.update(f"⚠ {text} — reconnecting…{note}" if text else f"audio ok{note}")
            case WorkerFailed(text=text):
                self.notify(text, title="analysis error (still running)", severity="error", timeout=10)
            case ReplayFinished():
                self.notify("replay finished — press q to quit", timeout=30)

    def _render_all(self, agent: float | None = None, caller: float | None = None) -> None:
        self.query_one(StatusBar).show(self.phase, self.call_time, agent, caller if self.caller_audio else None)
        self.query_one(SayNowCard).show(self.pack, self.prompt, self.countdown)
        self.query_one(AlertBanner).show(self.alert)
        self.query_one(ChecklistPanel).show(self.checklist, self.caller_audio)
        self.query_one(AlertList).show(self.alerts)

    def _raise(self, event: Event) -> None:
        if event.id == "forbidden_phrase":
            self.alert = event
            self.alerts.append(event)
            self.query_one(AlertBanner).show(event)
            self.query_one(AlertList).show(self.alerts)
            self.bell()
        elif event.say or event.advice:
            self.prompt = event
            self.query_one(SayNowCard).show(self.pack, event, self.countdown)
        style = "bold red" if event.kind == "violation" else "bold yellow"
        self.markers.append(Text(f"{format_time(event.t)[:-3]} ▶ {event.id}", style=style))

    def _flush_markers(self) -> None:
        log = self.query_one("#transcript", RichLog)
        for marker in self.markers:
            log.write(marker)
        self.markers.clear()

    def _show_heard(self, update: Heard) -> None:
        heard = update.heard
        name, colour = SPEAKER_STYLE[heard.utterance.speaker]
        partial = self.query_one("#partial", Static)
        if not heard.final:
            partial.update(Text(f"{name}: {heard.utterance.text} …", style=colour))
            return
        partial.update("")
        if not heard.utterance.text:
            return
        line = Text.assemble((f"{format_time(heard.utterance.start)[:-3]} {name} ", f"bold {colour}"))
        body = Text(heard.utterance.text)
        for alert in self.alerts:
            if heard.utterance.start - 0.5 <= alert.t <= heard.utterance.end + 0.5 and alert.heard:
                body.highlight_words([alert.heard], style="bold white on red")
        self.query_one("#transcript", RichLog).write(line + body)
        self._flush_markers()

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

    def action_dismiss(self) -> None:
        self.prompt, self.alert = None, None
        self.query_one(SayNowCard).show(self.pack, None, self.countdown)
        self.query_one(AlertBanner).show(None)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(["callassist keys", ""] + self.key_help))

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
