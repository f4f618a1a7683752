"""The model manager: lazy loads, LRU eviction within the budget, failed loads isolated."""

from __future__ import annotations

import threading

import pytest

from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.config import load_settings
from assistant.errors import ConfigError, ModelError


def settings(budget=4096, cap=3):
    models = {n: {"source": "path", "path": f"/nonexistent/{n}.gguf", "size_bytes": 300 * 2**20,
                  "trained_ctx": 4096, "n_ctx": 1024} for n in ("a", "b", "c")}
    return load_settings(overrides={"default_model": "a", "models": models,
                                    "runtime": {"memory_budget_mb": budget, "max_loaded_models": cap}})


def test_lazy_load_and_reuse():
    made = []
    m = ModelManager(settings(), factory=lambda n, a: made.append(n) or FakeBackend(n))
    assert made == []
    b1 = m.get("a")
    assert m.get("a") is b1 and made == ["a"]


def test_lru_eviction_by_budget():
    made = []
    m = ModelManager(settings(budget=900), factory=lambda n, a: made.append(n) or FakeBackend(n))
    a = m.get("a")
    m.get("b")  # two fit in 900 MB (about 400 each)
    assert m.loaded() == ["a", "b"]
    m.get("a")  # a is now most recent
    m.get("c")  # evicts b, the least recently used
    assert m.loaded() == ["a", "c"]
    assert not a.closed
    assert m.used_mb() <= 900


def test_eviction_by_count():
    m = ModelManager(settings(cap=1), factory=lambda n, a: FakeBackend(n))
    first = m.get("a")
    m.get("b")
    assert m.loaded() == ["b"] and first.closed


def test_failed_load_keeps_others():
    def factory(name, adapter):
        if name == "b":
            raise RuntimeError("llama_model_load: error loading model")
        return FakeBackend(name)

    m = ModelManager(settings(), factory=factory)
    a = m.get("a")
    with pytest.raises(ModelError, match="could not load model 'b'"):
        m.get("b")
    assert m.loaded() == ["a"] and m.get("a") is a
    states = {s.name: s.state for s in m.states()}
    assert states == {"a": "loaded", "b": "failed"}


def test_out_of_memory_is_a_clear_error():
    def factory(name, adapter):
        raise MemoryError()

    with pytest.raises(ModelError, match="not enough memory"):
        ModelManager(settings(), factory=factory).get("a")


def test_unknown_model():
    with pytest.raises(ConfigError):
        ModelManager(settings(), factory=lambda n, a: FakeBackend(n)).get("zzz")


def test_concurrent_gets_load_once():
    made = []
    gate = threading.Event()

    def factory(name, adapter):
        made.append(name)
        gate.wait(1)
        return FakeBackend(name)

    m = ModelManager(settings(), factory=factory)
    got = []
    ts = [threading.Thread(target=lambda: got.append(m.get("a"))) for _ in range(4)]
    for t in ts:
        t.start()
    gate.set()
    for t in ts:
        t.join(5)
    assert made == ["a"] and len({id(g) for g in got}) == 1


def test_listeners_see_state_changes():
    seen = []
    m = ModelManager(settings(), factory=lambda n, a: FakeBackend(n))
    m.listeners.append(lambda s: seen.append((s.name, s.state)))
    m.get("a")
    assert seen == [("a", "loading"), ("a", "loaded")]


def test_adapters_with_the_same_file_name_in_different_folders_are_different_loads(tmp_path) -> None:
    # A shipped adapter and a newly trained one are usually both called SKILL-BASE.lora.gguf:
    # comparing them must load each, not reuse the first.
    made = []

    def factory(model, adapter):
        made.append(adapter)
        return FakeBackend(model)

    m = ModelManager(load_settings(), factory=factory)
    old, new = tmp_path / "a" / "x.lora.gguf", tmp_path / "b" / "x.lora.gguf"
    first, second = m.get("qwen2.5-coder-0.5b", old), m.get("qwen2.5-coder-0.5b", new)
    assert first is not second and made == [old, new]
    assert m.get("qwen2.5-coder-0.5b", tmp_path / "a" / ".." / "a" / "x.lora.gguf") is first
    assert ModelManager.key("m", old) != ModelManager.key("m", new) and ModelManager.key("m", old).startswith("m+x.lora.gguf@")
