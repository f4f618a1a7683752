"""Follow-up awareness on the multi-turn set (fake embedder here; real MiniLM below)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.backends.base import ChatMessage
from assistant.router.data import read_jsonl, routes_from_examples
from assistant.router.embedders import FakeEmbedder
from assistant.router.router import Router

DATA = Path(__file__).parent / "data"


def load_multiturn() -> list[dict]:
    return [json.loads(line) for line in (DATA / "multiturn.jsonl").read_text().splitlines() if line.strip()]


def multiturn_accuracy(router: Router) -> float:
    cases = load_multiturn()
    hits = 0
    for case in cases:
        history = [ChatMessage(m["role"], m["content"]) for m in case["history"]]
        choice = router.route(case["text"], history, case["previous_skill"])
        hits += choice.skill_or("chat") == case["expected"]
    return hits / len(cases)


def build(embedder, cache: Path | None = None) -> Router:
    return Router.build(routes_from_examples(read_jsonl(DATA / "multiturn_routes.jsonl")), embedder, cache)


def test_multiturn_set_is_well_formed():
    cases = load_multiturn()
    assert len(cases) >= 25
    assert {c["expected"] for c in cases} >= {"weather", "translate", "code", "summarize", "math", "chat"}


def test_multiturn_with_fake_embedder_above_floor():
    assert multiturn_accuracy(build(FakeEmbedder())) >= 0.7


@pytest.mark.real_embedder
def test_multiturn_with_minilm_above_floor(minilm, tmp_path):
    assert multiturn_accuracy(build(minilm, tmp_path)) >= 0.8


@pytest.mark.real_embedder
def test_minilm_small_labelled_set_above_floor(minilm, tmp_path):
    router = Router.build(routes_from_examples(read_jsonl(DATA / "tiny_train.jsonl")), minilm, tmp_path)
    test = read_jsonl(DATA / "tiny_test.jsonl")
    hits = sum(router.route(ex.text).skill_or("oos") == ex.label for ex in test)
    assert hits / len(test) >= 0.75
