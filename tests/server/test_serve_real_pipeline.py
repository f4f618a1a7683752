"""`assistant serve` in front of the pipeline exactly as ``build_pipeline(fake=True)`` wires it
(real store, router and skills; fake models and embedder)."""

from __future__ import annotations

import concurrent.futures
import shutil

import pytest


@pytest.fixture
def real_pipeline(router_cache):
    from assistant.config import load_settings
    from assistant.pipeline import build_pipeline

    settings = load_settings()
    shutil.copytree(router_cache, settings.cache_dir / "router", dirs_exist_ok=True)  # routing at once
    p = build_pipeline(settings, fake=True)
    yield p
    p.close()


@pytest.fixture
def client(real_pipeline, serve_pipeline):
    from openai import OpenAI

    served = serve_pipeline(real_pipeline)
    return OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=60)


def test_routes_stores_and_pins_with_the_real_pipeline(client, real_pipeline):
    ids = [m.id for m in client.models.list()]
    assert "assistant" in ids and "assistant/calculator" in ids and "assistant/code" in ids
    # a calculator routing example, so the fake embedder routes it for sure
    reply = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "what is 17 * 23"}])
    assert reply.choices[0].message.content.strip() == "17 × 23 = 391"
    assert reply.model == "assistant/calculator"
    cid = reply.model_extra["conversation_id"]
    assert [m.role for m in real_pipeline.store.messages(cid)] == ["user", "assistant"]
    pinned = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "what is 6 * 7"}])
    assert pinned.model == "assistant/chat" and "You said" in pinned.choices[0].message.content


def test_concurrent_requests_none_lost(client, real_pipeline):
    texts = [f"hello number {i}" for i in range(6)]

    def ask(text):
        r = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": text}])
        return text, r.choices[0].message.content, r.model_extra["conversation_id"]

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(ask, texts))
    for text, content, cid in results:
        assert content == f"You said: {text}"
        stored = real_pipeline.store.messages(cid)
        assert [m.content for m in stored] == [text, content]
