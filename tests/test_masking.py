from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from callassist.cli import main
from callassist.reporting.masking import MaskedSpan, mask_report, mask_text

SCHEMA = json.loads((Path(__file__).parent.parent / "callassist" / "reporting" / "report.schema.json").read_text(encoding="utf-8"))

# (text, expected masked text, kinds of the masked spans in order)
CASES: list[tuple[str, str, tuple[str, ...]]] = [
    # mobile numbers, however recognition writes the digits
    ("我的手机号是13800138000", "我的手机号是*******8000", ("phone",)),
    ("幺三八零零一三八零零零", "*******八零零零", ("phone",)),
    ("一三八 零零一三 八零零零", "*** **** 八零零零", ("phone",)),
    ("电话 是 幺 三 八 零 零 幺 三 八 零 零 零 对", "电话 是 * * * * * * * 八 零 零 零 对", ("phone",)),
    ("138零零13八000", "*******八000", ("phone",)),
    ("１３８００１３８０００", "*******８０００", ("phone",)),
    ("138-0013-8000", "***-****-8000", ("phone",)),
    ("幺三八洞洞幺三八洞洞洞", "*******八洞洞洞", ("phone",)),
    # country prefix: its digits are masked too
    ("+86 138 0013 8000", "+** *** **** 8000", ("phone",)),
    ("８６幺三八零零幺三八零零零", "*********八零零零", ("phone",)),
    # numerals glued on by recognition stay visible, the number is still found
    ("一三八零零一三八零零零两个号码都打不通", "*******八零零零两个号码都打不通", ("phone",)),
    ("138001380003天内回电", "*******80003天内回电", ("phone",)),
    ("13800138000 13900139000", "*******8000 *******9000", ("phone", "phone")),
    # landlines with area code, and a local number without
    ("座机010-12345678", "座机***-****5678", ("phone",)),
    ("0755 1234 5678", "**** **** 5678", ("phone",)),
    ("零七五五 幺二三四 五六七八", "**** **** 五六七八", ("phone",)),
    ("我家电话八八六六五五四四", "我家电话****五五四四", ("phone",)),
    # ID cards: valid, with X (also spoken as 叉), and with a recognition error in one digit
    ("身份证号11010519491231002X", "身份证号**************002X", ("id_card",)),
    ("身份证号11010519491231002x", "身份证号**************002x", ("id_card",)),
    ("三二零幺零六幺九八五幺幺二零四五幺零", "**************四五幺零", ("id_card",)),
    ("四四零三零五幺九九零零幺零幺幺二三叉", "**************幺二三叉", ("id_card",)),
    ("三二零幺零六幺九八五幺幺二零四六幺零", "**************四六幺零", ("id_card",)),
    ("三二零幺零六幺九八五幺幺二零四五幺零两个", "**************四五幺零两个", ("id_card",)),
    # bank cards: Luhn-valid, Luhn-invalid, and an ID-shaped number whose checksum fails but Luhn passes
    ("卡号6222021234567890128", "卡号***************0128", ("bank_card",)),
    ("6228 4800 1234 5671", "**** **** **** 5671", ("bank_card",)),
    ("6228 4800 1234 5672", "**** **** **** 5672", ("bank_card",)),
    ("440305199001011238", "**************1238", ("bank_card",)),
    # service numbers are not personal, even next to a personal one
    ("400-123-4567", "400-123-4567", ()),
    ("800-820-8820", "800-820-8820", ()),
    ("请拨打10086或者95588", "请拨打10086或者95588", ()),
    ("4001234567 13800138000", "4001234567 *******8000", ("phone",)),
    # quantities, times, dates, short numbers
    ("一共八十六元", "一共八十六元", ()),
    ("一百二十块", "一百二十块", ()),
    ("三点半给您回电", "三点半给您回电", ()),
    ("二零二四年三月十五日", "二零二四年三月十五日", ()),
    ("2024-03-15", "2024-03-15", ()),
    ("20240315", "20240315", ()),
    ("余额2345678元", "余额2345678元", ()),
    ("三点一四一五九二六", "三点一四一五九二六", ()),
    ("客服代表三零二", "客服代表三零二", ()),
    ("验证码是123456", "验证码是123456", ()),
    ("一二三四五六七", "一二三四五六七", ()),
    ("山洞里有一个漏洞", "山洞里有一个漏洞", ()),
    # a mobile number with a digit dropped fits no pattern
    ("一三八零零一三八零零", "一三八零零一三八零零", ()),
]


@pytest.mark.parametrize(("text", "expected", "kinds"), CASES)
def test_mask_text(text, expected, kinds):
    result = mask_text(text)
    assert result.text == expected
    assert len(result.text) == len(text)
    assert tuple(span.kind for span in result.spans) == kinds


def test_spans_are_offsets_in_the_original_text_from_first_to_last_digit():
    text = "电话+86 138 0013 8000，卡号6228480012345671。"
    spans = mask_text(text).spans
    assert spans == (MaskedSpan("phone", 3, 19), MaskedSpan("bank_card", 22, 38))
    assert [text[span.start : span.end] for span in spans] == ["86 138 0013 8000", "6228480012345671"]


def test_masking_twice_changes_nothing_more():
    once = mask_text("手机幺三八零零一三八零零零，身份证11010519491231002X").text
    assert mask_text(once).text == once


def _report() -> dict:
    """The parts of a report that masking reads; a full one is in the replay test below."""
    return {
        "schema": "callassist.report/1",
        "call": {"transcript": "call.jsonl", "text_from": "vosk:test", "notes": []},
        "utterances": [
            {"speaker": "agent", "start": 0.5, "end": 2.0, "text": "请问您的联系电话？"},
            {
                "speaker": "caller",
                "start": 2.5,
                "end": 6.0,
                "text": "我的电话是幺三八零零一三八零零零",
                "words": [
                    {"word": "我的", "start": 2.5, "end": 2.8, "conf": 1.0},
                    {"word": "电话", "start": 2.8, "end": 3.1, "conf": 1.0},
                    {"word": "是", "start": 3.1, "end": 3.3, "conf": 1.0},
                    {"word": "幺三八", "start": 3.3, "end": 4.0, "conf": 0.9},
                    {"word": "零零", "start": 4.0, "end": 4.4, "conf": 0.9},
                    {"word": "一三", "start": 4.4, "end": 4.8, "conf": 0.8},
                    {"word": "八零零零", "start": 4.8, "end": 6.0, "conf": 0.9},
                ],
            },
        ],
        "events": [
            {"id": "suggestion", "kind": "hint", "t": 6.0, "start": 2.5, "end": 6.0, "heard": "幺三八零零一三八零零零"},
            {"id": "missing_closing", "kind": "violation", "t": 12.0, "start": 0.0, "end": 12.0},
        ],
    }


def test_mask_report_masks_texts_words_and_heard():
    masked = mask_report(_report())
    caller = masked["utterances"][1]
    assert caller["text"] == "我的电话是*******八零零零"
    assert [word["word"] for word in caller["words"]] == ["我的", "电话", "是", "***", "**", "**", "八零零零"]
    assert masked["events"][0]["heard"] == "*******八零零零"
    assert "heard" not in masked["events"][1]
    assert masked["utterances"][0] == _report()["utterances"][0]
    assert masked["call"]["masked"] == ["phone", "id_card", "bank_card"]


def test_mask_report_keeps_lengths_and_words_consistent_with_text():
    original = _report()
    masked = mask_report(original)
    for before, after in zip(original["utterances"], masked["utterances"]):
        assert len(after["text"]) == len(before["text"])
        for word_before, word_after in zip(before.get("words", []), after.get("words", [])):
            assert len(word_after["word"]) == len(word_before["word"])
            assert (word_after["start"], word_after["end"]) == (word_before["start"], word_before["end"])
        if "words" in after:
            assert "".join(word["word"] for word in after["words"]) == after["text"]


def test_masked_replay_report_matches_the_schema(tmp_path, capsys):
    transcript = tmp_path / "call.jsonl"
    utterances = [
        {"speaker": "agent", "start": 0.5, "end": 3.0, "text": "您好，请问有什么可以帮您？"},
        {
            "speaker": "caller",
            "start": 3.5,
            "end": 6.0,
            "text": "卡号6228480012345671",
            "words": [
                {"word": "卡号", "start": 3.5, "end": 4.0, "conf": 1.0},
                {"word": "6228480012345671", "start": 4.0, "end": 6.0, "conf": 0.9},
            ],
        },
    ]
    transcript.write_text("\n".join(json.dumps(u, ensure_ascii=False) for u in utterances), encoding="utf-8")
    report_path = tmp_path / "report.json"
    assert main(["replay", "--transcript", str(transcript), "--report", str(report_path), "--headless"]) == 0
    capsys.readouterr()
    masked = mask_report(json.loads(report_path.read_text(encoding="utf-8")))
    jsonschema.validate(masked, SCHEMA)
    caller = next(u for u in masked["utterances"] if u["speaker"] == "caller")
    assert caller["text"] == "卡号************5671"
    assert [word["word"] for word in caller["words"]] == ["卡号", "************5671"]


def test_mask_report_does_not_change_its_input():
    original = _report()
    untouched = copy.deepcopy(original)
    mask_report(original)
    assert original == untouched


def test_a_masked_path_finds_the_one_file_it_stands_for(tmp_path):
    from callassist.reporting.masking import find_masked_file, mask_free_text

    folder = tmp_path / "客户13912345678"
    folder.mkdir()
    spoken = folder / "幺三九一二三四五六七八.wav"  # the number in spoken digits
    spoken.write_bytes(b"x")
    masked = mask_free_text(str(spoken))
    assert masked.endswith("客户*******5678/*******五六七八.wav")
    assert find_masked_file(Path(masked)) == spoken
    (folder / "幺三九一二三零五六七八.wav").write_bytes(b"y")  # another number that masks alike
    assert find_masked_file(Path(masked)) is None  # two files fit: neither is guessed
    assert find_masked_file(Path(mask_free_text(str(folder / "x.wav")))) is None  # no such file
    assert find_masked_file(tmp_path / "客户*******5678") is None  # a folder is not a file
