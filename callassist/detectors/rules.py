"""The pack's QA rules (`[[rule]]`), judged in stream time inside the engine like any detector.

Text rules are judged as each utterance's text arrives; a violation or hint whose every
condition can be settled from what has been said so far is flagged from partial text already
(and withdrawn if the final text no longer holds it), so the live screen shows it as soon as
the forbidden phrase is heard. Anything that waits (a required line's window, an exception that
may still be said after the trigger, silence) runs on engine deadlines, never the wall clock.

Situation episodes (`while = "angry_caller"`) come from the events the other detectors raise:
an episode runs from the event's evidence until `timings.episode_gap` seconds after it was
raised (the gap that groups that situation's cues), or the end of the call. Text and deadlines
are judged in `on_settled`, once every detector has handled the same input, so a situation
raised by the very utterance that holds the trigger counts whatever the detector order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from callassist.detectors.base import Detector
from callassist.events import Event
from callassist.heard import HeardText
from callassist.inputs import SpeechEnded, SpeechStarted
from callassist.matching import PhraseHit
from callassist.rules.conditions import ConditionJudge
from callassist.rules.model import ON_HOLD, Condition, Context, Rule


@dataclass
class _Said:
    """A final utterance in arrival order, with the contexts already judged on it."""

    index: int
    heard: HeardText
    found: dict[int, PhraseHit | None] = field(default_factory=dict)  # id(condition) -> hit

    @property
    def end(self) -> float:
        return self.heard.utterance.end


@dataclass
class _Window:
    """Where a required rule's `when` is owed: from `opened` until `closes` (seconds), for
    `turns` more utterances, or (both None) until the call ends."""

    rule: Rule
    opened: float
    closes: float | None = None
    turns: int | None = None
    overdue: bool = False  # closed while the speaker was talking: judged on their next text


@dataclass
class _Pending:
    """A trigger held until its after-side exceptions can no longer be said."""

    rule: Rule
    event: Event
    after: tuple[Context, ...]
    since_index: int
    closes: float | None
    turns: int | None


class RulesDetector(Detector):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.rules = ctx.pack.rules
        self.judge = ConditionJudge(ctx.matcher, ctx.pack.fill)
        self.said: list[_Said] = []
        self.episodes: dict[str, list[tuple[float, float]]] = {}
        self.from_partials: dict[str, dict[str, Event]] = {}  # utterance key -> rule id -> flag
        self.windows = [
            _Window(rule, 0.0, rule.first)
            for rule in self.rules
            if rule.kind == "required" and rule.after is None and rule.last is None
        ]
        self.pending: list[_Pending] = []
        self.late: list[tuple[Rule, Event]] = []  # `last` rules: kept until the call's end is known
        self.unjudged: list[HeardText] = []  # text of the current input, judged when settled
        self.due: float | None = None  # a deadline instant reached, judged when settled
        self.quiet_since: float | None = None
        self.silence_done: set[str] = set()  # silence rules raised in the current quiet stretch
        self._silence_rules = [r for r in self.rules if r.silence is not None]
        self._text_rules = [r for r in self.rules if r.when is not None and r.kind != "required"]
        self._anchored = [r for r in self.rules if r.kind == "required" and r.after is not None]
        self._last_required = [r for r in self.rules if r.kind == "required" and r.last is not None]

    # -- inputs ---------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        if event.rule is None:
            end = event.t + self.settings.timings.episode_gap
            self.episodes.setdefault(event.id, []).append((event.start, end))

    def on_speech_started(self, item: SpeechStarted) -> None:
        self.quiet_since = None

    def on_speech_ended(self, item: SpeechEnded) -> None:
        if self._silence_rules and not self.state.anyone_speaking:
            self.quiet_since = item.t
            self.silence_done = set()

    def on_heard(self, heard: HeardText) -> None:
        if self.rules:
            self.unjudged.append(heard)

    def on_settled(self) -> None:
        if not self.rules:
            return
        if self.due is not None:
            due, self.due = self.due, None
            self._judge_deadline(due)
        for heard in self.unjudged:
            self._judge(heard)
        self.unjudged.clear()

    def _judge(self, heard: HeardText) -> None:
        if not heard.final:
            flagged = self.from_partials.setdefault(heard.key, {})
            for rule in self._text_rules:
                if rule.id not in flagged and self._settled_early(rule):
                    event = self._trigger(rule, heard)
                    if event is not None:
                        flagged[rule.id] = event
                        self.ctx.emit(event)
            return
        flagged = self.from_partials.pop(heard.key, {})
        said = _Said(len(self.said), heard)
        self._settle_pending(said)
        self._settle_windows(said)
        for rule in self._text_rules:
            event = self._trigger(rule, heard)
            if rule.id in flagged:
                if event is None:
                    self.ctx.withdraw(flagged[rule.id])
            elif event is not None:
                self._raise(rule, event, said.index)
        self.said.append(said)
        for rule in self._anchored:
            assert rule.after is not None
            hit = self._find(rule.after.condition, said, rule)
            if hit is not None:
                opened = heard.span_times(hit)[1]
                closes = opened + rule.after.within if rule.after.within is not None else None
                self.windows.append(_Window(rule, opened, closes, rule.after.turns))

    # -- time -----------------------------------------------------------------------------

    def _next_due(self) -> float | None:
        if not (self.windows or self.pending or self.quiet_since is not None):
            return None
        due = [w.closes for w in self.windows if w.closes is not None and not w.overdue]
        due += [p.closes for p in self.pending if p.closes is not None]
        if self.quiet_since is not None:
            due += [self.quiet_since + r.silence for r in self._silence_rules if r.id not in self.silence_done]  # type: ignore[operator]
        return min(due, default=None)

    def on_deadline(self, t: float) -> None:
        self.due = t

    def deadline(self) -> float | None:
        if not self.rules or self.due is not None:  # reached, not judged yet: nothing further is due before that
            return None
        return self._next_due()

    def _judge_deadline(self, t: float) -> None:
        for window in [w for w in self.windows if w.closes is not None and w.closes <= t and not w.overdue]:
            speaker = window.rule.speaker
            talking = self.state.speaking[speaker] if speaker else self.state.anyone_speaking
            if not self.state.has_text:  # nothing is recognised: a line cannot be judged missing
                self.windows.remove(window)
            elif talking:  # an utterance under way may hold the line: judge it when its text comes
                window.overdue = True
            else:
                self._missing(window, window.closes)  # type: ignore[arg-type]
        for pending in [p for p in self.pending if p.closes is not None and p.closes <= t]:
            self.pending.remove(pending)
            self._emit_held(pending.event)
        if self.quiet_since is not None:
            for rule in self._silence_rules:
                if rule.id not in self.silence_done and self.quiet_since + rule.silence <= t:  # type: ignore[operator]
                    self.silence_done.add(rule.id)
                    self._silence(rule, self.quiet_since, self.quiet_since + rule.silence)  # type: ignore[operator]

    def on_call_end(self, t: float) -> None:
        for pending in self.pending:
            self._emit_held(pending.event)
        self.pending.clear()
        if self.state.has_text:
            for window in list(self.windows):
                self._missing(window, t if window.closes is None else min(window.closes, t))
            for rule in self._last_required:
                if not self._said_in_last(rule, t):
                    self._emit_missing(rule, max(0.0, t - rule.last), t)  # type: ignore[operator]
        for rule, event in self.late:
            if event.t >= t - rule.last:  # type: ignore[operator]
                self._emit_held(event)
        self.late.clear()

    # -- judging --------------------------------------------------------------------------

    @staticmethod
    def _settled_early(rule: Rule) -> bool:
        """Can a partial result flag this rule? Not when it waits for later text or the end."""
        return rule.last is None and all(c.side == "before" for c in rule.unless)

    def _trigger(self, rule: Rule, heard: HeardText) -> Event | None:
        """The rule's event if `when` holds in this utterance and its scope and context allow."""
        assert rule.when is not None
        hit = self.judge.find(rule.when, heard, rule.speaker)
        if hit is None:
            return None
        start, end = heard.span_times(hit)
        if not self._in_scope(rule, end):
            return None
        own = (heard, hit.start)
        if rule.after is not None and not self._before(rule, rule.after, start, own):
            return None
        if any(c.side == "before" and self._before(rule, c, start, own) for c in rule.unless):
            return None
        return self._event(rule, end, start, end, heard.speaker, heard=hit.heard)

    def _silence(self, rule: Rule, start: float, t: float) -> None:
        if self.state.audio_missing or not self._in_scope(rule, t):
            return
        if rule.after is not None and not self._before(rule, rule.after, start, None):
            return
        if any(c.side == "before" and self._before(rule, c, start, None) for c in rule.unless):
            return
        event = self._event(rule, t, start, t, rule.speaker, detail=f"无人讲话 {rule.silence:g} 秒")
        self._raise(rule, event, len(self.said) - 1)

    def _raise(self, rule: Rule, event: Event, since_index: int) -> None:
        """Emit now, or hold while an exception may still follow (`since_index`: the last
        utterance before the trigger's after-window) or until the call's end is known."""
        after = tuple(c for c in rule.unless if c.side == "after")
        if after:
            bounds = [event.end + c.within for c in after if c.within is not None]
            unbounded = any(c.within is None and c.turns is None for c in after)
            closes = None if unbounded or not bounds else max(bounds)
            turns = max((c.turns for c in after if c.turns is not None), default=None)
            self.pending.append(_Pending(rule, event, after, since_index, closes, turns))
        elif rule.last is not None:
            self.late.append((rule, event))
        else:
            self.ctx.emit(event)

    def _emit_held(self, event: Event) -> None:
        self.ctx.emit(replace(event, emitted=self.state.now))

    def _in_scope(self, rule: Rule, t: float) -> bool:
        if rule.first is not None and t > rule.first:
            return False
        if rule.during is None:
            return True
        if rule.during == ON_HOLD:
            return self._on_hold_at(t)
        return any(start <= t <= end for start, end in self.episodes.get(rule.during, ()))

    def _on_hold_at(self, t: float) -> bool:
        return any(h.start <= t and (h.end is None or t <= h.end) for h in self.state.phase.holds)

    def _before(self, rule: Rule, context: Context, t: float, own: tuple[HeardText, int] | None) -> bool:
        """Was `context` said before time `t` within its reach? `own` is the trigger's utterance
        and where in it the trigger starts: text earlier in that utterance counts too."""
        if own is not None:
            heard, first_char = own
            hit = self.judge.find(context.condition, heard, rule.speaker)
            if hit is not None and hit.end <= first_char:
                return True
        earlier = self.said[-context.turns:] if context.turns else self.said
        for said in reversed(earlier):
            if context.within is not None and said.end < t - context.within:
                break
            if self._find(context.condition, said, rule) is not None:
                return True
        return False

    def _find(self, condition: Condition, said: _Said, rule: Rule) -> PhraseHit | None:
        key = id(condition)
        if key not in said.found:
            said.found[key] = self.judge.find(condition, said.heard, rule.speaker)
        return said.found[key]

    def _settle_pending(self, said: _Said) -> None:
        """A new utterance may be the exception a held trigger waited for, or use up its turns."""
        for pending in list(self.pending):
            in_time = [c for c in pending.after if c.within is None or said.heard.utterance.start <= pending.event.end + c.within]
            if any(self._find(c.condition, said, pending.rule) is not None for c in in_time):
                self.pending.remove(pending)
                continue
            if pending.turns is not None and said.index - pending.since_index >= pending.turns:
                self.pending.remove(pending)
                self._emit_held(pending.event)

    def _settle_windows(self, said: _Said) -> None:
        for window in list(self.windows):
            rule = window.rule
            assert rule.when is not None
            hit = self._find(rule.when, said, rule)
            u = said.heard.utterance
            if hit is not None and u.end > window.opened:
                start = said.heard.span_times(hit)[0]
                if window.closes is None or start <= window.closes:
                    self.windows.remove(window)
                    continue
            if window.overdue and (rule.speaker is None or u.speaker == rule.speaker):
                self._missing(window, window.closes)  # type: ignore[arg-type]
            elif window.turns is not None and u.start >= window.opened:
                window.turns -= 1
                if window.turns <= 0:
                    self._missing(window, u.end)

    def _said_in_last(self, rule: Rule, end: float) -> bool:
        assert rule.when is not None and rule.last is not None
        for said in reversed(self.said):
            hit = self._find(rule.when, said, rule)
            if hit is not None and said.heard.span_times(hit)[1] >= end - rule.last:
                return True
            if said.end < end - rule.last:
                return False
        return False

    def _missing(self, window: _Window, t: float) -> None:
        if window in self.windows:
            self.windows.remove(window)
        self._emit_missing(window.rule, window.opened, t)

    def _emit_missing(self, rule: Rule, start: float, t: float) -> None:
        assert rule.when is not None
        owed = rule.when.said[0] if rule.when.said else rule.when.regex or ""
        self.ctx.emit(self._event(rule, t, start, t, rule.speaker, detail=f"未说：{owed}"))

    def _event(self, rule: Rule, t: float, start: float, end: float, speaker: str | None, **extra) -> Event:
        return Event(
            id=rule.id,
            kind="hint" if rule.kind == "hint" else "violation",
            t=t,
            start=start,
            end=end,
            speaker=speaker,
            advice=rule.advice,
            emitted=self.state.now,
            rule=rule.id,
            title=rule.title,
            fatal=True if rule.fatal else None,
            follow_up_hours=rule.follow_up_hours,
            **extra,
        )
