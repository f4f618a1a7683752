"""The int8 copy of the router's embedder: faithful, batch-independent, cached, never required."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from assistant.router import int8
from assistant.router.data import read_jsonl, routes_from_examples
from assistant.router.embedders import FakeEmbedder
from assistant.router.int8 import Int8Embedder, int8_embedder, int8_path
from assistant.router.onnx_path import load_or_export
from assistant.router.router import Router

from .conftest import DATA, count_writes

pytestmark = pytest.mark.real_embedder

TEXTS = ["what is 15% of 240?", "set a timer for ten minutes", "ok", "How do I reverse a list in Python?",
         "summarize the attached report for me please", "what's the weather like in Lisbon tomorrow"]


class _Onnx:
    """The shared MiniLM with its ONNX export in a private folder (so the copy is made fresh)."""

    def __init__(self, minilm, folder):
        self.minilm = minilm
        self.name = minilm.name
        self.dim = minilm.dim
        self.onnx_threads = 2
        self.onnx = load_or_export(folder / "m.onnx", 2, minilm.path, 128, lambda: minilm._first.auto_model)
        assert self.onnx is not None

    def encode(self, texts):
        return self.onnx.encode(texts)


@pytest.fixture(scope="module")
def onnx_embedder(minilm, tmp_path_factory):
    return _Onnx(minilm, tmp_path_factory.mktemp("int8"))


def test_int8_vectors_are_close_to_float_and_do_not_depend_on_the_batch(onnx_embedder, caplog):
    caplog.set_level(logging.INFO)
    fast = int8_embedder(onnx_embedder, 2)
    assert isinstance(fast, Int8Embedder)
    assert fast.name == f"{onnx_embedder.name}+{int8.INT8_VERSION}" and fast.dim == 384
    batch = fast.encode(TEXTS)
    alone = np.concatenate([fast.encode([t]) for t in TEXTS])
    assert np.array_equal(batch, alone)  # each text is embedded on its own, in any batch
    assert np.array_equal(fast.encode(TEXTS[::-1]), batch[::-1])
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    cosine = (batch * onnx_embedder.encode(TEXTS)).sum(axis=1)
    assert cosine.min() >= int8.MIN_COSINE
    assert "Please consider" not in caplog.text  # the quantizer's advice stays out of the terminal


def test_the_copy_is_reused_and_a_damaged_one_made_again(onnx_embedder, monkeypatch):
    int8_embedder(onnx_embedder, 2)  # made (or found) once
    calls = count_writes(monkeypatch, int8, "_quantize")
    assert isinstance(int8_embedder(onnx_embedder, 2), Int8Embedder) and calls == []
    path = int8_path(onnx_embedder.onnx.path)
    path.write_bytes(b"\x00 not a model" * 50)
    again = int8_embedder(onnx_embedder, 2)
    assert isinstance(again, Int8Embedder) and calls == [str(path)]
    assert np.isfinite(again.encode(["hello there"])).all()


def test_a_copy_that_disagrees_or_fails_leaves_the_float_embedder(onnx_embedder, monkeypatch, caplog):
    monkeypatch.setattr(int8, "MIN_COSINE", 1.01)  # nothing can agree
    assert int8_embedder(onnx_embedder, 2) is onnx_embedder
    assert not int8_path(onnx_embedder.onnx.path).exists()
    assert "float ONNX export" in caplog.text
    monkeypatch.undo()

    def broken(src, dst):
        raise RuntimeError("quantizer exploded")

    monkeypatch.setattr(int8, "_quantize", broken)
    assert int8_embedder(onnx_embedder, 2) is onnx_embedder
    assert "quantizer exploded" in caplog.text


def test_an_embedder_without_an_onnx_export_is_left_alone():
    fake = FakeEmbedder()
    assert int8_embedder(fake, 2) is fake
    router = Router.build(routes_from_examples(read_jsonl(DATA / "tiny_train.jsonl")), fake, None, int8=True)
    assert router.embedder is fake


def test_router_on_int8_routes_known_examples_exactly_and_keeps_the_base_embedder(onnx_embedder, tmp_path):
    routes = routes_from_examples(read_jsonl(DATA / "tiny_train.jsonl"))
    router = Router.build(routes, onnx_embedder, tmp_path, int8=True)
    assert isinstance(router.embedder, Int8Embedder) and router.base_embedder is onnx_embedder
    example = routes[0].examples[0]
    choice = router.route(example)
    assert choice.skill == routes[0].name and "known example" in choice.reason
    float_router = Router.build(routes, onnx_embedder, tmp_path)
    assert float_router.key != router.key  # vectors of the two are cached apart
    test = read_jsonl(DATA / "tiny_test.jsonl")
    for e in test:  # the same winner, with nearly the same score (each router has its own threshold)
        fast, slow = router.route(e.text), float_router.route(e.text)
        assert fast.best == slow.best and abs(fast.score - slow.score) < 0.03
