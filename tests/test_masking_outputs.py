"""Masked batch output leaks no personal number: not in any file's text, not in any file name.

The calls' transcripts say phone, ID-card and bank-card numbers in every form a caller or a
recogniser gives them (separators, 杠, fillers, spoken digits with 幺, split across utterances),
and their file names hold the same kinds of numbers. No run of 7 of any number's digits, in any
script, may be found anywhere under the output folder."""

from __future__ import annotations

import html
import json
from urllib.parse import unquote

from callassist.batch import BatchOptions, run_batch

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
