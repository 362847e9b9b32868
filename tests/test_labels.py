"""Labels people read: the pack's Chinese titles for events, Chinese for the engine's details, English on request."""

from __future__ import annotations

from callassist.labels import labels_for


def test_events_steps_and_checklist_items_are_named_in_chinese(pack):
    zh = labels_for(pack)
    assert [zh.event(i) for i in ("silent_caller", "agent_dead_air", "caller_name", "forbidden_phrase", "missing_closing")] == [
        "来电无声", "坐席冷场", "得知来电人姓氏", "禁用语", "未按规范结束通话",
    ]
    assert zh.step(2, 3) == "第2步/共3步" and zh.check("closing_offer") == "询问还有什么可以帮助"
    assert zh.kind("violation") == "违规" and zh.speaker("caller") == "客户"
    assert zh.event("site_only_event") == "site_only_event", "an id nothing names stays readable"


def test_the_engines_details_read_in_chinese(pack):
    zh, en = labels_for(pack), labels_for(pack, "en")
    assert zh.detail("cue: complaint_words") == "关键词: 来电人不满或投诉"
    assert zh.detail("not said: 请问还有什么可以帮助您？") == "未说：请问还有什么可以帮助您？"
    assert zh.detail("7.9 characters/s (limit 6.5)") == "每秒 7.9 字（上限 6.5）"
    assert zh.detail("voice +8 dB, pitch ×1.21") == "音量 +8 dB，音调 ×1.21"
    assert zh.detail("喂，说话呀！") == "喂，说话呀！"
    assert en.detail("7.9 characters/s (limit 6.5)") == "7.9 characters/s (limit 6.5)"
    assert en.event("silent_caller") == "silent caller" and en.step(2, 3) == "step 2 of 3"
