"""The pack's QA rules (`[[rule]]`), judged in stream time inside the engine like any detector.

Text rules are judged as each utterance's text arrives; a violation or hint whose every
condition can be settled from what has been said so far is flagged from partial text already
(and withdrawn if the final text no longer holds it), so the live screen shows it as soon as
the forbidden phrase is heard. Anything that waits (a required line's window, an exception that
may still be said after the trigger, silence) runs on engine deadlines, never the wall clock.

The standard's own lexical checks are rules too (`scripts_zh/rules.toml`): the greeting (a
required line in the agent's first utterance), the closing (`each` closing line, waived when a
script hung up), the line after each hold (`after_hold`) and the forbidden phrases (one event per
phrase, `per_phrase`). Their windows' verdicts feed the report's checklist (`windows`).

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
from callassist.scriptpack import Situation
from callassist.rules.conditions import ConditionJudge
from callassist.rules.model import ON_HOLD, Condition, Context, Phrase, Rule


@dataclass
class _Said:
    """A final utterance in arrival order, with the contexts already judged on it. `turn`: its
    place among its speaker's final utterances (1 for their first)."""

    index: int
    heard: HeardText
    turn: int
    found: dict[int, PhraseHit | None] = field(default_factory=dict)  # id(condition) -> hit

    @property
    def end(self) -> float:
        return self.heard.utterance.end


@dataclass
class Window:
    """Where a required rule is owed: from `opened` until `closes` (seconds), for `turns` more
    utterances of anyone, for `own_turns` more of the rule's speaker, or (all None) until the
    call ends. Kept after it is judged, as the checklist's record: `ok` True when the line was
    said (`said_in`: the start of the utterance that said it), False when it was raised as
    missing, None while undecided (or never decided: the turn it was owed in never came)."""

    rule: Rule
    opened: float
    closes: float | None = None
    turns: int | None = None
    own_turns: int | None = None
    hold: int | None = None  # the hold (index in the call phase) whose end opened it
    overdue: bool = False  # closed while the speaker was talking: judged on their next text
    said: dict[str, float] = field(default_factory=dict)  # `each` line -> when it was said (its end)
    ok: bool | None = None
    said_in: float | None = None


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
        self.judge = ConditionJudge(ctx.matcher, ctx.pack.fill, self._spoke_before)
        self.said: list[_Said] = []
        self.turns = {speaker: 0 for speaker in self.state.utterances}  # final utterances per speaker
        self.episodes: dict[str, list[tuple[float, float]]] = {}
        # utterance key -> (rule id, phrase) -> the flag raised from its partial text
        self.from_partials: dict[str, dict[tuple[str, str], Event]] = {}
        self.windows: list[Window] = [
            Window(rule, 0.0, rule.first, own_turns=1 if rule.first_turn else None)
            for rule in self.rules
            if rule.kind == "required" and rule.after is None and rule.last is None and not rule.after_hold
        ]
        self.judged: list[Window] = []  # windows decided or closed, in order
        self.pending: list[_Pending] = []
        self.late: list[tuple[Rule, Event]] = []  # `last` rules: kept until the call's end is known
        self.unjudged: list[HeardText] = []  # text of the current input, judged when settled
        self.due: float | None = None  # a deadline instant reached, judged when settled
        self.quiet_since: float | None = None
        self.silence_done: set[str] = set()  # silence rules raised in the current quiet stretch
        self.holds_ended = 0  # holds of the call phase whose end has opened `after_hold` windows
        self._silence_rules = [r for r in self.rules if r.silence is not None]
        self._text_rules = [r for r in self.rules if r.when is not None and r.kind != "required"]
        self._anchored = [r for r in self.rules if r.kind == "required" and r.after is not None]
        self._last_required = [r for r in self.rules if r.kind == "required" and r.last is not None]
        self._after_hold = [r for r in self.rules if r.after_hold]
        self._lines: dict[str, dict[str, Condition]] = {  # rule id -> `each` line -> its phrases
            rule.id: _lines(rule.each) for rule in self.rules if rule.each
        }

    def verdicts(self, rule_id: str) -> list[Window]:
        """Every window of the rule opened so far, in order (decided or not)."""
        return [w for w in (*self.judged, *self.windows) if w.rule.id == rule_id]

    def lines(self, rule_id: str) -> list[str]:
        """The lines a rule's `each` lists (empty for another rule or none)."""
        return list(self._lines.get(rule_id, {}))

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
        if self._after_hold:
            self._open_hold_windows()
        for heard in self.unjudged:
            self._judge(heard)
        self.unjudged.clear()

    def _judge(self, heard: HeardText) -> None:
        if not heard.final:
            flagged = self.from_partials.setdefault(heard.key, {})
            for rule in self._text_rules:
                if self._settled_early(rule):
                    for key, event in self._triggers(rule, heard):
                        if (rule.id, key) not in flagged:
                            flagged[(rule.id, key)] = event
                            self.ctx.emit(event)
            return
        flagged = self.from_partials.pop(heard.key, {})
        self.turns[heard.speaker] += 1
        said = _Said(len(self.said), heard, self.turns[heard.speaker])
        self._settle_pending(said)
        self._settle_windows(said)
        for rule in self._text_rules:
            found = self._triggers(rule, heard)
            for key, event in found:
                if (rule.id, key) in flagged:  # raised from the partial text: now timed by the final
                    self.ctx.retime(flagged[(rule.id, key)], _retimed(flagged[(rule.id, key)], event))
                else:
                    self._raise(rule, event, said.index)
            kept = {key for key, _ in found}
            for (rule_id, key), event in flagged.items():
                if rule_id == rule.id and key not in kept:
                    self.ctx.withdraw(event)
        self.said.append(said)
        for rule in self._anchored:
            assert rule.after is not None
            hit = self._find(rule.after.condition, said, rule)
            if hit is not None:
                opened = heard.span_times(hit)[1]
                closes = opened + rule.after.within if rule.after.within is not None else None
                self.windows.append(Window(rule, opened, closes, rule.after.turns))

    def _open_hold_windows(self) -> None:
        """A hold that has ended owes each `after_hold` rule the speaker's next utterance."""
        holds = self.state.phase.holds
        while self.holds_ended < len(holds) and holds[self.holds_ended].end is not None:
            end = holds[self.holds_ended].end
            assert end is not None
            for rule in self._after_hold:
                self.windows.append(Window(rule, end, own_turns=1, hold=self.holds_ended))
            self.holds_ended += 1

    def _spoke_before(self, speaker: str, t: float) -> bool:
        first = self.state.first_speech.get(speaker)  # type: ignore[call-overload]
        return first is not None and first < t

    # -- time -----------------------------------------------------------------------------

    def _timed(self, window: Window) -> bool:
        """Does the window's time limit still apply? A window owed in the speaker's own turn
        waits, once that turn has begun, for its text instead."""
        if window.closes is None or window.overdue:
            return False
        if window.own_turns is None:
            return True
        speakers = [window.rule.speaker] if window.rule.speaker else list(self.state.speech_start)
        return not any(
            (began := self.state.speech_start[s]) is not None and began >= window.opened  # type: ignore[index]
            for s in speakers
        )

    def _next_due(self) -> float | None:
        if not (self.windows or self.pending or self.quiet_since is not None):
            return None
        due = [w.closes for w in self.windows if self._timed(w)]
        due += [p.closes for p in self.pending if p.closes is not None]
        if self.quiet_since is not None:
            due += [self.quiet_since + r.silence for r in self._silence_rules if r.id not in self.silence_done]  # type: ignore[operator]
        return min(due, default=None)  # type: ignore[type-var]

    def on_deadline(self, t: float) -> None:
        self.due = t

    def deadline(self) -> float | None:
        if not self.rules or self.due is not None:  # reached, not judged yet: nothing further is due before that
            return None
        return self._next_due()

    def _judge_deadline(self, t: float) -> None:
        for window in [w for w in self.windows if self._timed(w) and w.closes <= t]:  # type: ignore[operator]
            speaker = window.rule.speaker
            talking = self.state.speaking[speaker] if speaker else self.state.anyone_speaking
            if not self.state.has_text:  # nothing is recognised: a line cannot be judged missing
                self._close(window, None)
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
        for window in list(self.windows):
            rule = window.rule
            if not self.state.has_text or (window.own_turns is not None and not self._timed(window)):
                self._close(window, None)  # owed in a turn whose text never came: not judged
            elif rule.waived_by_hang_up and self.state.ended_by is not None:
                self._close(window, None)
            elif window.closes is None and rule.after is None:  # owed anywhere in the call
                last = self._last_speech_end(rule)
                self._missing(window, t, start=min(last, t) if last is not None else t)
            else:
                self._missing(window, t if window.closes is None else min(window.closes, t))
        if self.state.has_text:
            for rule in self._last_required:
                if not self._said_in_last(rule, t):
                    self._emit_missing(rule, max(0.0, t - rule.last), t)  # type: ignore[operator]
        for rule, event in self.late:
            if event.t >= t - rule.last:  # type: ignore[operator]
                self._emit_held(event)
        self.late.clear()

    def _last_speech_end(self, rule: Rule) -> float | None:
        ends = self.state.last_speech_end
        times = [ends[rule.speaker]] if rule.speaker else list(ends.values())
        return max((e for e in times if e is not None), default=None)

    # -- judging --------------------------------------------------------------------------

    @staticmethod
    def _settled_early(rule: Rule) -> bool:
        """Can a partial result flag this rule? Not when it waits for later text or the end."""
        return rule.last is None and all(c.side == "before" for c in rule.unless)

    def _triggers(self, rule: Rule, heard: HeardText) -> list[tuple[str, Event]]:
        """The rule's events in this utterance where `when` holds and its scope and context
        allow, each with its key among the rule's flags (the phrase, for `per_phrase`)."""
        assert rule.when is not None
        if rule.per_phrase:
            found = self.judge.phrases_found(rule.when, heard, rule.speaker)
        else:
            hit = self.judge.find(rule.when, heard, rule.speaker)
            found = [] if hit is None else [(None, hit)]
        events = []
        for phrase, hit in found:
            start, end = heard.span_times(hit)
            if not self._in_scope(rule, end):
                continue
            own = (heard, hit.start)
            if rule.after is not None and not self._before(rule, rule.after, start, own):
                continue
            if any(c.side == "before" and self._before(rule, c, start, own) for c in rule.unless):
                continue
            extra = {} if phrase is None else {
                "phrase_id": phrase.id, "situation": phrase.situation, "detail": phrase.text,
            }
            event = self._event(rule, end, start, end, heard.speaker, heard=hit.heard, score=round(hit.score, 1), **extra)
            events.append(("" if phrase is None else phrase.line, event))
        return events

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
            u = said.heard.utterance
            own = rule.speaker is None or u.speaker == rule.speaker
            if window.own_turns is not None:
                if own:
                    self._settle_turn(window, said)
                continue
            if rule.skip_first_turn and own and said.turn == 1:
                continue
            if rule.each:
                if own:
                    self._settle_lines(window, said)
                continue
            assert rule.when is not None
            hit = self._find(rule.when, said, rule)
            if hit is not None and u.end > window.opened:
                start = said.heard.span_times(hit)[0]
                if window.closes is None or start <= window.closes:
                    self._close(window, True, u.start)
                    continue
            if window.overdue and own:
                self._missing(window, window.closes)  # type: ignore[arg-type]
            elif window.turns is not None and u.start >= window.opened:
                window.turns -= 1
                if window.turns <= 0:
                    self._missing(window, u.end)

    def _settle_turn(self, window: Window, said: _Said) -> None:
        """The speaker's utterance in a window owed in their own turn: it begins too late, says
        the line, or uses up one of the turns."""
        rule = window.rule
        u = said.heard.utterance
        if window.closes is not None and u.start > window.closes:
            self._missing(window, window.closes)
            return
        assert rule.when is not None
        if self._find(rule.when, said, rule) is not None:
            self._close(window, True, u.start)
            return
        assert window.own_turns is not None
        window.own_turns -= 1
        if window.own_turns <= 0:
            self._missing(window, u.end, start=u.start)

    def _settle_lines(self, window: Window, said: _Said) -> None:
        for line, condition in self._lines[window.rule.id].items():
            if line not in window.said:
                hit = self._find(condition, said, window.rule)
                if hit is not None:
                    window.said[line] = said.heard.span_times(hit)[1]
        if len(window.said) == len(self._lines[window.rule.id]):
            self._close(window, True, said.heard.utterance.start)

    def _said_in_last(self, rule: Rule, end: float) -> bool:
        assert rule.when is not None and rule.last is not None
        for said in reversed(self.said):
            hit = self._find(rule.when, said, rule)
            if hit is not None and said.heard.span_times(hit)[1] >= end - rule.last:
                return True
            if said.end < end - rule.last:
                return False
        return False

    def _close(self, window: Window, ok: bool | None, said_in: float | None = None) -> None:
        if window in self.windows:
            self.windows.remove(window)
            self.judged.append(window)
        window.ok, window.said_in = ok, said_in

    def _missing(self, window: Window, t: float, start: float | None = None) -> None:
        self._close(window, False)
        rule = window.rule
        if rule.each:
            missing = [c.said[0].text for line, c in self._lines[rule.id].items() if line not in window.said]
            detail = "未说：" + "、".join(self.ctx.pack.fill(text) for text in missing)
            self.ctx.emit(self._event(rule, t, window.opened if start is None else start, t, rule.speaker, detail=detail))
        else:
            self._emit_missing(rule, window.opened if start is None else start, t)

    def _emit_missing(self, rule: Rule, start: float, t: float) -> None:
        assert rule.when is not None
        owed = _first_said(rule.when)
        self.ctx.emit(self._event(rule, t, start, t, rule.speaker, detail=f"未说：{self.ctx.pack.fill(owed)}"))

    def _event(
        self, rule: Rule, t: float, start: float, end: float, speaker: str | None,
        situation: str | None = None, **extra,
    ) -> Event:
        """The rule's event; its approved line and advice come from `situation` (a forbidden
        phrase's), else the rule's, else the situation with the rule's id, if the pack has it."""
        entry = self._situation(situation or rule.situation or rule.id)
        return Event(
            id=rule.id,
            kind="hint" if rule.kind == "hint" else "violation",
            t=t,
            start=start,
            end=end,
            speaker=speaker,
            say=self.ctx.pack.say(entry.id, 1) if entry else None,
            advice=rule.advice or (entry.advice if entry else None),
            emitted=self.state.now,
            rule=rule.id,
            title=rule.title,
            fatal=True if rule.fatal else None,
            follow_up_hours=rule.follow_up_hours,
            **extra,
        )

    def _situation(self, situation_id: str) -> Situation | None:
        return self.ctx.pack.situations.get(situation_id)


def _lines(each: tuple[Phrase, ...]) -> dict[str, Condition]:
    """A rule's `each` as one condition per line (the phrases of one entry say the same line)."""
    grouped: dict[str, list[Phrase]] = {}
    for phrase in each:
        grouped.setdefault(phrase.line, []).append(phrase)
    return {line: Condition(said=tuple(phrases)) for line, phrases in grouped.items()}


def _first_said(condition: Condition) -> str:
    """What a missing line's event names: the first phrase (or pattern) the condition gives."""
    if condition.said:
        return condition.said[0].text
    if condition.regex:
        return condition.regex
    return next((text for sub in (*condition.any, *condition.all) if (text := _first_said(sub))), "")


def _retimed(flag: Event, final: Event) -> Event:
    """A flag raised from partial text as the final text times it; when it was raised does not
    change (partials have no word times, so their hits are timed by interpolation)."""
    return replace(flag, t=final.t, start=final.start, end=final.end, heard=final.heard, score=final.score)
