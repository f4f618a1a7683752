"""The real llama.cpp backend on the tiny generated GGUF."""

from __future__ import annotations

import itertools
import threading
import time

import pytest

from assistant.backends.base import ChatMessage, GenerationRequest
from assistant.backends.llama import LlamaBackend
from assistant.errors import ContextOverflowError


@pytest.fixture
def backend(tiny_settings):
    spec = tiny_settings.model("tiny")
    b = LlamaBackend("tiny", spec.path, spec, n_threads=2)
    yield b
    b.close()


def req(text: str = "hello there", **kw) -> GenerationRequest:
    kw.setdefault("temperature", 0.0)
    return GenerationRequest(messages=[ChatMessage("user", text)], **kw)


def test_streams_pieces_and_reports_counts(backend):
    gen = backend.stream(req(max_tokens=16))
    pieces = list(gen)
    assert len(pieces) >= 2
    r = gen.result
    assert r.text == "".join(pieces)
    assert r.prompt_tokens == backend.count_messages([ChatMessage("user", "hello there")])
    assert 1 <= r.completion_tokens <= 16
    assert r.ttft_ms is not None and r.duration_ms >= r.ttft_ms


def test_max_tokens_is_honoured(backend):
    gen = backend.stream(req(max_tokens=3, stop=[]))
    gen.text()
    assert gen.result.completion_tokens <= 3


def test_temperature_zero_is_deterministic(backend):
    a = backend.stream(req(max_tokens=20)).text()
    b = backend.stream(req(max_tokens=20)).text()
    assert a == b and a


def test_stop_string_cuts_output(backend):
    full = backend.stream(req(max_tokens=20)).text()
    assert len(full) > 3
    stop = full[2:4]
    cut = backend.stream(req(max_tokens=20, stop=[stop])).text()
    assert stop not in cut
    assert full.startswith(cut)


def test_cancel_stops_within_one_token(backend):
    cancel = threading.Event()
    gen = backend.stream(req(max_tokens=200, cancel=cancel, stop=[]))
    got = 0
    for _ in gen:
        got += 1
        if got == 2:
            cancel.set()
    assert gen.result.finish_reason == "cancelled"
    assert gen.result.completion_tokens <= 3
    # the next prompt works
    assert backend.stream(req(max_tokens=4)).text() is not None


def test_concurrent_requests_are_serialized(backend):
    outputs: dict[int, str] = {}
    spans: dict[int, tuple[float, float]] = {}

    def run(i: int) -> None:
        gen = backend.stream(req(f"request number {i}", max_tokens=24, stop=[]))
        first = None
        parts = []
        for p in gen:
            first = first or time.perf_counter()
            parts.append(p)
        spans[i] = (first or time.perf_counter(), time.perf_counter())
        outputs[i] = "".join(parts)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outputs) == 3
    ordered = sorted(spans.values())
    for (_s1, e1), (s2, _e2) in itertools.pairwise(ordered):
        assert e1 <= s2 + 1e-3, "two generations interleaved on one model"
    # each output equals what that request gives alone
    for i, text in outputs.items():
        assert backend.stream(req(f"request number {i}", max_tokens=24, stop=[])).text() == text


def test_context_overflow_is_a_clear_error(backend):
    with pytest.raises(ContextOverflowError) as exc:
        backend.stream(req("word " * 5000))
    assert "tokens" in str(exc.value)


def test_conversation_state_is_restored(backend):
    """Switching conversations keeps each one's KV state, so a return re-reads little."""
    a = [ChatMessage("user", "first conversation " * 20)]
    b = [ChatMessage("user", "another topic entirely " * 20)]
    backend.stream(GenerationRequest(messages=a, max_tokens=4, temperature=0, cache_key="A")).text()
    backend.stream(GenerationRequest(messages=b, max_tokens=4, temperature=0, cache_key="B")).text()
    again = backend.stream(GenerationRequest(messages=a + [ChatMessage("assistant", "ok"), ChatMessage("user", "more")],
                                             max_tokens=4, temperature=0, cache_key="A"))
    again.text()
    assert again.result.cached_tokens >= backend.count_messages(a) - 3


def test_json_schema_constrains_output(backend):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    gen = backend.stream(req("answer in json", max_tokens=40, json_schema=schema, stop=[]))
    text = gen.text()
    import json

    if gen.result.finish_reason == "stop":
        assert json.loads(text)["ok"] in (True, False)
    else:  # random weights may run out of tokens, but what came out still follows the grammar
        assert text.lstrip().startswith("{")


SCHEMAS = [
    {"type": "string", "enum": ["zebra", "apple", "mango"]},
    {"type": "object", "properties": {"zeta": {"type": "string", "maxLength": 8}, "alpha": {"type": "integer"}},
     "required": ["zeta", "alpha"], "additionalProperties": False},
    {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 2},
]


@pytest.mark.parametrize("schema", SCHEMAS, ids=["enum", "object", "array"])
def test_grammar_checked_on_likely_tokens_first_gives_the_full_checks_answer(tiny_settings, schema):
    """Greedy answers are the same as llama-cpp-python's own grammar sampling (whole vocabulary
    every token); the likeliest-first windows are what make it cheap."""
    import json

    from llama_cpp import Llama

    from assistant.backends import grammar_sampling

    spec = tiny_settings.model("tiny")
    answers = []
    for cls in (Llama, grammar_sampling.llama_class()):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(grammar_sampling, "llama_class", lambda cls=cls: cls)
            b = LlamaBackend("tiny", spec.path, spec, n_threads=2, state_cache=0)
            try:
                gen = b.stream(req("answer in json please", max_tokens=24, temperature=0, json_schema=schema, stop=[]))
                answers.append((gen.text(), gen.result.finish_reason))
                if cls is not Llama:
                    assert isinstance(b.llm._sampler, grammar_sampling.CandidateGrammarSampler)
            finally:
                b.close()
    assert answers[0] == answers[1]
    text, reason = answers[1]
    if reason == "stop":  # random weights may run out of tokens before the value is complete
        value = json.loads(text)
        if schema["type"] == "object":
            assert list(value) == ["zeta", "alpha"]  # the schema's order, not sorted
        elif schema["type"] == "string":
            assert value in schema["enum"]


def test_object_fields_come_in_the_schemas_order(backend):
    """The grammar keeps the asked field order (a sorted copy of the schema used to reorder them)."""
    schema = {"type": "object", "properties": {"zeta": {"type": "boolean"}, "alpha": {"type": "boolean"}},
              "required": ["zeta", "alpha"], "additionalProperties": False}
    text = backend.stream(req("answer in json", max_tokens=30, temperature=0, json_schema=schema, stop=[])).text()
    assert text.replace(" ", "").replace("\n", "").startswith('{"zeta":')
