"""Configuration loading and its errors (RELIABILITY.md rows 4 and 12)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from assistant.config import REPO_CONFIG, Settings, load_settings, read_toml
from assistant.errors import ConfigError


def test_repo_config_is_the_documented_default():
    # config.toml must load and agree with the model defaults it documents.
    loaded = load_settings()
    bare = load_settings(repo_config=None)
    assert loaded.default_model == bare.default_model
    assert loaded.runtime == bare.runtime
    assert loaded.router == bare.router
    assert loaded.memory == bare.memory


def test_user_config_and_env_override(user_config, monkeypatch):
    user_config('[runtime]\nthreads = 3\nmemory_budget_mb = 2048\n')
    s = load_settings()
    assert s.runtime.threads == 3 and s.runtime.memory_budget_mb == 2048
    monkeypatch.setenv("ASSISTANT_RUNTIME__THREADS", "5")
    assert load_settings().runtime.threads == 5
    monkeypatch.setenv("ASSISTANT_DEFAULT_MODEL", "gemma-3-270m")
    assert load_settings().default_model == "gemma-3-270m"


def test_home_env_sets_data_dir(isolated_home):
    s = load_settings()
    assert s.data_dir == isolated_home
    assert s.db_path.parent == isolated_home
    assert s.model_dir == isolated_home / "models"


@pytest.mark.parametrize(
    "text, key",
    [
        ("[runtime]\nthreads = 0\n", "runtime.threads"),
        ("[runtime]\nthreads = -2\n", "runtime.threads"),
        ("[runtime]\nthreads = 'many'\n", "runtime.threads"),
        ("[runtime]\nthreadz = 2\n", "runtime.threadz"),
        ('[models."qwen2.5-coder-0.5b"]\nn_ctx = 128\n', "n_ctx"),
        ('[models."qwen2.5-coder-0.5b"]\nn_ctx = 1000000\n', "n_ctx"),
        ('default_model = "nope"\n', "nope"),
        ('[skills.overrides.code]\nmodel = "missing-model"\n', "missing-model"),
        ("[router]\nembedder = 'word2vec'\n", "router.embedder"),
    ],
)
def test_bad_values_name_the_key(user_config, text, key):
    user_config(text)
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert key in str(exc.value)
    assert exc.value.hint


def test_unknown_key_error_gives_file_and_line(user_config):
    path = user_config("# comment\n[runtime]\n\nthreadz = 2\n")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert "unknown key" in str(exc.value)
    assert f"{path}, line 4" in str(exc.value)


def test_invalid_toml_names_file_and_line(user_config):
    path = user_config("[runtime\nthreads = 2\n")
    with pytest.raises(ConfigError) as exc:
        load_settings()
    assert str(path) in str(exc.value) and "line 1" in str(exc.value)


def test_explicit_missing_config_file_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSISTANT_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()


def test_bad_env_value_is_a_config_error(monkeypatch):
    monkeypatch.setenv("ASSISTANT_RUNTIME__MEMORY_BUDGET_MB", "lots")
    with pytest.raises(ConfigError, match="memory_budget_mb"):
        load_settings()


def test_unknown_model_lookup_lists_known():
    s = load_settings()
    with pytest.raises(ConfigError) as exc:
        s.model("gpt-99")
    assert "qwen2.5-coder-0.5b" in exc.value.hint


def test_path_model_can_be_added(user_config, tmp_path):
    user_config(f'[models.mine]\nsource = "path"\npath = "{tmp_path}/m.gguf"\ntrained_ctx = 4096\nn_ctx = 2048\n')
    s = load_settings()
    assert s.model("mine").n_ctx == 2048


@hsettings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_settings_or_config_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("cfg") / "c.toml"
    path.write_text(text, encoding="utf-8")
    try:
        assert isinstance(load_settings(path), Settings)
    except ConfigError as exc:
        assert exc.message


def test_read_toml_undecodable_file(tmp_path):
    path = tmp_path / "bin.toml"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match=str(path)):
        read_toml(path)


def test_repo_config_exists():
    assert REPO_CONFIG.is_file()
