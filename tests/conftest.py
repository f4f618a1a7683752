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


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight llama GGUF with a ChatML template (written once per session)."""
    from assistant.models.tiny import write_tiny_llama

    return write_tiny_llama(tmp_path_factory.mktemp("tiny") / "tiny-llama.gguf")


@pytest.fixture
def tiny_settings(tiny_gguf: Path, isolated_home: Path):
    """Settings whose catalog has the tiny model as ``tiny`` (and the default)."""
    from assistant.config import load_settings

    return load_settings(overrides={
        "default_model": "tiny",
        "runtime": {"threads": 2},
        "models": {"tiny": {"source": "path", "path": str(tiny_gguf), "trained_ctx": 2048, "n_ctx": 1024,
                            "chat_format": "chatml", "generation": {"temperature": 0.0, "max_tokens": 32}}},
    })


def real_models_dir() -> Path:
    """Where `make setup` put the real default models (the platform data dir)."""
    import os

    if os.environ.get("ASSISTANT_TEST_MODELS_DIR"):
        return Path(os.environ["ASSISTANT_TEST_MODELS_DIR"])
    from platformdirs import user_data_dir

    return Path(user_data_dir("assistant", appauthor=False)) / "models"


@pytest.fixture
def real_settings(isolated_home: Path):
    """Settings that use the real default models installed by the set-up."""
    from assistant.config import load_settings
    from assistant.models.store import ModelStore

    settings = load_settings(overrides={"models_dir": str(real_models_dir())})
    if ModelStore(settings).status(settings.default_model).status != "ok":
        pytest.fail("the default model is not installed: run `make setup` (or `assistant models pull --defaults`)")
    return settings


@pytest.fixture(scope="session")
def _router_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("router-cache")


@pytest.fixture
def shared_router_cache(isolated_home: Path, _router_cache_dir: Path) -> Path:
    """One router cache for the whole session, linked into this test's data dir: tests that
    route the same skills with the fake embedder build the index and fitted head once (the
    first such test, a few seconds) and read it like a second start after that. Entries are
    keyed by their content and written whole, so tests never see each other's routes."""
    link = isolated_home / "cache" / "router"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(_router_cache_dir, target_is_directory=True)
    return link
