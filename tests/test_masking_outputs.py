"""Masked batch output leaks no personal number: not in any file's text, not in any file name.

The calls' transcripts say phone, ID-card and bank-card numbers in every form a caller or a
recogniser gives them (separators, 杠, fillers, spoken digits with 幺, split across utterances),
and their file names hold the same kinds of numbers. No run of 7 of any number's digits, in any
script, may be found anywhere under the output folder."""

from __future__ import annotations

import html
import json
import shutil
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote

import pytest

from callassist.batch import BatchOptions, run_batch
from callassist.cli import main

SPOKEN = dict(zip("0123456789X", "零幺二三四五六七八九叉"))
DIGIT_OF = {**{c: c for c in "0123456789X"}, **{chr(ord("０") + i): str(i) for i in range(10)},
            **dict(zip("零〇一二三四五六七八九幺两洞叉xＸｘ", "00123456789120XXXX"))}
# What may stand between the digits of one number in the output: removed before looking.
BETWEEN = set(" \t\u00a0\u2007\u202f\u3000-\u2010\u2011\u2012\u2013\u2014\uff0d杠,，.．。、/／\\_·嗯呃啊额")


def id_number(prefix17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return prefix17 + "10X98765432"[sum(int(d) * w for d, w in zip(prefix17, weights)) % 11]


def card_number(prefix: str) -> str:  # Luhn-valid
    for check in "0123456789":
        digits = prefix + check
        total = sum(int(d) if i % 2 == 0 else (2 * int(d) - 9 if int(d) > 4 else 2 * int(d)) for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            return digits
    raise AssertionError


def groups(number: str) -> list[str]:
    """How the number is read out: phones 3-4-4, IDs 6-8-4, cards in fours."""
    sizes = {11: (3, 4, 4), 18: (6, 8, 4)}.get(len(number), (4,) * (len(number) // 4) + ((len(number) % 4,) if len(number) % 4 else ()))
    out, at = [], 0
    for size in sizes:
        out.append(number[at : at + size])
        at += size
    return out


def spoken(digits: str) -> str:
    return "".join(SPOKEN[d] for d in digits)


FORMS = {
    "comma": lambda n: "，".join(groups(n)),
    "dot": lambda n: ".".join(groups(n)),
    "slash": lambda n: "/".join(groups(n)),
    "nbsp": lambda n: "\u00a0".join(groups(n)),
    "gang": lambda n: "杠".join(spoken(g) for g in groups(n)),
    "fillers": lambda n: "".join(spoken(g) + ("嗯" if i % 2 == 0 else "呃") for i, g in enumerate(groups(n)))[:-1],
    "spoken": lambda n: spoken(n),
}


def numbers_for(form_index: int) -> dict[str, str]:
    """A phone, an ID and a card number of their own for each form (and for the file names)."""
    i = form_index
    return {
        "phone": f"13{5 + i % 5}{i:02d}{(4817263 + 7919 * i) % 10_000_000:07d}"[:11],
        "id_card": id_number(f"3201{i % 100:02d}19{50 + i % 50}0{1 + i % 9}1{i % 10}{(123 + i) % 1000:03d}"),
        "bank_card": card_number(f"62220{i % 100:02d}{(876543210 + 97 * i) % 10**9:09d}{i % 10}0"),
    }


def transcript_lines(first_form: int) -> tuple[list[dict], list[str]]:
    """Utterances saying every kind of number in every form, and the numbers said."""
    lines, secrets, t = [], [], 0.0

    def say(speaker: str, text: str) -> None:
        nonlocal t
        lines.append({"speaker": speaker, "start": round(t, 2), "end": round(t + 1.5, 2), "text": text})
        t += 2.0

    for offset, (form, write) in enumerate(FORMS.items()):
        for kind, number in numbers_for(first_form + offset).items():
            secrets.append(number)
            say("agent", "请您说一下号码")
            say("caller", f"我的号码是{write(number)}好的")
    # split across consecutive utterances of one speaker, the agent's 嗯 between some of them
    for kind, number in numbers_for(first_form + len(FORMS)).items():
        secrets.append(number)
        first, *rest = groups(number)
        say("caller", f"我的号码是{first}")
        for index, group in enumerate(rest):
            if index == 0:
                say("agent", "嗯")
            say("caller", group)
    for kind, number in numbers_for(first_form + len(FORMS) + 1).items():  # split, and spoken
        secrets.append(number)
        first, *rest = groups(number)
        say("caller", f"号码是{spoken(first)}")
        for group in rest:
            say("caller", spoken(group))
    return lines, secrets


def file_names() -> tuple[list[str], list[str]]:
    """One call name per form, each holding a phone, an ID and a card number in that form
    (`/` makes folders of it; no-break spaces and 杠 are legal in file names)."""
    names, secrets = [], []
    for index, write in enumerate(FORMS.values()):
        numbers = numbers_for(100 + index)
        secrets += numbers.values()
        names.append(f"客户{write(numbers['phone'])}_身份证{write(numbers['id_card'])}_卡{write(numbers['bank_card'])}")
    return names, secrets


def normalised(text: str) -> str:
    return "".join(DIGIT_OF.get(c, c) for c in text if c not in BETWEEN)


def leaks(text: str, secrets: list[str]) -> list[str]:
    views = {text, html.unescape(text), unquote(text)}
    found = []
    for view in views:
        flat = normalised(view)
        for secret in secrets:
            found += [f"{secret}[{i}:{i + 7}]" for i in range(len(secret) - 6) if secret[i : i + 7] in flat]
    return sorted(set(found))


def test_no_run_of_seven_digits_of_any_number_is_left_anywhere_in_the_output(tmp_path):
    calls, out = tmp_path / "calls", tmp_path / "out"
    names, secrets = file_names()
    for index, name in enumerate(names):
        lines, said = transcript_lines(10 * index)
        secrets += said
        path = calls / f"{name}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    assert all(leaks(path.read_text(encoding="utf-8") + str(path), secrets) for path in calls.rglob("*.jsonl"))

    result = run_batch([calls], BatchOptions(out=out, workers=2, asr="none", mask=True))

    assert not result.failures and len(list((out / "calls").rglob("*.json"))) == len(names)
    outputs = [p for p in out.rglob("*") if p.is_file()]
    assert {"summary.csv", "summary.html"} <= {p.name for p in outputs}
    for path in outputs:
        where = path.relative_to(out).as_posix()
        assert not leaks(where, secrets), f"file name {where} leaks {leaks(where, secrets)}"
        text = path.read_bytes().decode("utf-8-sig")
        assert not leaks(text, secrets), f"{where} leaks {leaks(text, secrets)}"
    # What the batch command prints is masked too (failures name files).
    assert all(not leaks(str(o.error or "") + o.name, secrets) for o in result.outcomes)


def test_the_checker_sees_a_number_in_each_form():
    """The leak check itself: each form of each kind, unmasked, is found."""
    numbers = numbers_for(0)
    for write in FORMS.values():
        for number in numbers.values():
            assert leaks(f"x{write(number)}x", [number]), (write(number), number)
    assert leaks("<td>139</td><td>1234</td>5678", ["13912345678"]) == []  # rows apart are not one number


# ---------------------------------------------------------------- every command, file names and folders included
#
# One caller's numbers, said in the call and held by the file names, under a folder named after a
# person. Masked, no output (file, file name, printed line) holds 7 digits in a row of any of them,
# nor the person's folder; unmasked, the same outputs do (so the checks can fail).

CALLS = Path(__file__).parent / "fixtures" / "calls"
PERSON = "zhangwei"
PHONE = "13812345678"
ID_CARD = id_number("11010519491231002")
BANK_CARD = card_number("622202123456789012")
SECRETS = [PHONE, ID_CARD, BANK_CARD]
CALL_STEM = f"来电{PHONE}"
CALL_LINES = [
    {"speaker": "agent", "start": 0.5, "end": 3.0, "text": "您好，请问有什么可以帮您？"},
    {"speaker": "caller", "start": 3.5, "end": 6.5, "text": f"我的手机号是{PHONE}"},
    {"speaker": "agent", "start": 7.0, "end": 8.5, "text": "请说一下身份证号"},
    {"speaker": "caller", "start": 9.0, "end": 12.0, "text": f"身份证号{ID_CARD}"},
    {"speaker": "caller", "start": 12.5, "end": 15.5, "text": f"卡号是{BANK_CARD}", "words": [
        {"word": "卡号是", "start": 12.5, "end": 13.0, "conf": 1.0},
        {"word": BANK_CARD, "start": 13.0, "end": 15.5, "conf": 0.9},
    ]},
]


def personal_folder(tmp_path) -> Path:
    """A customer's folder under a user's home: C:\\Users\\zhangwei\\客户13812345678 on Windows."""
    folder = tmp_path / "Users" / PERSON / "calls" / f"客户{PHONE}"
    folder.mkdir(parents=True)
    return folder


def write_call_transcript(path: Path) -> Path:
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in CALL_LINES), encoding="utf-8")
    return path


def exposed(text: str) -> list[str]:
    """What of the caller's numbers and the person's folder `text` gives away."""
    return leaks(text, SECRETS) + ([PERSON] if PERSON in text else [])


def files_exposed(folder: Path) -> dict[str, list[str]]:
    """Each file under `folder` whose name (relative) or text gives something away, with what."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        where = path.relative_to(folder).as_posix()
        text = path.read_bytes().decode("utf-8-sig", "replace")
        if exposed(where) or exposed(text):
            found[where] = exposed(where) + exposed(text)
    return found


def machine_folders(out: Path, tmp_path: Path) -> list[str]:
    """Files under `out` naming a folder of this machine: the test's, or where callassist and
    its standard pack are installed (the site-packages of a user's home, on a desk)."""
    import callassist

    folders = [str(tmp_path), str(Path(callassist.__file__).resolve().parent.parent)]
    return [p.name for p in out.rglob("*") if p.is_file() and any(f in p.read_text(encoding="utf-8-sig") for f in folders)]


@pytest.mark.parametrize("mask", [True, False])
def test_a_batch_names_no_folder_outside_the_one_given_nor_any_number_in_files_and_lines(tmp_path, capsys, mask):
    """The reports (JSON, HTML), the summary (HTML, CSV), the failures' error lines and path
    column, progress and the printed lines: relative to the folder given and masked."""
    calls = personal_folder(tmp_path).parent
    write_call_transcript(calls / f"客户{PHONE}" / f"{CALL_STEM}.jsonl")
    shutil.copy(CALLS / "normal.wav", calls / f"客户{PHONE}" / f"{CALL_STEM}.wav")
    (calls / f"坏的{PHONE}.wav").write_bytes(b"not a recording")  # fails: its error line names it
    (calls / f"断开{PHONE}.wav").symlink_to(tmp_path / "Users" / PERSON / f"已删{PHONE}.wav")  # a broken link
    out = tmp_path / "out"

    status = main(["batch", str(calls), "--out", str(out), "--asr", "none", "--workers", "1", *(["--mask"] if mask else [])])

    printed = capsys.readouterr()
    assert status == 1  # the two bad files failed, the call was scored
    reports = [p for p in (out / "calls").rglob("*.json")]
    assert len(reports) == 1
    if not mask:  # the checks see what masking hides
        assert set(files_exposed(out)) >= {"summary.csv", "summary.html", f"calls/客户{PHONE}/{CALL_STEM}.json"}
        assert PERSON in printed.out and exposed(printed.out + printed.err) and machine_folders(out, tmp_path)
        return
    assert files_exposed(out) == {}
    assert exposed(printed.out + printed.err) == [], printed
    assert machine_folders(out, tmp_path) == []
    call = json.loads(reports[0].read_text(encoding="utf-8"))["call"]
    assert (call["audio"], call["transcript"]) == ("客户*******5678/来电*******5678.wav", "客户*******5678/来电*******5678.jsonl")
    assert not any("/" in p or "\\" in p for p in call["script_pack"]) and call["settings"]["source"] == "defaults"
    failed = [line for line in printed.out.splitlines() if line.startswith("failed: ")]
    assert failed == [  # named as the batch names them, the link's target by its file name
        "failed: 断开*******5678.wav: 断开*******5678.wav: broken link (to 已删*******5678.wav); fix or remove it",
        "failed: 坏的*******5678: 坏的*******5678.wav: is not a readable audio file (Format not recognised); "
        "give a WAV, FLAC or OGG recording, or re-export this one",
    ]


@pytest.mark.parametrize("mask", [True, False])
def test_replay_masks_its_report_its_file_name_and_its_printed_lines(tmp_path, capsys, mask):
    folder = personal_folder(tmp_path)
    transcript = write_call_transcript(folder / f"{CALL_STEM}.jsonl")
    audio = shutil.copy(CALLS / "normal.wav", folder / f"{CALL_STEM}.wav")
    out = tmp_path / "out"
    out.mkdir()
    masking = ["--mask"] if mask else []

    assert main(["replay", str(audio), "--transcript", str(transcript), "--report", str(out / f"{CALL_STEM}.json"), *masking]) == 0
    written = capsys.readouterr()
    assert main(["replay", "--transcript", str(transcript), "--headless", *masking]) == 0  # the text summary
    summary = capsys.readouterr()

    if not mask:
        assert set(files_exposed(out)) == {f"{CALL_STEM}.json"} and exposed(written.out) and exposed(summary.out)
        assert PERSON in json.loads((out / f"{CALL_STEM}.json").read_text(encoding="utf-8"))["call"]["audio"]
        assert machine_folders(out, tmp_path)
        return
    assert [p.name for p in out.iterdir()] == ["来电*******5678.json"]
    assert files_exposed(out) == {}
    assert exposed(written.out + written.err + summary.out + summary.err) == []
    assert machine_folders(out, tmp_path) == []
    call = json.loads((out / "来电*******5678.json").read_text(encoding="utf-8"))["call"]
    assert (call["audio"], call["transcript"]) == ("来电*******5678.wav", "来电*******5678.jsonl")
    assert call["masked"] == ["phone", "id_card", "bank_card"]
    assert summary.out.startswith("通话: 来电*******5678.jsonl")


def test_replay_masks_its_error_lines(tmp_path, capsys):
    folder = personal_folder(tmp_path)
    broken = folder / f"{CALL_STEM}.wav"
    broken.write_bytes(b"not a recording")
    assert main(["replay", str(broken), "--asr", "none", "--headless", "--mask"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("callassist: error: 来电*******5678.wav: ") and exposed(err) == []
    assert main(["replay", str(broken), "--asr", "none", "--headless"]) == 2
    assert exposed(capsys.readouterr().err)  # unmasked, the line names the file as given


@pytest.mark.parametrize("mask", [True, False])
def test_transcribe_masks_the_transcript_and_its_file_name(tmp_path, capsys, monkeypatch, mask):
    """What recognition heard (stood in for here: the model is not what is tested) is written
    masked, to a file whose name is masked: beside the audio by default, or where -o says."""
    import callassist.recognition
    import callassist.replay
    from callassist.transcript import read_transcript

    heard = read_transcript(write_call_transcript(tmp_path / "heard.jsonl"))
    monkeypatch.setattr(callassist.recognition, "open_speech_model", lambda *args, **kwargs: type("Model", (), {"name": "test"})())
    monkeypatch.setattr(callassist.replay, "transcribe", lambda *args: heard)
    folder = personal_folder(tmp_path)
    audio = shutil.copy(CALLS / "normal.wav", folder / f"{CALL_STEM}.wav")
    given = tmp_path / "out" / f"副本{PHONE}.jsonl"
    given.parent.mkdir()
    masking = ["--mask"] if mask else []

    assert main(["transcribe", str(audio), *masking]) == 0
    assert main(["transcribe", str(audio), "-o", str(given), *masking]) == 0
    printed = capsys.readouterr()

    written = sorted(p.name for p in [*folder.glob("*.jsonl"), *given.parent.iterdir()])
    if not mask:
        assert written == sorted([f"{CALL_STEM}.jsonl", given.name])
        assert exposed((folder / f"{CALL_STEM}.jsonl").read_text(encoding="utf-8")) and exposed(printed.out)
        return
    assert written == ["副本*******5678.jsonl", "来电*******5678.jsonl"]
    for path in (folder / "来电*******5678.jsonl", given.parent / "副本*******5678.jsonl"):
        lines = read_transcript(path)
        assert exposed(path.read_text(encoding="utf-8")) == []
        assert [(u.speaker, u.start, u.end, len(u.text)) for u in lines] == [(u.speaker, u.start, u.end, len(u.text)) for u in heard]
        assert lines[4].words[1].word == "*" * (len(BANK_CARD) - 4) + BANK_CARD[-4:]  # words masked too, their timings kept
    assert leaks(printed.out, SECRETS) == [] and "transcript written: " in printed.out


def test_the_config_can_make_masking_the_default(tmp_path, capsys):
    """privacy.mask = true masks as --mask does; a value of the wrong type names file and line."""
    config = tmp_path / "callassist.toml"
    config.write_text("[call]\nagent = \"三零二\"\n\n[privacy]\nmask = true\n", encoding="utf-8")
    transcript = write_call_transcript(personal_folder(tmp_path) / f"{CALL_STEM}.jsonl")
    out = tmp_path / "out"
    out.mkdir()
    assert main(["replay", "--transcript", str(transcript), "--report", str(out / f"{CALL_STEM}.json"), "--config", str(config)]) == 0
    assert [p.name for p in out.iterdir()] == ["来电*******5678.json"] and files_exposed(out) == {}
    assert exposed(capsys.readouterr().out) == []

    config.write_text("[call]\nagent = \"三零二\"\n\n[privacy]\nmask = \"yes\"\n", encoding="utf-8")
    assert main(["replay", "--transcript", str(transcript), "--headless", "--config", str(config)]) == 2
    assert capsys.readouterr().err == f"callassist: error: {config}:5: privacy.mask: must be bool, not 'yes'\n"


@pytest.mark.parametrize("mask", [True, False])
def test_a_live_session_saves_its_reports_masked(settings, pack, tmp_path, mask):
    import numpy as np

    from callassist.inputs import Utterance
    from callassist.live.session import CallSession, ChannelSource, SessionOptions, Wiring
    from callassist.transcript import read_transcript
    from fakes import FakeSource, ScriptedRecognition, one_live_call

    heard = read_transcript(write_call_transcript(tmp_path / "heard.jsonl"))
    headset = "张伟的 AirPods"  # a device named after its owner
    settings = replace(settings, live=replace(settings.live, agent_device=headset, caller_device=headset))
    rate = 16000
    source = FakeSource(np.zeros((17 * rate, 2), np.float32), rate)
    calls_dir = tmp_path / "calls"
    messages: list = []
    session = CallSession(
        [source], Wiring(ChannelSource(0, 0), ChannelSource(0, 1)), pack, settings, messages.append,
        recognition=ScriptedRecognition([Utterance(u.speaker, u.start, u.end, u.text, u.words) for u in heard], partials=False),
        options=SessionOptions(calls_dir=calls_dir, mask=mask),
    )
    report_path = one_live_call(session, source, messages)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert len(report["utterances"]) == len(heard)
    assert bool(files_exposed(calls_dir)) is not mask
    assert ("张伟" in report_path.read_text(encoding="utf-8")) is not mask


def test_a_masked_error_line_names_files_relative_to_the_folders_given(tmp_path):
    """Several folders given: names start with the folder's name, as the batch's outputs do; a
    folder given named alone; any other absolute path cut to its file name."""
    from callassist.batch import CallJob, masked_error

    home = tmp_path / "Users" / PERSON
    first, second = home / "一月", home / f"客户{PHONE}"
    job = CallJob(f"客户{PHONE}/{CALL_STEM}", second / f"{CALL_STEM}.wav", None)
    error = (f"{second / f'{CALL_STEM}.wav'}: unreadable; {first / '子目录'}: cannot read folder; "
             f"{second}: empty (to {tmp_path / 'elsewhere' / f'{PHONE}.wav'})")
    assert masked_error(error, job, [first, second]) == (
        "客户*******5678/来电*******5678.wav: unreadable; 一月/子目录: cannot read folder; "
        "客户*******5678: empty (to *******5678.wav)"
    )
