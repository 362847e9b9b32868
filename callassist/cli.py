"""The `callassist` command line.

Each command imports what it needs when it runs: `--help`, `scripts check` or an acoustic-only
replay do not pay for loading the engine, Vosk or the pinyin dictionaries.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from callassist import __version__
from callassist.errors import CallassistError
from callassist.modelcli import add_models_commands
from callassist.setup import add_setup_command

if TYPE_CHECKING:
    from callassist.replay import ReplayRequest
    from callassist.scriptpack import ScriptPack

# numpy's OpenBLAS starts a thread per core when it loads (0.03 s of CPU and more of waiting on
# a busy machine, at every start); nothing here multiplies large matrices, and batch runs a
# process per core. Set before anything imports numpy; a value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def sample_call_dir() -> Path:
    from importlib.resources import files

    return Path(str(files("callassist.samples")))


def speed(text: str) -> float | None:
    """--speed: a positive factor, or 'max' (as fast as possible: None)."""
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a speed: give a number like 1 or 2, or max") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError("speed must be a number more than 0")
    return value


def seconds(text: str) -> float:
    """--duration: a finite number of seconds, 0 to a day."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 24 * 3600:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration: give seconds from 0 to 86400, e.g. 312.5")
    return value


MASK_HELP = (
    "mask phone, ID-card and bank-card numbers in everything written (reports, transcripts, their file"
    " names, printed lines), naming no folder outside the one given; also when the config's privacy.mask is true"
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="config file (default: ./callassist.toml, then the user config)")
    common.add_argument(
        "--scripts", type=Path, action="append", default=[], metavar="PATH",
        help="extra script pack (TOML file or folder) over the standard one; repeatable",
    )

    parser = argparse.ArgumentParser(prog="callassist", description="Offline call-centre script assistant.")
    parser.add_argument("--version", action="version", version=f"callassist {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    replay_cmd = commands.add_parser("replay", parents=[common], help="replay a recorded call through the rules")
    replay_cmd.add_argument("audio", nargs="?", type=Path, help="call recording (WAV, FLAC, OGG)")
    replay_cmd.add_argument("--transcript", type=Path, help="transcript, JSON Lines")
    replay_cmd.add_argument(
        "--duration", type=seconds, metavar="SECONDS",
        help="where the call ends, for a transcript with no audio (default: its last utterance)",
    )
    replay_cmd.add_argument(
        "--asr", choices=("vosk", "none"), default="vosk",
        help="without a transcript: transcribe with Vosk (default), or 'none' for the acoustic analysis alone",
    )
    replay_cmd.add_argument("--model", type=Path, help="Vosk model folder (default: see `callassist models path`)")
    replay_cmd.add_argument("--agent-channel", type=int, default=0, metavar="N", help="agent's channel (default 0)")
    replay_cmd.add_argument("--caller-channel", type=int, default=1, metavar="N", help="caller's channel (default 1)")
    replay_cmd.add_argument("--report", type=Path, help="write the JSON report here (else print a summary)")
    replay_cmd.add_argument("--headless", action="store_true", help="no screen: print or write the report")
    replay_cmd.add_argument("--mask", action="store_true", help=MASK_HELP + " (no screen: the summary is printed)")
    replay_cmd.add_argument("--speed", type=speed, default=1.0, help="screen replay pace: 1 (real time), 2, ..., or max")

    transcribe = commands.add_parser("transcribe", help="transcribe a recording to the transcript format (JSON Lines)")
    transcribe.add_argument("audio", type=Path, help="call recording (WAV, FLAC, OGG)")
    transcribe.add_argument("-o", "--output", type=Path, help="transcript to write (default: beside the audio, .jsonl)")
    transcribe.add_argument("--force", action="store_true", help="overwrite the transcript if it exists")
    transcribe.add_argument("--model", type=Path, help="Vosk model folder")
    transcribe.add_argument("--agent-channel", type=int, default=0, metavar="N")
    transcribe.add_argument("--caller-channel", type=int, default=1, metavar="N")
    transcribe.add_argument("--mask", action="store_true", help=MASK_HELP)
    transcribe.add_argument("--config", type=Path, help="config file (default: ./callassist.toml, then the user config)")

    demo = commands.add_parser("demo", parents=[common], help="replay the bundled sample call")
    demo.add_argument("--headless", action="store_true", help="no screen: print the report summary")
    demo.add_argument("--speed", type=speed, default=1.0, help="1 (real time), 2, ..., or max")

    live = commands.add_parser("live", parents=[common], help="the live screen: listen to a call and prompt the agent")
    live.add_argument("--agent-device", help="microphone: index or part of the name (see `callassist devices`)")
    live.add_argument("--agent-channel", type=int, help="channel of the agent's device carrying the agent")
    live.add_argument("--caller-device", help="device carrying the caller (e.g. a 'Monitor of' softphone output)")
    live.add_argument("--caller-channel", type=int, help="channel carrying the caller (-1: none)")
    live.add_argument("--model", type=Path, help="Vosk model folder")
    live.add_argument("--asr", choices=("vosk", "none"), default="vosk", help="'none': no recognition (acoustic checks only)")
    live.add_argument("--record", action="store_true", default=None, help="save each call's stereo recording too")
    live.add_argument("--calls-dir", type=Path, help="where reports of ended calls go")
    live.add_argument("--mask", action="store_true", help=MASK_HELP.replace("everything written", "the reports saved") + " (the screen shows the call as heard)")

    commands.add_parser("devices", help="list audio input devices (and loopback speakers)")
    add_setup_command(commands)

    batch = commands.add_parser("batch", parents=[common], help="score every recording under folders (resumable)")
    batch.add_argument("paths", nargs="+", type=Path, help="folders (or files) of recordings and transcripts")
    batch.add_argument("--out", type=Path, required=True, help="where reports and the batch summary go")
    batch.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel processes (default: cores)")
    batch.add_argument("--asr", choices=("vosk", "none"), default="vosk", help="for calls without a transcript")
    batch.add_argument("--model", type=Path, help="Vosk model folder")
    batch.add_argument("--mask", action="store_true", help=MASK_HELP)
    batch.add_argument("--agent-pattern", metavar="REGEX", help="regex on the file name with groups (?P<agent>…) and optionally (?P<started>…)")
    batch.add_argument("--metadata", type=Path, help="CSV with columns call, agent, started")
    batch.add_argument("--cluster", metavar="ADDRESS", help="run on a Ray cluster (or 'auto' for a local one); needs callassist[ray]")
    batch.add_argument(
        "--call-timeout", type=seconds, default=300.0, metavar="SECONDS",
        help="a call taking longer than this plus twice its length is stopped and listed as failed (default 300)",
    )

    evaluate = commands.add_parser("eval", parents=[common], help="precision, recall and timing per event id on labelled calls")
    evaluate.add_argument("folder", type=Path, help="CALL.wav and/or CALL.jsonl with CALL.labels.json")

    scripts = commands.add_parser("scripts", help="check or show script packs")
    scripts_commands = scripts.add_subparsers(dest="scripts_command", required=True, metavar="ACTION")
    check = scripts_commands.add_parser("check", help="validate packs; lists every problem, exit 1 on any")
    check.add_argument("paths", nargs="*", type=Path, help="pack files or folders (default: the standard pack)")
    show = scripts_commands.add_parser("show", parents=[common], help="print the effective pack")
    show.add_argument("--json", action="store_true", help="as JSON instead of text")
    review = commands.add_parser("review", help="listen to a batch's calls in the browser and mark events (127.0.0.1 only)")
    review.add_argument("out", type=Path, help="the --out folder of a `callassist batch` run")
    review.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free port)")
    review.add_argument(
        "--recordings", type=Path, action="append", default=[], metavar="FOLDER",
        help="a folder given to the batch, where its recordings are (a masked batch's reports name them "
        "relative to it); repeatable",
    )

    rules = commands.add_parser("rules", help="test QA rules on sample dialogues")
    rules_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    rules_test = rules_commands.add_parser(
        "test", parents=[common], help="run sample dialogues; pass/fail per case, exit 1 on any failure"
    )
    rules_test.add_argument("pack", type=Path, help="the pack with the rules (TOML file or folder)")
    rules_test.add_argument("cases", type=Path, help="cases file (TOML, [[case]] tables)")
    add_models_commands(commands)
    return parser


def run_replay(args: argparse.Namespace, request: ReplayRequest) -> int:
    from callassist.audio.recording import open_recording
    from callassist.replay import replay
    from callassist.atomic import write_json_atomically
    from callassist.reporting.text import summary_text
    from callassist.settings import effective_pack, load_settings

    settings = load_settings(args.config)
    mask = masking_wanted(args, settings) if args.command == "replay" else False  # the demo's call is made up
    report_path = getattr(args, "report", None)
    if report_path and mask:
        from callassist.reporting.masking import masked_file_name

        report_path = masked_file_name(report_path)
    if report_path:
        check_writable_file(report_path, "--report")
    pack = effective_pack(settings, args.scripts)
    recognition = None
    if request.audio is not None and request.transcript is None and getattr(args, "asr", "none") == "vosk":
        from callassist.recognition import VoskRecognition, open_speech_model

        open_recording(request.audio)  # a bad file is reported before a model is looked for
        recognition = VoskRecognition(open_speech_model(args.model, interactive=sys.stdin.isatty()))
    on_screen = not args.headless and not report_path and not mask and sys.stdout.isatty()
    if request.audio is not None and on_screen:  # without a terminal (a pipe, CI): the summary
        from callassist.transcript import read_transcript
        from callassist.ui.run import replay_app

        open_recording(request.audio)
        transcript = read_transcript(request.transcript) if request.transcript else None
        replay_app(
            request.audio, settings, pack, speed=args.speed, transcript=transcript, recognition=recognition,
            agent_channel=request.agent_channel, caller_channel=request.caller_channel,
        ).run()
        return 0
    report = replay(request, settings, pack, recognition)
    if mask:
        from callassist.reporting.masking import mask_free_text, mask_report
        from callassist.reporting.report import CallReport

        report = CallReport.from_json(mask_report(report.to_json()))
    if report_path:
        write_json_atomically(report_path, report.to_json())
        shown = mask_free_text(str(report_path)) if mask else report_path
        print(f"report written: {shown} ({len(report.events)} events, score {report.score.value})")
    else:
        from callassist.labels import labels_for

        print(summary_text(report, labels_for(pack, settings.ui.language)))  # type: ignore[arg-type]
    return 0


def run_live(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from callassist.settings import effective_pack, load_settings, unset_placeholders
    from callassist.setup import run_setup

    settings = load_settings(args.config)
    if unset_placeholders(settings) and sys.stdin.isatty():
        answer = input("Company and agent are unset (XX/YYY). Run setup now? [Y/n] ").strip().casefold()
        if answer in ("", "y", "yes", "是"):
            run_setup(build_parser().parse_args(["setup"] + (["--config", str(args.config)] if args.config else [])))
            settings = load_settings(args.config)
    overrides = {
        key: value
        for key, value in (
            ("agent_device", args.agent_device), ("agent_channel", args.agent_channel),
            ("caller_device", args.caller_device), ("caller_channel", args.caller_channel),
        )
        if value is not None
    }
    settings = replace(settings, live=replace(settings.live, **overrides))
    mask = masking_wanted(args, settings)
    pack = effective_pack(settings, args.scripts)
    recognition = None
    if args.asr == "vosk":
        from callassist.recognition import VoskRecognition, open_speech_model

        recognition = VoskRecognition(open_speech_model(args.model, interactive=sys.stdin.isatty()))
    from callassist.ui.run import live_app

    calls_dir = args.calls_dir or settings.base_dir / settings.live.calls_dir
    record = settings.live.record if args.record is None else args.record
    app = live_app(settings, pack, recognition, calls_dir, record, mask)
    app.run()
    rescued = app.session.rescue_unsaved() if app.session is not None else []
    for path in rescued:
        print(f"callassist: a call's report could not be saved in {calls_dir}; it was written to {path}", file=sys.stderr)
    return 1 if rescued else 0


def run_batch_command(args: argparse.Namespace) -> int:
    from callassist.batch import BatchOptions, run_batch

    options = BatchOptions(
        out=args.out, workers=max(1, args.workers), asr=args.asr, model=args.model, config=args.config,
        scripts=tuple(args.scripts), mask=args.mask, agent_pattern=args.agent_pattern, metadata=args.metadata,
        cluster=args.cluster, call_timeout=args.call_timeout,
    )
    result = run_batch(args.paths, options)
    done = [o for o in result.outcomes if not o.error]
    skipped = sum(o.skipped for o in done)
    print(f"{len(done)} call(s) scored ({skipped} already current), {len(result.failures)} failed")
    for failure in result.failures:
        print(f"failed: {failure.name}: {failure.error}")
    print(f"summary: {result.summary_html} and {result.summary_csv}")
    return 1 if result.failures else 0


def run_eval(args: argparse.Namespace) -> int:
    from callassist.evaluation import format_table, labelled_calls, read_labels, score_call
    from callassist.replay import ReplayRequest, replay
    from callassist.settings import effective_pack, load_settings

    settings = load_settings(args.config)
    pack = effective_pack(settings, args.scripts)
    per_id: dict = {}
    calls = labelled_calls(args.folder)
    for labels_path, audio, transcript in calls:
        labels = read_labels(labels_path)
        report = replay(ReplayRequest(audio=audio, transcript=transcript, duration=labels.duration), settings, pack)
        for event_id, score in score_call(report.events, labels).items():
            per_id.setdefault(event_id, type(score)()).add(score)
    print(format_table(per_id, len(calls)))
    return 0


def run_review(args: argparse.Namespace) -> int:
    from callassist.review.server import make_server

    try:
        server = make_server(args.out, args.port, args.recordings)
    except OSError as error:
        raise CallassistError(f"--port {args.port}: cannot listen on 127.0.0.1 ({error.strerror}); try another port") from None
    host, port = server.server_address[:2]
    if server.site.recordings_unfound():
        print("review: the reports are masked and name their recordings relative to the folder given to the batch;"
              " give it with --recordings FOLDER to play them", file=sys.stderr)
    print(f"review: http://{host}:{port}/  (only this computer can open it; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def run_rules_test(args: argparse.Namespace) -> int:
    from callassist.rules.cases import read_cases, run_case
    from callassist.settings import effective_pack, load_settings

    settings = load_settings(args.config)
    pack = effective_pack(settings, [*args.scripts, args.pack])
    cases = read_cases(args.cases)
    results = [run_case(case, pack, settings) for case in cases]
    for result in results:
        print(result.describe())
    failed = sum(not r.passed for r in results)
    print(f"{len(results)} case(s): {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def run_devices() -> int:
    from callassist.live.devices import format_device_table, format_loopback_section, list_input_devices
    from callassist.live.loopback import loopback_speakers

    print(format_device_table(list_input_devices()))
    print()
    print(format_loopback_section(loopback_speakers()))
    return 0


def check_writable_file(path: Path, option: str, force: bool = True) -> None:
    """Refuse, before any work, an output path that is a folder, sits in no folder, or (without
    `force`) already exists."""
    if path.is_dir():
        raise CallassistError(f"{option} {path}: is a folder; give a file name, e.g. {path / 'report.json'}")
    if not path.parent.is_dir():
        raise CallassistError(f"{option} {path}: folder {path.parent} does not exist; create it first")
    if not force and path.exists():
        raise CallassistError(f"{path} already exists; give --force to overwrite it, or -o/--output for another file")


def run_transcribe(args: argparse.Namespace) -> int:
    from callassist.audio.recording import open_recording
    from callassist.recognition import VoskRecognition, open_speech_model
    from callassist.replay import ReplayRequest, transcribe
    from callassist.settings import effective_pack, load_settings
    from callassist.transcript import write_transcript

    request = ReplayRequest(audio=args.audio, agent_channel=args.agent_channel, caller_channel=args.caller_channel)
    settings = load_settings(args.config)
    mask = masking_wanted(args, settings)
    output = args.output or args.audio.with_suffix(".jsonl")
    if mask:
        from callassist.reporting.masking import masked_file_name

        output = masked_file_name(output)
    check_writable_file(output, "--output", force=args.force)
    open_recording(args.audio)
    speech_model = open_speech_model(args.model, interactive=sys.stdin.isatty())
    utterances = transcribe(request, settings, effective_pack(settings, []), VoskRecognition(speech_model))
    write_transcript(output, utterances, mask=mask)
    shown = output
    if mask:
        from callassist.reporting.masking import mask_free_text

        shown = mask_free_text(str(output))
    print(f"transcript written: {shown} ({len(utterances)} utterances, model {speech_model.name})")
    return 0


def masking_wanted(args: argparse.Namespace, settings) -> bool:
    """--mask, or the config's privacy.mask. Noted in `args`: the error lines are masked too."""
    args.mask = bool(getattr(args, "mask", False)) or settings.privacy.mask
    return args.mask


def masked_error_line(args: argparse.Namespace, message: str) -> str:
    """An error line under --mask: the files given named by their file names, numbers masked."""
    from callassist.reporting.masking import mask_free_text

    for key in ("audio", "transcript", "report", "output"):
        path = getattr(args, key, None)
        if isinstance(path, Path) and path.name:
            message = message.replace(str(path), path.name)
    return mask_free_text(message)


def run_scripts(args: argparse.Namespace) -> int:
    import json

    from callassist.scriptpack import check_packs
    from callassist.settings import effective_pack, load_settings

    if args.scripts_command == "check":
        problems = check_packs(args.paths)
        for problem in problems:
            print(problem)
        checked = ", ".join(map(str, args.paths)) or "standard pack"
        print(f"{len(problems)} problem(s) in {checked}", file=sys.stderr)
        return 1 if problems else 0
    settings = load_settings(args.config)
    pack = effective_pack(settings, args.scripts)
    if args.json:
        print(json.dumps(pack_to_json(pack), ensure_ascii=False, indent=2))
    else:
        print(pack_to_text(pack, settings.score.deductions))
    return 0


def pack_to_json(pack: ScriptPack) -> dict:
    from dataclasses import asdict

    return {
        "sources": list(pack.sources),
        "situations": [asdict(s) for s in pack.situations.values()],
        "forbidden": [asdict(f) for f in pack.forbidden],
        "required": [asdict(r) for r in pack.required.values()],
        "cues": [asdict(c) for c in pack.cues],
        "rules": [asdict(r) for r in pack.rules],
    }


def pack_to_text(pack: ScriptPack, deductions: dict[str, int] | None = None) -> str:
    def where(entry) -> str:
        return f"  ({entry.source.path}:{entry.source.line})" if entry.source else ""

    lines = ["# effective script pack from: " + ", ".join(pack.sources), "", "## situations"]
    for s in pack.situations.values():
        first = f" (step 1 after {s.after:g} s)" if s.after else ""
        lines.append(f"{s.id} [{s.kind}] {s.title}{first}{where(s)}")
        for number, step in enumerate(s.steps, start=1):
            wait = f"  (then wait {step.wait:g} s)" if step.wait else ""
            action = "  [hang up]" if step.action == "hang_up" else ""
            lines.append(f"  {number}. {pack.fill(step.say)}{wait}{action}")
        if s.advice:
            lines.append(f"  advice: {s.advice}")
    lines += ["", "## forbidden"]
    lines += [f"{f.id}: 「{f.phrase}」 -> {f.situation}{where(f)}" for f in pack.forbidden]
    lines += ["", "## required"]
    for r in pack.required.values():
        lines.append(f"{r.id} ({r.where}): " + " / ".join(f"「{pack.fill(p)}」" for p in r.phrases) + where(r))
    lines += ["", "## cues"]
    for c in pack.cues:
        evidence = " ".join(c.phrases) or c.characters or c.pattern or ""
        lines.append(f"{c.id} -> {c.situation} [{c.speaker}]: {evidence}{where(c)}")
    lines += ["", "## rules"]
    for r in pack.rules:
        lines.append(f"{r.id} [{rule_cost(r, deductions or {})}] {r.title}{where(r)}")
        lines += [f"  {line}" for line in describe_rule(r)]
    return "\n".join(lines)


def rule_cost(rule, deductions: dict[str, int]) -> str:
    """The rule's kind and what it costs: its own deduction, else the settings' for its id."""
    if rule.fatal:
        return f"{rule.kind}, fatal"
    if rule.deduction is None and deductions.get(rule.id):
        return f"{rule.kind}, -{deductions[rule.id]} (score.deductions)"
    return f"{rule.kind}, -{rule.deduction}" if rule.deduction else rule.kind


def describe_rule(rule) -> list[str]:
    """What a rule checks, as it runs (phrase sets and the standard's lines expanded)."""
    scope = [f"speaker {rule.speaker}" if rule.speaker else "either speaker"]
    scope += [f"first {rule.first:g} s"] if rule.first else []
    scope += [f"last {rule.last:g} s"] if rule.last else []
    scope += [label for flag, label in (
        (rule.first_turn, "in the speaker's first utterance"),
        (rule.skip_first_turn, "not in the speaker's first utterance"),
        (rule.after_hold, "in the speaker's first utterance after each hold"),
        (rule.waived_by_hang_up, "not owed when a script hung up"),
        (rule.per_phrase, "one event per phrase"),
    ) if flag]
    scope += [f"while {rule.during}"] if rule.during else []
    out = ["; ".join(scope)]
    if rule.when is not None:
        out.append(f"when: {describe_condition(rule.when)}")
    if rule.silence is not None:
        out.append(f"silence: {rule.silence:g} s")
    if rule.each:
        out.append("each of: " + describe_phrases(rule.each))
    if rule.after is not None:
        out.append(f"after: {describe_context(rule.after)}")
    out += [f"unless: {describe_context(c)}" for c in rule.unless]
    return out


def describe_context(context) -> str:
    reach = [f"within {context.within:g} s"] if context.within else []
    reach += [f"within {context.turns} utterance(s)"] if context.turns else []
    return f"{describe_condition(context.condition)} ({', '.join([context.side, *reach])})"


def describe_condition(condition) -> str:
    parts = [f"said {describe_phrases(condition.said)}"] if condition.said else []
    parts += [f"regex /{condition.regex}/"] if condition.regex else []
    parts += [f"any of ({' | '.join(map(describe_condition, condition.any))})"] if condition.any else []
    parts += [f"all of ({' & '.join(map(describe_condition, condition.all))})"] if condition.all else []
    parts += [f"none of ({' | '.join(map(describe_condition, condition.none))})"] if condition.none else []
    parts += [f"by {condition.speaker}"] if condition.speaker else []
    parts += [f"once the {condition.spoken_before} has spoken"] if condition.spoken_before else []
    parts += [f"threshold {condition.threshold:g}"] if condition.threshold is not None else []
    return ", ".join(parts)


def describe_phrases(phrases) -> str:
    """Phrases as a rule matches them: [[required]] entries by id, the [[forbidden]] phrases (all
    listed under "## forbidden") by number, a situation's lines with its id, others quoted."""
    shown: list[str] = []
    forbidden = sum(1 for phrase in phrases if phrase.situation is not None)
    for phrase in phrases:
        if phrase.situation is not None:
            label = f"the {forbidden} [forbidden] phrase(s)"
        elif phrase.id is not None:
            label = f"[required] {phrase.id}"
        elif phrase.line_of is not None:
            label = f"[situation] {phrase.line_of}「{phrase.text}」"
        else:
            label = f"「{phrase.text}」"
        if label not in shown:
            shown.append(label)
    return " / ".join(shown)


def run() -> NoReturn:
    """The `callassist` command (and `python -m callassist`): `main`, then the process ends.

    Python's shutdown ends with a cycle collection over every object still alive: numpy's,
    the pack's, the report's. The process is about to give all of it back, and a replay of a
    1-minute call spent about 20 ms (a twentieth of its time) on that. `gc.freeze` moves those
    objects out of the collector's sight; it is not done in `main`, which tests call many times
    in one process."""
    status = main()
    gc.freeze()
    sys.exit(status)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = run_command(args)
        sys.stdout.flush()  # a closed pipe shows here, not in Python's last flush at exit
        return status
    except CallassistError as error:
        message = masked_error_line(args, str(error)) if getattr(args, "mask", False) else str(error)
        print(f"callassist: error: {message}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("callassist: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `callassist ... | head`: the reader has all it wanted
        silence_stdout()
        return 1
    except OSError as error:  # a write that failed (disk full, no permission): name the file
        where = f"{error.filename}: " if error.filename else ""
        message = f"{where}{error.strerror or error}; check the path, its permissions and free space"
        print(f"callassist: error: {masked_error_line(args, message) if getattr(args, 'mask', False) else message}", file=sys.stderr)
        return 2
    except Exception as error:  # never a traceback for the user; CALLASSIST_DEBUG=1 shows it
        if os.environ.get("CALLASSIST_DEBUG"):
            raise
        detail = f"{type(error).__name__}: {error}"
        detail = masked_error_line(args, detail) if getattr(args, "mask", False) else detail
        print(f"callassist: internal error: {detail} (run with CALLASSIST_DEBUG=1 for details and report it)", file=sys.stderr)
        return 3


def silence_stdout() -> None:
    """Point stdout at the null device, so Python's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def start_loading_speech_model(audio: Path | None, transcript: Path | None) -> None:
    """A replay of `audio` will analyse it: start loading the speech-confirmation model now, so
    that it loads (in a thread, mostly outside Python's lock) while the rest of the program is
    imported. A WAV file's rate is read from its header, before numpy and libsndfile are loaded;
    other formats are opened with libsndfile first."""
    if audio is None:
        return
    from callassist.audio.speech_model import load_ahead
    from callassist.audio.wav_header import read_wav_header

    try:
        header = read_wav_header(audio)
    except OSError:
        return  # reported when the replay opens it
    if header is not None and header.sample_rate and header.channels:
        rate, mono = header.sample_rate, header.channels == 1
    else:
        from callassist.audio.recording import open_recording

        try:
            recording = open_recording(audio)
        except CallassistError:
            return  # reported when the replay opens it
        rate, mono = recording.sample_rate, recording.is_mono
    if not (mono and transcript is not None):  # else the transcript says who speaks when
        load_ahead(rate)


def run_command(args: argparse.Namespace) -> int:
    if args.command == "replay":
        start_loading_speech_model(args.audio, args.transcript)
    if args.command in ("replay", "demo"):
        from callassist.replay import ReplayRequest
    if args.command == "replay":
        return run_replay(args, ReplayRequest(
            args.audio, args.transcript, args.duration, args.agent_channel, args.caller_channel
        ))
    if args.command == "transcribe":
        return run_transcribe(args)
    if args.command == "demo":
        sample = sample_call_dir()
        audio = sample / "sample_call.wav"
        args.asr, args.report = "none", None
        return run_replay(args, ReplayRequest(audio=audio, transcript=sample / "sample_call.jsonl"))
    if args.command == "live":
        return run_live(args)
    if args.command == "devices":
        return run_devices()
    if args.command == "setup":
        from callassist.setup import run_setup

        return run_setup(args)
    if args.command == "batch":
        return run_batch_command(args)
    if args.command == "eval":
        return run_eval(args)
    if args.command == "models":
        from callassist.modelcli import run_models

        return run_models(args)
    if args.command == "rules":
        return run_rules_test(args)
    if args.command == "review":
        return run_review(args)
    return run_scripts(args)
