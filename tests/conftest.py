"""Shared fixtures: every test gets its own data dir and config file under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ASSISTANT_HOME and ASSISTANT_CONFIG at tmp_path; clear other ASSISTANT_* vars.

    The real models (installed by the set-up) stay reachable through ``real_models_dir``.
    """
    import os

    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    home.mkdir()
    config = tmp_path / "user-config.toml"
    config.write_text("")
    monkeypatch.setenv("ASSISTANT_HOME", str(home))
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return home


@pytest.fixture
def user_config(isolated_home: Path, tmp_path: Path):
    """Write the user config file used by load_settings(); returns a writer function."""

    def write(text: str) -> Path:
        path = tmp_path / "user-config.toml"
        path.write_text(text)
        return path

    return write
