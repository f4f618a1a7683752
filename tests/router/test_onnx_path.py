"""The ONNX Runtime path: torch's vectors, cached, torch-free on a warm start, never required."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

from assistant.router import onnx_path
from assistant.router.cache import prune_old
from assistant.router.data import read_jsonl, routes_from_examples
from assistant.router.embedders import MiniLMEmbedder
from assistant.router.onnx_path import Tokens, load_or_export
from assistant.router.router import Router

from .conftest import DATA, count_writes

pytestmark = pytest.mark.real_embedder

QUERIES = ["what is 15% of 240?", "set a timer for ten minutes", "ok", "How do I reverse a list in Python?",
           "tell me about the history of the roman empire " * 30]  # the last one is truncated


def _export_counter(monkeypatch) -> list[str]:
    return count_writes(monkeypatch, onnx_path, "_export")


def _load(emb, path):
    return load_or_export(path, 2, emb.path, 128, lambda: emb._first.auto_model)


def _no_torch():
    raise AssertionError("torch was asked for")


@pytest.fixture(scope="module")
def exported(minilm, tmp_path_factory):
    """An ONNX copy of the shared MiniLM, exported once for this module."""
    path = tmp_path_factory.mktemp("onnx") / "minilm.onnx"
    enc = _load(minilm, path)
    assert enc is not None and path.is_file()
    return enc


def test_tokens_match_the_transformers_tokenizer(minilm):
    ids, mask = Tokens(minilm.path, 128)(QUERIES)
    ref = minilm._first.tokenizer(QUERIES, padding=True, truncation=True, max_length=128, return_tensors="np")
    assert ids.shape[1] == 128  # the long text was cut, the others padded
    assert (ids == ref["input_ids"]).all() and (mask == ref["attention_mask"]).all()


def test_vectors_match_torch_one_at_a_time_and_in_batches(minilm, exported, monkeypatch):
    monkeypatch.setattr(minilm, "onnx", None)
    torch_single = np.concatenate([minilm.encode([q]) for q in QUERIES])
    torch_batch = minilm.encode(QUERIES)
    monkeypatch.setattr(minilm, "onnx", exported)
    single = np.concatenate([minilm.encode([q]) for q in QUERIES])
    batch = minilm.encode(QUERIES)
    assert np.abs(single - torch_single).max() < 1e-5
    assert np.abs(batch - torch_batch).max() < 1e-5
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    many = [f"request number {i} " + "word " * (i % 40) for i in range(150)]  # several length-sorted batches
    monkeypatch.setattr(minilm, "onnx", None)
    ref = minilm.encode(many)
    monkeypatch.setattr(minilm, "onnx", exported)
    assert np.abs(minilm.encode(many) - ref).max() < 1e-5


def test_a_query_does_not_wait_for_torch_work_in_progress(minilm, exported, monkeypatch):
    monkeypatch.setattr(minilm, "onnx", exported)
    done = threading.Event()
    with minilm._lock:  # as if a rebuild were tuning layers with torch
        worker = threading.Thread(target=lambda: (minilm.encode(["is it going to rain"]), done.set()), daemon=True)
        worker.start()
        assert done.wait(30), "the query waited for the torch lock"


def test_a_cached_export_is_reused_without_torch_and_a_damaged_one_is_made_again(minilm, tmp_path, monkeypatch):
    calls = _export_counter(monkeypatch)
    path = tmp_path / "m.onnx"
    assert _load(minilm, path) is not None and len(calls) == 1
    assert (tmp_path / "m.probes.npy").is_file()
    reused = load_or_export(path, 2, minilm.path, 128, _no_torch)
    assert reused is not None and len(calls) == 1
    path.write_bytes(b"\x00not an onnx file" * 100)
    assert onnx_path.load_cached(path, 2, minilm.path, 128) is None
    assert not path.exists()  # a failed check discards the file: the next look is a cheap miss
    assert _load(minilm, path) is not None and len(calls) == 2
    np.save(tmp_path / "m.probes.npy", np.zeros((len(onnx_path.PROBES), 384), np.float32))  # wrong probes
    assert onnx_path.load_cached(path, 2, minilm.path, 128) is None
    enc = _load(minilm, path)
    assert enc is not None and len(calls) == 3
    assert np.isfinite(enc.encode(["hello there"])).all()


def test_without_onnx_or_with_a_failing_export_torch_is_used(minilm, tmp_path, monkeypatch, caplog):
    tmp_path = tmp_path / "onnx"
    monkeypatch.setattr(onnx_path, "available", lambda: False)
    assert _load(minilm, tmp_path / "a.onnx") is None
    monkeypatch.undo()

    def broken(model, path):
        raise RuntimeError("exporter exploded")

    monkeypatch.setattr(onnx_path, "_export", broken)
    assert _load(minilm, tmp_path / "b.onnx") is None
    assert "exporter exploded" in caplog.text and "uses torch" in caplog.text
    assert not list(tmp_path.glob("*"))  # nothing half-written left behind (the folder may exist)
    monkeypatch.setattr(minilm, "onnx", None)
    assert minilm.encode(["still works"]).shape == (1, 384)


def test_an_export_that_disagrees_with_torch_is_refused(minilm, tmp_path, monkeypatch):
    tmp_path = tmp_path / "onnx"
    monkeypatch.setattr(onnx_path, "TOLERANCE", -1.0)  # nothing can agree
    assert _load(minilm, tmp_path / "m.onnx") is None
    assert not list(tmp_path.glob("*"))


def test_a_warm_start_builds_the_adapted_router_without_torch(minilm, tmp_path):
    onnx_dir, cache = tmp_path / "onnx", tmp_path / "cache"
    routes = routes_from_examples(read_jsonl(DATA / "tiny_train.jsonl"))
    first = MiniLMEmbedder(threads=2, onnx_dir=onnx_dir)  # cold: loads torch to export
    assert first.onnx is not None and first.torch_loaded
    cold = Router.build(routes, first, cache, adapt=True)
    assert cold.embedder.onnx is not None and cold.embedder.onnx.path.parent == onnx_dir / "tuned"
    assert cold.embedder.name != first.name

    warm_base = MiniLMEmbedder(threads=2, onnx_dir=onnx_dir)
    assert warm_base.onnx is not None and not warm_base.torch_loaded
    warm = Router.build(routes, warm_base, cache, adapt=True)
    assert not warm_base.torch_loaded  # examples, tuned layers and exports all came from the cache
    assert warm.embedder.name == cold.embedder.name
    assert np.abs(warm.embedder.encode(QUERIES) - cold.embedder.encode(QUERIES)).max() < 1e-6
    for q in ("will it rain tomorrow", "set an alarm for six", QUERIES[0]):
        assert warm.route(q).skill == cold.route(q).skill

    # A new process with the same cache never imports torch (about 200 MB and 8 s saved).
    script = (
        "import sys, json\nfrom pathlib import Path\n"
        "from assistant.router.data import read_jsonl, routes_from_examples\n"
        "from assistant.router.embedders import MiniLMEmbedder\n"
        "from assistant.router.router import Router\n"
        f"emb = MiniLMEmbedder(threads=2, onnx_dir={str(onnx_dir)!r})\n"
        f"routes = routes_from_examples(read_jsonl({str(DATA / 'tiny_train.jsonl')!r}))\n"
        f"r = Router.build(routes, emb, Path({str(cache)!r}), adapt=True)\n"
        "print(json.dumps([r.route('will it rain tomorrow').skill, r.embedder.name, 'torch' in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    skill, name, torch_imported = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (skill, name, torch_imported) == (cold.route("will it rain tomorrow").skill, cold.embedder.name, False)

    # The tuned export gives the tuned torch model's vectors, and the base stays the base.
    tuned_torch = cold.embedder
    fast = tuned_torch.encode(QUERIES)
    tuned_torch.onnx = None
    assert np.abs(fast - tuned_torch.encode(QUERIES)).max() < 1e-5
    assert np.abs(warm_base.encode(QUERIES) - minilm.encode(QUERIES)).max() < 1e-5
    assert np.abs(fast - minilm.encode(QUERIES)).max() > 1e-3


def test_old_exports_are_pruned_to_the_newest_few(tmp_path):
    files = []
    for i in range(onnx_path.KEEP_FILES + 2):
        f = tmp_path / f"{i}.onnx"
        f.write_bytes(b"x")
        onnx_path._probe_file(f).write_bytes(b"p")
        os.utime(f, (1000 + i, 1000 + i))
        files.append(f)
    keep = files[0]  # the oldest, but the one in use
    prune_old(tmp_path, "*.onnx", keep, onnx_path.KEEP_FILES, onnx_path._probe_file)
    left = sorted(p.name for p in tmp_path.glob("*.onnx"))
    newest = [f.name for f in files[-onnx_path.KEEP_FILES:]]
    assert keep.exists() and set(newest) <= set(left) and len(left) == onnx_path.KEEP_FILES + 1
    assert len(list(tmp_path.glob("*.probes.npy"))) == len(left)
