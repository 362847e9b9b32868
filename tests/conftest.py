from __future__ import annotations

from pathlib import Path

import pytest

from callassist.scriptpack import load_pack
from callassist.settings import load_settings

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
