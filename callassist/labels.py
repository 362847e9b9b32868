"""What people read instead of ids: event, step, checklist and screen labels, in Chinese (the
default) or English, from one place.

Event ids stay in JSON and CSV; everything a person reads (the screen, the HTML report, the text
summary) goes through `Labels`. Situation titles come from the script pack (its Chinese
`title`s, so a deployment pack's own situations are labelled too); the few ids that are not
situations (a forbidden phrase, a missing greeting) and the English names are listed here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from callassist.scriptpack import ScriptPack

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")

# Event ids the engine raises that are not situations of the pack.
OTHER_EVENTS: dict[str, tuple[str, str]] = {
    "forbidden_phrase": ("禁用语", "forbidden phrase"),
    "missing_greeting": ("未按规范问候", "missing greeting"),
    "missing_closing": ("未按规范结束通话", "missing closing"),
}

# English names of the standard pack's situations (the Chinese ones are the pack's titles).
ENGLISH_TITLES: dict[str, str] = {
    "greeting": "greeting",
    "greeted_by_caller": "caller greeted first",
    "caller_name": "caller's surname known",
    "silent_caller": "silent caller",
    "speakerphone": "caller on speakerphone",
    "quiet_caller": "caller too quiet",
    "noisy_line": "noisy line",
    "dialect_caller": "caller speaks dialect",
    "angry_caller": "angry caller",
    "hold": "asking the caller to hold",
    "cannot_answer": "cannot answer",
    "unreasonable_request": "request that cannot be met",
    "thanked": "caller thanks or praises",
    "suggestion": "caller makes a suggestion",
    "confirm_understood": "confirm after explaining",
    "closing": "closing the call",
    "agent_dead_air": "dead air",
    "crosstalk": "talking over the caller",
    "fast_speech": "speaking too fast",
    "agent_dialect": "agent speaks dialect",
    "hold_too_long": "hold too long",
    "missing_hold_return": "no apology or thanks after hold",
}

# Checklist items: the required lines and the hold etiquette.
CHECKLIST: dict[str, tuple[str, str]] = {
    "greeting": ("开头问候", "greeting"),
    "closing": ("结束语", "closing"),
    "closing_offer": ("询问还有什么可以帮助", "offer more help"),
    "closing_thanks": ("感谢来电并道别", "thanks and goodbye"),
    "hold": ("等待礼仪", "hold etiquette"),
}

KINDS: dict[str, tuple[str, str]] = {
    "situation": ("情形", "situation"),
    "violation": ("违规", "violation"),
    "hint": ("提示", "hint"),
}

SPEAKERS: dict[str, tuple[str, str]] = {"agent": ("坐席", "agent"), "caller": ("客户", "caller")}

# Words of the screen and the text summary.
WORDS: dict[str, tuple[str, str]] = {
    "waiting": ("等待来电", "waiting"),
    "in_call": ("通话中", "in call"),
    "on_hold": ("保持中", "on hold"),
    "ended": ("已结束", "ended"),
    "ending": ("结束中", "ending"),
    "saved": ("已保存", "saved"),
    "save_failed": ("保存失败", "save failed"),
    "waiting_for_call": ("— 等待来电 —", "— waiting for a call —"),
    "call_over": ("— 通话已结束 —", "— call ended —"),
    "last_call": ("上一通（已结束）", "last call, ended"),
    "unsaved": ("{n} 份报告未保存 — {retry} 重试", "{n} report(s) not saved — {retry}: retry"),
    "not_saved": ("报告未保存", "report NOT saved"),
    "reports_saved": ("报告已保存", "reports saved"),
    "say_now": ("现在说", "say now"),
    "nothing_to_say": ("— 暂无提示 —", "— nothing to say yet —"),
    "forbidden": ("禁用语", "forbidden"),
    "say_instead": ("改说", "say instead"),
    "checklist": ("检查项", "checklist"),
    "forbidden_this_call": ("本通禁用语", "forbidden phrases this call"),
    "no_caller": ("未接入客户声音：客户方情形不检测", "no caller channel: caller-side situations are off"),
    "not_wired": ("未接入", "not wired"),
    "replay": ("回放", "replay"),
    "paused": ("暂停", "paused"),
    "audio_ok": ("音频正常", "audio ok"),
    "reconnecting": ("正在重新连接", "reconnecting"),
    "overflows": ("输入溢出", "input overflows"),
    "dropped": ("丢弃音频块（分析跟不上）", "blocks dropped (analysis fell behind)"),
    "keys": ("按键", "keys"),
    "placeholders": (
        "开头语含占位符 {company}/{agent}：运行 callassist setup",
        "greeting holds placeholders {company}/{agent}: run callassist setup",
    ),
    "jumped": ("— 跳到 {t}（从通话开头判断）—", "— jumped to {t} (judged from the start) —"),
    "report_saved": ("报告已保存：{path}", "report saved: {path}"),
    "call_ended": ("通话结束", "call ended"),
    "score": ("得分", "score"),
    "replay_finished": ("回放结束 — 按 q 退出", "replay finished — press q to quit"),
    "analysis_error": ("分析出错（仍在运行）", "analysis error (still running)"),
    "heard": ("听到", "heard"),
    "said": ("原话", "said"),
    "cue": ("关键词", "cue"),
    "hold_count": ("{n} 次", "{n} hold(s)"),
    "call": ("通话", "call"),
    "text_from": ("文字来源", "text from"),
    "deductions": ("扣分", "deductions"),
    "no_deductions": ("无", "none"),
    "no_events": ("没有事件。", "No events."),
    "say": ("应说", "say"),
    "advice": ("建议", "advice"),
    "match": ("匹配度", "match"),
    "detail": ("说明", "detail"),
    "not_judged": ("未判定（无文字）", "not judged (no text)"),
    "missing": ("未做到", "missing"),
}

# Key actions, for the key bar and the help screen.
ACTIONS: dict[str, tuple[str, str]] = {
    "help": ("帮助", "help"),
    "quit": ("退出", "quit"),
    "start_call": ("接通", "start call"),
    "end_call": ("挂断", "end call"),
    "hold": ("保持/恢复", "hold/resume"),
    "silent": ("无声", "silent"),
    "quiet": ("声小", "quiet"),
    "noisy": ("杂音", "noisy"),
    "dialect": ("方言", "dialect"),
    "angry": ("不满", "angry"),
    "dismiss": ("关闭提示", "dismiss"),
    "retry_save": ("重新保存", "retry saving"),
    "pause": ("暂停/继续", "pause"),
    "back": ("后退 5 秒", "back 5 s"),
    "forward": ("前进 5 秒", "forward 5 s"),
}


# The engine's event details, as the detectors write them (English, for logs and JSON), in Chinese.
DETAILS_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), chinese)
    for pattern, chinese in (
        # the greeting and closing details of reports written before those checks became rules
        (r"^not said: (.*)$", r"未说：\1"),
        (r"^no greeting in time$", "未及时问候"),
        (r"^first utterance is not the greeting$", "第一句不是开头问候"),
        (r"^voice ([+-]\d+) dB, pitch ×([\d.]+)$", r"音量 \1 dB，音调 ×\2"),
        (r"^voice ([+-]\d+) dB$", r"音量 \1 dB"),
        (r"^([\d.]+) characters/s \(limit ([\d.]+)\)$", r"每秒 \1 字（上限 \2）"),
        (r"^marked by the agent$", "坐席按键标记"),
        (r"^noise floor (-?\d+) dBFS$", r"底噪 \1 dBFS"),
        (r"^dialect characters: (.*)$", r"方言字：\1"),
        (r"^low recognition confidence: ([\d.]+)$", r"识别置信度低：\1"),
    )
)


@dataclass(frozen=True)
class Labels:
    """Labels in one language; `titles` are the pack's situation titles by id."""

    language: Language = "zh"
    titles: dict[str, str] = field(default_factory=dict)
    cue_situations: dict[str, str] = field(default_factory=dict)  # cue id -> its situation id

    def _pick(self, pair: tuple[str, str]) -> str:
        return pair[0] if self.language == "zh" else pair[1]

    def event(self, event_id: str, title: str | None = None) -> str:
        """An event or situation id as a person reads it. The standard's ids have labels in both
        languages (its own rules' events too); another rule's event reads as its `title`; else
        the id itself."""
        if event_id in OTHER_EVENTS:
            return self._pick(OTHER_EVENTS[event_id])
        if self.language == "en":
            return ENGLISH_TITLES.get(event_id) or title or event_id.replace("_", " ")
        return self.titles.get(event_id) or title or event_id

    def kind(self, kind: str) -> str:
        return self._pick(KINDS[kind]) if kind in KINDS else kind

    def speaker(self, speaker: str | None) -> str:
        return self._pick(SPEAKERS[speaker]) if speaker in SPEAKERS else (speaker or "")

    def check(self, item: str) -> str:
        return self._pick(CHECKLIST[item]) if item in CHECKLIST else self.event(item)

    def step(self, step: int, steps: int | None = None) -> str:
        if self.language == "en":
            return f"step {step}" + (f" of {steps}" if steps else "")
        return f"第{step}步" + (f"/共{steps}步" if steps else "")

    def word(self, key: str, **values: object) -> str:
        return self._pick(WORDS[key]).format(**values)

    def action(self, key: str) -> str:
        return self._pick(ACTIONS[key]) if key in ACTIONS else key

    def detail(self, detail: str) -> str:
        """An event's detail: `cue: <id>` becomes the cue's situation; in Chinese, the engine's
        other English details are translated (a forbidden phrase's detail is Chinese already)."""
        if detail.startswith("cue: "):
            cue = detail[len("cue: "):]
            situation = self.cue_situations.get(cue)
            return f"{self.word('cue')}: {self.event(situation) if situation else cue}"
        if self.language == "zh":
            for pattern, chinese in DETAILS_ZH:
                if pattern.match(detail):
                    return pattern.sub(chinese, detail)
        return detail


def labels_for(pack: ScriptPack, language: Language = "zh") -> Labels:
    return Labels(
        language=language,
        titles={s.id: s.title for s in pack.situations.values() if s.title},
        cue_situations={c.id: c.situation for c in pack.cues},
    )


@lru_cache(maxsize=2)
def standard_labels(language: Language = "zh") -> Labels:
    """Labels from the standard pack, for outputs made from a report alone (HTML, summaries)."""
    from callassist.scriptpack import load_pack

    return labels_for(load_pack([], {}), language)
