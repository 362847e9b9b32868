"""`callassist models list | download | verify | path`."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callassist.models import ModelInfo

# callassist.models (hashlib, zipfile, shutil, tempfile: 6 ms) is imported when a `models` action
# runs or its help is shown, not by every command that builds the parser.


class _ModelsHelp(argparse.HelpFormatter):
    """Help whose {default_model} and {models_dir} are looked up when it is shown."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        from callassist.models import DEFAULT_MODEL, user_models_dir

        text = super()._get_help_string(action)
        folder = str(user_models_dir()).replace("%", "%%")  # the help is %-formatted next
        return text and text.replace("{default_model}", DEFAULT_MODEL).replace("{models_dir}", folder)


def add_models_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `models` and its actions to the top-level subcommands."""
    models = subparsers.add_parser("models", help="list, download, check or locate Vosk speech models")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    actions.add_parser("list", help="the known models, their size and use, and where they are installed")
    download = actions.add_parser(
        "download", help="download and install a model (needs internet)", formatter_class=_ModelsHelp
    )
    download.add_argument("name", nargs="?", metavar="NAME", help="catalogue name (default: {default_model})")
    download.add_argument("--to", type=Path, metavar="DIR", help="models folder to install into (default: {models_dir})")
    download.add_argument("--url", metavar="URL", help="download from here instead (a mirror); the checksum still applies")
    download.add_argument(
        "--sha256", metavar="HEX",
        help="the SHA-256 the zip must have: needed with --url for a model whose checksum is not pinned",
    )
    verify = actions.add_parser("verify", help="check a model folder (or downloaded zip) and load it; exit 1 on a problem")
    verify.add_argument(
        "target", nargs="?", metavar="NAME|PATH", help="catalogue name, model folder or zip (default: the model in use)"
    )
    path = actions.add_parser(
        "path", help="print where the model is found, or why it is not", formatter_class=_ModelsHelp
    )
    path.add_argument("name", nargs="?", metavar="NAME", help="default: {default_model}")


def run_models(args: argparse.Namespace, catalogue: Mapping[str, ModelInfo] | None = None) -> int:
    from callassist.models import CATALOGUE, DEFAULT_MODEL, find_model, verify_model

    catalogue = CATALOGUE if catalogue is None else catalogue
    if args.models_command == "list":
        print(catalogue_text(catalogue))
    elif args.models_command == "download":
        name = DEFAULT_MODEL if args.name is None else args.name
        print(run_download(name, args.to, args.url, catalogue, args.sha256))
    elif args.models_command == "verify":
        print(verify_model(args.target, catalogue))
    else:
        print(find_model(None, DEFAULT_MODEL if args.name is None else args.name))
    return 0


def catalogue_text(catalogue: Mapping[str, ModelInfo]) -> str:
    from callassist.models import DEFAULT_MODEL, installed_copies

    lines: list[str] = []
    for info in catalogue.values():
        default = "  (default)" if info.name == DEFAULT_MODEL else ""
        checksum = (
            f"SHA-256 {info.sha256}" if info.sha256
            else "checksum: not pinned (checked only by unpacking into a model folder)"
        )
        lines += [f"{info.name}{default}", f"  {info.use}", f"  download: {info.size_text}, {info.url}", f"  {checksum}"]
        copies = installed_copies(info.name)
        lines += [f"  installed: {path}" + (f"  (broken: {problem})" if problem else "") for path, problem in copies]
        if not copies:
            lines.append("  installed: no")
    return "\n".join(lines)


def run_download(
    name: str, to: Path | None, url: str | None, catalogue: Mapping[str, ModelInfo], sha256: str | None = None
) -> str:
    from callassist.models import DownloadError, DownloadProgress, download_model, model_folder_problem, user_models_dir

    info = catalogue.get(name)
    if info is None:
        raise DownloadError(f"unknown model {name!r}; known: {', '.join(catalogue)} (see `callassist models list`)")
    if sha256 is not None:
        sha256 = sha256.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise DownloadError(f"--sha256 {sha256!r}: give the 64 hexadecimal digits of the zip's SHA-256")
        if info.sha256 is not None and sha256 != info.sha256:
            raise DownloadError(f"--sha256 differs from the checksum pinned for {name} ({info.sha256}); leave it out")
        info = replace(info, sha256=sha256)
    elif url is not None and info.sha256 is None:
        raise DownloadError(
            f"--url: {name} has no pinned checksum, so a zip from another address cannot be checked; "
            "give --sha256 HEX of the zip you expect as well"
        )
    models_dir = to if to is not None else user_models_dir()
    destination = models_dir / name
    if destination.is_dir() and model_folder_problem(destination) is None:
        return f"{name} is already installed: {destination}"
    installed = download_model(info, models_dir, url=url, progress=DownloadProgress(f"downloading {name}"))
    checked = (
        ("size and SHA-256 checked" if info.size is not None else "SHA-256 checked") if info.sha256
        else "checksum not pinned; checked that it unpacks into a model folder"
    )
    return f"installed {name} in {installed} ({checked})"
