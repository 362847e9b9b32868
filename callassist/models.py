"""Vosk speech models: the catalogue, where a model is looked for, downloading and checking one.

Nothing here touches the network unless the user asked for a download (`callassist models
download`, or answering yes to `offer_download`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.parse
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import IO, TYPE_CHECKING, Callable, TextIO

from callassist import __version__
from callassist.errors import CallassistError

if TYPE_CHECKING:
    import vosk


@dataclass(frozen=True)
class ModelInfo:
    """A downloadable model. `size` and `sha256` describe the zip; None means not pinned."""

    name: str
    url: str
    size: int | None
    sha256: str | None
    use: str

    @property
    def size_text(self) -> str:
        return megabytes(self.size) if self.size is not None else "size unknown"


DEFAULT_MODEL = "vosk-model-small-cn-0.22"

CATALOGUE: Mapping[str, ModelInfo] = MappingProxyType({
    info.name: info for info in (
        ModelInfo(
            name=DEFAULT_MODEL,
            url="https://alphacephei.com/vosk/models/vosk-model-small-cn-0.22.zip",
            size=43_898_754,
            sha256="3af8b0e7e0f835ae9d414ce5df580237a3cfb08d586c9fbbb0f7ff29ad5b14ba",
            use="Mandarin, small: for agents' PCs",
        ),
        ModelInfo(
            name="vosk-model-cn-0.22",
            url="https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip",
            size=None,
            sha256=None,
            use="Mandarin, large: for QA servers",
        ),
    )
})

MODEL_ENV = "CALLASSIST_MODEL"

# What a Vosk model folder must hold: each entry is a set of alternatives, one of which must be a
# non-empty file. Small models have graph/HCLr.fst + Gr.fst, large ones graph/HCLG.fst.
MODEL_PARTS: tuple[tuple[str, ...], ...] = (
    ("am/final.mdl",),
    ("conf/model.conf",),
    ("graph/HCLG.fst", "graph/HCLr.fst"),
)

CHUNK_SIZE = 64 * 1024
NOTHING_INSTALLED = "nothing was installed"


class ModelNotFoundError(CallassistError):
    """No model in any of the places looked in."""


class ModelFolderError(CallassistError):
    """A path given or found is not a usable model: wrong folder, a file, or files Vosk cannot load."""


class DownloadError(CallassistError):
    """A download failed or fetched the wrong thing; nothing was installed."""


class VerificationFailed(CallassistError):
    """`callassist models verify` found a problem: exits 1, as a failed check."""

    exit_status = 1


def megabytes(size: int) -> str:
    return f"{size / 1e6:.0f} MB"


# ---------------------------------------------------------------- where models are looked for


def user_models_dir(platform: str = sys.platform) -> Path:
    """`%LOCALAPPDATA%\\callassist\\models` on Windows, `$XDG_DATA_HOME/callassist/models` elsewhere."""
    if platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "callassist" / "models"
    xdg = os.environ.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative value is to be ignored.
    base_dir = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base_dir / "callassist" / "models"


def local_models_dir() -> Path:
    """`./models` in the folder callassist runs from."""
    return Path.cwd() / "models"


def model_folder_problem(folder: Path) -> str | None:
    """What keeps `folder` from being a Vosk model folder, or None when it looks like one."""
    missing = [
        " or ".join(alternatives) for alternatives in MODEL_PARTS
        if not any(_non_empty_file(folder / part) for part in alternatives)
    ]
    return f"missing or empty: {', '.join(missing)}" if missing else None


def _non_empty_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False


def model_folders_in(folder: Path) -> list[Path]:
    """The model folders directly inside `folder` (hidden entries, such as downloads in progress, skipped)."""
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    return [c for c in children if not c.name.startswith(".") and c.is_dir() and model_folder_problem(c) is None]


def check_model_folder(path: Path, origin: str = "") -> Path:
    """Return `path` if it is a model folder, else raise a one-line error saying what to give instead.

    `origin` says where the path came from (e.g. "CALLASSIST_MODEL"), for the message.
    """
    where = f"{path} (from {origin})" if origin else f"{path}"
    if not path.exists():
        raise ModelFolderError(f"{where}: no such folder; give the unzipped Vosk model folder")
    if path.is_file():
        if zipfile.is_zipfile(path):
            raise ModelFolderError(
                f"{where} is a zip file, not a model folder: unzip it and give the folder inside "
                f"(or check it with `callassist models verify {path}`)"
            )
        raise ModelFolderError(f"{where} is a file, not a model folder: give the unzipped Vosk model folder")
    problem = model_folder_problem(path)
    if problem is None:
        return path
    inner = model_folders_in(path)
    if len(inner) == 1:
        raise ModelFolderError(f"{where} is not a Vosk model folder but holds one: use {inner[0]}")
    if inner:
        names = ", ".join(p.name for p in inner)
        raise ModelFolderError(f"{where} is not a Vosk model folder but holds several ({names}): give one of them")
    raise ModelFolderError(
        f"{where} is not a Vosk model folder ({problem}); give the unzipped folder, "
        f"e.g. {DEFAULT_MODEL}, or run `callassist models download`"
    )


def find_model(explicit: Path | None = None, name: str = DEFAULT_MODEL) -> Path:
    """Where the model is: `explicit` (--model), then $CALLASSIST_MODEL, then ./models/NAME, then the
    user data folder's NAME.

    For the default name, a ./models folder holding exactly one model folder (of any name) is
    accepted too, so a model copied by hand under another name is found. A place that exists but
    is not a usable model is an error, not skipped: the user meant it.
    """
    if explicit is not None:
        return check_model_folder(explicit)
    from_env = os.environ.get(MODEL_ENV)
    if from_env:
        return check_model_folder(Path(from_env), MODEL_ENV)
    local_dir, data_dir = local_models_dir(), user_models_dir()
    local = local_dir / name
    if local.exists():
        return check_model_folder(local)
    only_local = model_folders_in(local_dir)
    if name == DEFAULT_MODEL and len(only_local) == 1:
        return only_local[0]
    installed = data_dir / name
    if installed.exists():
        return check_model_folder(installed)
    raise ModelNotFoundError(not_found_message(name, local_dir, data_dir))


def not_found_message(name: str, local_dir: Path, data_dir: Path) -> str:
    looked = f"looked in {local_dir / name}, {data_dir / name}; {MODEL_ENV} not set"
    zips = [d / f"{name}.zip" for d in (local_dir, data_dir) if (d / f"{name}.zip").is_file()]
    if zips:
        return f"no Vosk model found ({looked}); {zips[0]} is there but not unzipped: unzip it in that folder"
    copy = f"copy an unzipped {name} folder into {local_dir} or {data_dir}"
    info = CATALOGUE.get(name)
    if info is None:
        return f"no Vosk model found ({looked}); {copy}"
    command = "callassist models download" + ("" if name == DEFAULT_MODEL else f" {name}")
    size = f", {info.size_text}" if info.size is not None else ""
    return f"no Vosk model found ({looked}); run `{command}` (needs internet{size}) or {copy}"


def installed_copies(name: str) -> list[tuple[Path, str | None]]:
    """The places NAME is found in ./models and the user data folder, each with its problem (None = fine)."""
    places = (local_models_dir() / name, user_models_dir() / name)
    return [(p, model_folder_problem(p)) for p in places if p.is_dir()]


# ---------------------------------------------------------------- loading


# ---------------------------------------------------------------- decoding settings written into the model

FEATURE_CONF = "conf/mfcc.conf"
DITHER_OFF = "--dither=0.0"
DECODER_CONF = "conf/model.conf"
FRAMES_PER_CHUNK = 12
"""Frames (10 ms) the acoustic model computes at a time (Kaldi's default: 20, rounded up to 21).
A partial result can only change once a chunk is computed, so the chunk is part of every flag's
delay. Measured with the Korean model on 180 s of speech fed as a live call is
(benchmarks/bench_recognition.py): median flag delay 0.62 s with the default chunk, 0.58 s with
15 frames, 0.51 s with 12; the recognition CPU per audio second rises by 6-11% and 11-18%
(smaller matrix products)."""


def _last_value(folder: Path, conf_name: str, option: str) -> str | None:
    """The value a Kaldi config file gives `option` (the last one wins), if any."""
    try:
        text = (folder / conf_name).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    values = re.findall(rf"^\s*{re.escape(option)}=(\S+)", text, flags=re.MULTILINE)
    return values[-1] if values else None


def _append_setting(folder: Path, conf_name: str, setting: str) -> bool:
    """Append `setting` to a Kaldi config file of the model (atomically). False when it cannot be
    written (a read-only model folder)."""
    conf = folder / conf_name
    try:
        text = conf.read_text(encoding="utf-8") if conf.is_file() else ""
        temporary = conf.with_name(f".{conf.name}.tmp")
        temporary.write_text(text + ("" if not text or text.endswith("\n") else "\n") + setting + "\n", encoding="utf-8")
        os.replace(temporary, conf)
    except OSError:
        return False
    return True


def dither_is_off(folder: Path) -> bool:
    """Whether the model's feature config turns Kaldi's dither off (the last --dither wins).

    Kaldi adds random noise to every frame by default, drawn from one process-wide random state:
    the same call then gives different text from run to run and from thread to thread."""
    value = _last_value(folder, FEATURE_CONF, "--dither")
    try:
        return value is not None and float(value) == 0.0
    except ValueError:
        return False


def disable_dither(folder: Path) -> bool:
    """Write --dither=0.0 into the model's feature config, unless it is there. Returns False when
    the config cannot be written (a read-only model folder)."""
    return dither_is_off(folder) or _append_setting(folder, FEATURE_CONF, DITHER_OFF)


def live_chunks_are_set(folder: Path) -> bool:
    """Whether the model's decoder config sets `FRAMES_PER_CHUNK`."""
    return _last_value(folder, DECODER_CONF, "--frames-per-chunk") == str(FRAMES_PER_CHUNK)


def set_live_chunks(folder: Path) -> bool:
    """Write --frames-per-chunk=FRAMES_PER_CHUNK into the model's decoder config, unless it is there.
    Returns False when the config cannot be written."""
    return live_chunks_are_set(folder) or _append_setting(folder, DECODER_CONF, f"--frames-per-chunk={FRAMES_PER_CHUNK}")


def configure_model(folder: Path) -> bool:
    """What `models download` and `models verify` write into a model: dither off (the same call
    gives the same text on every run) and the decoding chunk of live flags. False when either
    could not be written."""
    dither = disable_dither(folder)
    return set_live_chunks(folder) and dither


def configuration_notes(folder: Path) -> list[str]:
    """What a model lacks of `configure_model`'s settings, one sentence each."""
    notes = []
    if not dither_is_off(folder):
        notes.append(f"{folder / FEATURE_CONF} leaves dither on, so the same call can give different text on different runs")
    if not live_chunks_are_set(folder):
        notes.append(f"{folder / DECODER_CONF} leaves Vosk's default decoding chunk, so live flags come about 0.1 s later")
    return notes


def load_model(path: Path) -> "vosk.Model":
    """Load a model with Vosk and create a recognizer from it, turning a failure of either into
    one line naming the folder and what to do.

    Vosk reads the decoding graph (graph/HCLr.fst, HCLG.fst) and the i-vector extractor only when
    a recognizer is created: a model with a damaged graph or a missing ivector/final.ie loads
    fine and fails at the first call. Creating one here makes that fail now."""
    check_model_folder(path)
    import vosk

    vosk.SetLogLevel(-1)
    with tempfile.TemporaryFile() as native_log:
        try:
            with _native_stderr_to(native_log):
                model = vosk.Model(str(path))
                vosk.KaldiRecognizer(model, 16000.0)  # dropped at once: the check is that it can be made
                return model
        except Exception as error:  # vosk raises bare Exceptions ("Failed to create a model/recognizer")
            native_log.seek(0)
            reason = kaldi_error(native_log.read().decode("utf-8", "replace"), str(error))
            raise ModelFolderError(
                f"{path}: Vosk cannot load this model ({reason}); {load_failure_advice(path)}"
            ) from error


def load_failure_advice(path: Path, platform: str = sys.platform) -> str:
    if platform == "win32" and not str(path).isascii():
        # Vosk opens files with the ANSI API on Windows: non-ASCII folder names fail (vosk-api #1072).
        return (
            "Vosk on Windows cannot read folders with non-ASCII names: "
            r"move it to e.g. C:\callassist\models and give that path with --model"
        )
    return (
        "its files are damaged or incomplete: "
        "delete the folder and run `callassist models download`, or copy it again"
    )


@contextmanager
def _native_stderr_to(sink: IO[bytes]) -> Iterator[None]:
    """Send what native code (Kaldi inside Vosk) writes to file descriptor 2 into `sink`.

    Kaldi prints its errors itself even at the quietest log level; the user gets them in our one
    line instead. Where fd 2 cannot be duplicated (no console), output is left alone.
    """
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        os.dup2(sink.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


KALDI_ERROR = re.compile(r"ERROR \(VoskAPI:.*?:\d+\) (.*)")


def kaldi_error(log: str, fallback: str = "Failed to create a model") -> str:
    """The last error Kaldi logged, without its source-location prefix (else `fallback`)."""
    errors = KALDI_ERROR.findall(log) or re.findall(r"^ERROR: (.*)$", log, re.MULTILINE)
    return errors[-1].strip() if errors else fallback


# ---------------------------------------------------------------- downloading


class DownloadProgress:
    """Download progress on stderr: one line updated in place on a terminal (plain '\\r', which
    Windows consoles understand), otherwise a line every 10 % so logs stay readable."""

    def __init__(self, label: str, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.on_terminal = self.stream.isatty()
        self.clock = clock
        self.started = clock()
        self.last_drawn = float("-inf")
        self.last_mark = -1  # last tenth (or 50 MB, size unknown) reported off a terminal
        self.drawn_in_place = False

    def update(self, received: int, total: int | None) -> None:
        now = self.clock()
        if self.on_terminal:
            if now - self.last_drawn >= 0.2 or received == total:
                self.last_drawn = now
                self.drawn_in_place = True
                self.stream.write(f"\r{self.status(received, total, now):<70}")
                self.stream.flush()
            return
        mark = 10 * received // total if total else received // 50_000_000
        if mark > self.last_mark:
            self.last_mark = mark
            print(self.status(received, total, now), file=self.stream, flush=True)

    def status(self, received: int, total: int | None, now: float) -> str:
        elapsed = now - self.started
        speed = f"{received / 1e6 / elapsed:.1f} MB/s" if elapsed > 0 else "-- MB/s"
        if total:
            return f"{self.label}: {100 * received // total:3d}%  {received / 1e6:.1f} of {total / 1e6:.1f} MB  {speed}"
        return f"{self.label}: {received / 1e6:.1f} MB  {speed}"

    def finish(self) -> None:
        if self.drawn_in_place:
            self.stream.write("\n")
            self.stream.flush()
            self.drawn_in_place = False


def download_model(
    info: ModelInfo,
    models_dir: Path,
    *,
    url: str | None = None,
    progress: DownloadProgress | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download `info`'s zip (from `url` if given, e.g. a mirror) and install it as `models_dir/NAME`.

    The zip goes to a hidden temporary file in `models_dir`, is checked (size and SHA-256 where
    pinned), unpacked into a hidden temporary folder beside the destination, checked to be a model
    folder, and only then renamed into place. On any failure or interruption the temporaries are
    removed and the destination does not exist, so running it again starts clean.
    """
    destination = models_dir / info.name
    if destination.exists():
        raise DownloadError(f"{destination} already exists; delete it first to download {info.name} again")
    models_dir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(models_dir, info.name)
    source = url or info.url
    fd, zip_name = tempfile.mkstemp(prefix=f".{info.name}.", suffix=".zip.part", dir=models_dir)
    zip_path = Path(zip_name)
    unpack_dir: Path | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            received, digest = _fetch(source, out, info.size, progress, timeout)
        _check_download(info, source, received, digest)
        unpack_dir = Path(tempfile.mkdtemp(prefix=f".{info.name}.", suffix=".unpacking", dir=models_dir))
        model_root = _unpack_model(zip_path, unpack_dir, source)
        configure_model(model_root)
        try:
            os.replace(model_root, destination)
        except OSError as error:
            raise DownloadError(f"could not move the unpacked model to {destination}: {error}") from error
        return destination
    finally:
        if progress is not None:
            progress.finish()
        zip_path.unlink(missing_ok=True)
        if unpack_dir is not None:
            shutil.rmtree(unpack_dir, ignore_errors=True)


def _remove_leftovers(models_dir: Path, name: str) -> None:
    """Temporaries of a download of `name` that was killed too hard to clean up after itself."""
    for leftover in models_dir.glob(f".{name}.*"):
        if leftover.name.endswith((".zip.part", ".unpacking")):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def _fetch(
    url: str, out: IO[bytes], expected_size: int | None, progress: DownloadProgress | None, timeout: float
) -> tuple[int, str]:
    """Stream `url` into `out`; return the bytes received and their SHA-256."""
    import http.client  # here, not at the top: the HTTP stack costs every command 30 ms to import
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": f"callassist/{__version__}"})
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            announced = int(length) if length and length.isdigit() else None
            total = announced or expected_size
            while chunk := response.read(CHUNK_SIZE):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                if progress is not None:
                    progress.update(received, total)
    except urllib.error.HTTPError as error:
        raise DownloadError(f"could not download {url}: HTTP {error.code} {error.reason}") from error
    except urllib.error.URLError as error:
        raise DownloadError(
            f"could not download {url}: {error.reason}; check the internet connection, use --url with a "
            f"mirror, or copy the unzipped model by hand (see `callassist models path`)"
        ) from error
    except ValueError as error:  # not a URL urllib can open
        raise DownloadError(f"could not download {url}: {error}") from error
    except (OSError, http.client.HTTPException) as error:  # connection reset or cut, timeout, disk full
        raise DownloadError(
            f"download of {url} failed after {megabytes(received)}: {error}; {NOTHING_INSTALLED}, run the command again"
        ) from error
    if announced is not None and received < announced:
        raise DownloadError(
            f"download of {url} stopped after {received:,} of {announced:,} bytes (connection closed); "
            f"{NOTHING_INSTALLED}, run the command again"
        )
    return received, digest.hexdigest()


def _check_download(info: ModelInfo, url: str, received: int, sha256: str) -> None:
    if info.size is not None and received != info.size:
        raise DownloadError(
            f"{url} sent {received:,} bytes but {info.name} is {info.size:,}: "
            f"an incomplete or different file; {NOTHING_INSTALLED}"
        )
    if info.sha256 is not None and sha256 != info.sha256:
        raise DownloadError(
            f"{url}: SHA-256 {sha256} does not match {info.name} ({info.sha256}): "
            f"a damaged or different file; {NOTHING_INSTALLED}"
        )


# Limits on what a model zip may unpack to (a zip bomb is refused before anything is written).
# The largest Vosk models unpack to about 4 GB in some 100 files; their data compresses less than 4:1.
MAX_UNPACKED_BYTES = 8_000_000_000
MAX_UNPACKED_FILES = 5_000
MAX_EXPANSION = 20  # unpacked bytes per zip byte, plus the slack below for small zips
EXPANSION_SLACK = 10_000_000


def unpack_limits_problem(archive: zipfile.ZipFile, zip_size: int) -> str | None:
    """What makes the zip's contents too big to unpack, or None. The sizes are the ones the
    zip states; zipfile never writes more than a member states (it fails the CRC instead)."""
    members = archive.infolist()
    total = sum(member.file_size for member in members)
    allowed = min(MAX_UNPACKED_BYTES, MAX_EXPANSION * zip_size + EXPANSION_SLACK)
    if len(members) > MAX_UNPACKED_FILES:
        return f"holds {len(members):,} files (a model has at most {MAX_UNPACKED_FILES:,})"
    if total > allowed:
        return f"would unpack to {total / 1e6:,.0f} MB from {zip_size / 1e6:,.1f} MB (at most {allowed / 1e6:,.0f} MB allowed)"
    return None


def _unpack_model(zip_path: Path, into: Path, source: str) -> Path:
    """Unpack the zip into `into` and return the model folder in it (the zip's top folder, usually)."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            problem = unpack_limits_problem(archive, zip_path.stat().st_size)
            if problem:
                raise DownloadError(f"{source} {problem}: not a model zip; {NOTHING_INSTALLED}")
            archive.extractall(into)  # zipfile drops absolute paths and '..' from member names
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{source} is not a valid zip file ({error}); {NOTHING_INSTALLED}") from error
    if model_folder_problem(into) is None:
        return into
    inner = model_folders_in(into)
    if len(inner) != 1:
        raise DownloadError(f"{source} does not unpack into one Vosk model folder; {NOTHING_INSTALLED}")
    return inner[0]


def offer_download(
    name: str,
    interactive: bool,
    *,
    explicit: Path | None = None,
    catalogue: Mapping[str, ModelInfo] = CATALOGUE,
    ask: Callable[[str], str] = input,
    stream: TextIO | None = None,
) -> Path | None:
    """The model to use for a command that needs recognition, offering to download it on first use.

    Returns the model found, or the one downloaded after the user said yes; None when they said no.
    `interactive` should be `sys.stdin.isatty()`: without a person to ask (CI, scripts) this never
    touches the network and raises the ModelNotFoundError instead.
    """
    try:
        return find_model(explicit, name)
    except ModelNotFoundError:
        if not interactive or name not in catalogue:
            raise
    info = catalogue[name]
    out = stream if stream is not None else sys.stderr
    models_dir = user_models_dir()
    checked = "checks its SHA-256" if info.sha256 else "checks that it unpacks into a model folder"
    print(
        f"No Vosk speech model found. callassist can download {info.name} ({info.size_text}) from\n"
        f"{info.url}, {checked}, and unpack it into {models_dir}.",
        file=out,
    )
    host = urllib.parse.urlsplit(info.url).hostname
    try:
        answer = ask(f"Download {info.name} ({info.size_text}) from {host} now? [y/N] ")
    except EOFError:
        answer = ""
    if answer.strip().lower() not in ("y", "yes"):
        return None
    return download_model(info, models_dir, progress=DownloadProgress(f"downloading {info.name}", out))


# ---------------------------------------------------------------- verifying


def verify_model(target: str | None, catalogue: Mapping[str, ModelInfo] = CATALOGUE) -> str:
    """Check a model (a catalogue name, a folder or a downloaded zip) and load it with Vosk.

    Returns the one-line result; raises VerificationFailed with the one-line problem.
    """
    try:
        if target is None:
            return _verify_folder(find_model())
        path = Path(target)
        if path.is_file() and zipfile.is_zipfile(path):
            return _verify_zip(path, catalogue)
        if target in catalogue and not path.exists():
            return _verify_folder(find_model(None, target))
        return _verify_folder(check_model_folder(path))
    except CallassistError as error:
        raise VerificationFailed(str(error)) from error


def _verify_folder(folder: Path) -> str:
    started = time.monotonic()
    dither = "dither off" if disable_dither(folder) else f"dither on: {folder / FEATURE_CONF} is read-only"
    chunks = (f"decoding chunks of {FRAMES_PER_CHUNK} frames" if set_live_chunks(folder)
              else f"default decoding chunks: {folder / DECODER_CONF} is read-only")
    load_model(folder)  # loading is the proof; the model is dropped at once
    return f"ok: {folder} is a Vosk model that loads ({time.monotonic() - started:.1f} s, {dither}, {chunks})"


def _verify_zip(zip_path: Path, catalogue: Mapping[str, ModelInfo]) -> str:
    digest = hashlib.sha256()
    with zip_path.open("rb") as data:
        while chunk := data.read(1024 * 1024):
            digest.update(chunk)
    sha256 = digest.hexdigest()
    named = catalogue.get(zip_path.name.removesuffix(".zip"))
    if named is not None and named.sha256 is not None and named.sha256 != sha256:
        raise ModelFolderError(
            f"{zip_path}: SHA-256 {sha256} does not match {named.name} ({named.sha256}): "
            "a damaged or different file; download it again"
        )
    matching = next((i for i in catalogue.values() if i.sha256 == sha256), None)
    checksum = f"SHA-256 matches {matching.name}" if matching else "checksum not pinned for this file"
    with tempfile.TemporaryDirectory(prefix="callassist-verify-") as unpacked:
        try:
            model_root = _unpack_model(zip_path, Path(unpacked), str(zip_path))
        except DownloadError as error:
            raise ModelFolderError(str(error).replace(f"; {NOTHING_INSTALLED}", "")) from error
        load_model(model_root)  # dropped at once: Windows cannot delete files of a loaded model
    return f"ok: {zip_path}: {checksum}; unpacks into a Vosk model that loads"
