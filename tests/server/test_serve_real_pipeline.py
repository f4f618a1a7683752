"""`assistant serve` in front of the pipeline exactly as ``build_pipeline(fake=True)`` wires it
(real store, router and skills; fake models and embedder), and a real third-party client."""

from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys

import pytest


@pytest.fixture
def real_pipeline(shared_router_cache):
    from assistant.config import load_settings
    from assistant.pipeline import build_pipeline

    p = build_pipeline(load_settings(), fake=True)  # routes from the session's router cache
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


@pytest.fixture
def llm(tmp_path, real_pipeline, serve_pipeline):
    """Runs the ``llm`` CLI (simonw/llm) against ``assistant serve``, configured as its docs say
    for an OpenAI-compatible server: an extra-openai-models.yaml in its user dir."""
    served = serve_pipeline(real_pipeline)
    user_dir = tmp_path / "llm"
    user_dir.mkdir()
    (user_dir / "extra-openai-models.yaml").write_text(
        f"- model_id: assistant-chat\n  model_name: assistant/chat\n  api_base: {served.url}\n"
        f"- model_id: assistant\n  model_name: assistant\n  api_base: {served.url}\n")
    env = {**os.environ, "LLM_USER_PATH": str(user_dir), "OPENAI_API_KEY": ""}
    executable = shutil.which("llm", path=os.path.dirname(sys.executable)) or shutil.which("llm")
    assert executable, "the llm CLI is missing: pip install -e '.[test]'"

    def run(*args: str) -> str:
        done = subprocess.run([executable, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


def test_the_llm_cli_streams_completes_and_continues_a_conversation(llm, real_pipeline):
    assert llm("-m", "assistant-chat", "hello from llm") == "You said: hello from llm\n"  # streamed
    assert llm("-m", "assistant-chat", "--no-stream", "a second question") == "You said: a second question\n"
    assert llm("-c", "and a follow-up") == "You said: and a follow-up\n"  # llm resends the conversation
    assert llm("-m", "assistant", "what is 17 * 23").strip() == "17 × 23 = 391"  # routed to the calculator

    logged = json.loads(llm("logs", "-n", "4", "--json"))  # what llm parsed from our replies, oldest first
    assert [r["response"].strip() for r in logged] == [
        "You said: hello from llm", "You said: a second question", "You said: and a follow-up", "17 × 23 = 391"]
    assert all(r["input_tokens"] and r["output_tokens"] for r in logged[:3])  # usage, streamed or not
    assert [r["response_json"]["object"] for r in logged] == [
        "chat.completion.chunk", "chat.completion", "chat.completion.chunk", "chat.completion.chunk"]
    cid = logged[1]["response_json"]["conversation_id"]  # llm keeps our extra fields of a whole reply
    assert [m.content for m in real_pipeline.store.messages(cid)] == [
        "a second question", "You said: a second question", "and a follow-up", "You said: and a follow-up"]
    assert len(real_pipeline.store.list_conversations()) == 3  # the follow-up continued the stored conversation
