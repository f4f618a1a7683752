"""Few-shot adaptation: the router tunes a copy of the embedder's top layers on its examples."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.router.data import read_jsonl, routes_from_examples
from assistant.router.embedders import FakeEmbedder
from assistant.router.router import Router
from assistant.router.types import RouteSpec

from .conftest import DATA

ROUTES = [
    RouteSpec("weather", ["will it rain today", "weather forecast for tomorrow", "is it sunny outside"]),
    RouteSpec("timer", ["set a timer for ten minutes", "start a countdown", "timer for the pasta"],
              negatives=["what time is it"], fallback_examples=["tell me a joke"]),
]


class TunableFake(FakeEmbedder):
    """A fake whose ``adapt`` returns another fake (different vectors, different name)."""

    def __init__(self) -> None:
        super().__init__(dim=256)
        self.adapt_calls: list[tuple[list[str], list[int]]] = []

    def adapt(self, texts, labels, x, cache_dir, progress=None):
        self.adapt_calls.append((list(texts), [int(v) for v in labels]))
        assert x.shape == (len(texts), self.dim)
        if progress:
            progress(1, 1)
        tuned = FakeEmbedder(dim=128)
        tuned.name = "fake-tuned"
        return tuned


def test_build_with_adapt_embeds_with_the_tuned_embedder_and_keeps_the_base(tmp_path):
    base = TunableFake()
    steps: list[tuple[int, int]] = []
    router = Router.build(ROUTES, base, tmp_path, adapt=True, tune_progress=lambda d, t: steps.append((d, t)))
    assert router.embedder.name == "fake-tuned" and router.embedder.dim == 128
    assert router.base_embedder is base
    assert router.head.examples.shape[1] == 128  # examples were embedded again with the tuned model
    (texts, labels), = base.adapt_calls
    assert "tell me a joke" in texts and len(set(labels)) == 3  # two routes and the reject class
    # A skill's negatives are not tuned on: as a class they would be pulled from every skill.
    assert "what time is it" not in texts
    assert router.head.neg_examples.shape == (1, 128) and router.head.neg_texts == ["what time is it"]
    assert steps == [(1, 1)]
    assert router.route("will it rain tomorrow").skill == "weather"


def test_build_without_adapt_or_without_support_uses_the_base(tmp_path):
    base = TunableFake()
    router = Router.build(ROUTES, base, tmp_path, adapt=False)
    assert router.embedder is base and not base.adapt_calls
    plain = FakeEmbedder()
    router = Router.build(ROUTES, plain, tmp_path, adapt=True)  # no adapt method: frozen
    assert router.embedder is plain is router.base_embedder


def test_one_route_is_not_adapted(tmp_path):
    base = TunableFake()
    router = Router.build([RouteSpec("weather", ["will it rain", "forecast please"])], base, tmp_path, adapt=True)
    assert router.embedder is base and not base.adapt_calls


@pytest.mark.real_embedder
def test_minilm_adaptation_is_cached_and_leaves_the_base_unchanged(minilm, tmp_path):
    from assistant.router.adapt import AdaptedEmbedder, adapt

    routes = routes_from_examples(read_jsonl(DATA / "tiny_train.jsonl"))
    texts = [t for r in routes for t in r.examples]
    labels = [i for i, r in enumerate(routes) for _ in r.examples]
    probe = ["set a timer for two minutes", "is it raining in london"]
    before = minilm.encode(probe)
    steps: list[int] = []
    tuned = adapt(minilm, texts, labels, minilm.encode(texts), tmp_path, lambda d, t: steps.append(d))
    assert isinstance(tuned, AdaptedEmbedder) and steps and steps[-1] == len(steps)
    assert np.allclose(minilm.encode(probe), before, atol=1e-5)  # shared lower layers untouched
    after = tuned.encode(probe)
    assert not np.allclose(after, before, atol=1e-3)
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-4)
    assert np.allclose(tuned.encode(probe[:1])[0], after[0], atol=1e-4)  # single query = batch
    assert list((tmp_path / "tuned").glob("*.safetensors"))
    steps.clear()
    again = adapt(minilm, texts, labels, minilm.encode(texts), tmp_path, lambda d, t: steps.append(d))
    assert not steps and again.name == tuned.name  # loaded from the cache, not trained again
    assert np.allclose(again.encode(probe), after, atol=1e-5)
    # Examples of each route end up closer to each other than to other routes'.
    vecs = tuned.encode(texts)
    same = [float(vecs[i] @ vecs[j]) for i in range(len(texts)) for j in range(i) if labels[i] == labels[j]]
    other = [float(vecs[i] @ vecs[j]) for i in range(len(texts)) for j in range(i) if labels[i] != labels[j]]
    assert np.mean(same) > np.mean(other) + 0.2


@pytest.mark.real_embedder
def test_minilm_adapted_router_above_floor(minilm, tmp_path):
    router = Router.build(routes_from_examples(read_jsonl(DATA / "tiny_train.jsonl")), minilm, tmp_path, adapt=True)
    assert router.embedder is not minilm and router.base_embedder is minilm
    test = read_jsonl(DATA / "tiny_test.jsonl")
    hits = sum(router.route(ex.text).skill_or("oos") == ex.label for ex in test)
    assert hits / len(test) >= 0.75


@pytest.mark.real_embedder
def test_corrupt_cached_layers_are_retrained(minilm, tmp_path):
    from assistant.router.adapt import adapt

    texts = ["will it rain", "forecast for rome", "set a timer", "countdown five minutes"]
    labels = [0, 0, 1, 1]
    first = adapt(minilm, texts, labels, minilm.encode(texts), tmp_path)
    (path,) = (tmp_path / "tuned").glob("*.safetensors")
    path.write_bytes(b"not safetensors")
    steps: list[int] = []
    second = adapt(minilm, texts, labels, minilm.encode(texts), tmp_path, lambda d, t: steps.append(d))
    assert steps and second.name == first.name
    assert np.allclose(second.encode(texts), first.encode(texts), atol=1e-4)  # seeded: same result
