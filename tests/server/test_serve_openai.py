"""`assistant serve` with the official openai client as a real peer (real pipeline, fake models)."""

from __future__ import annotations

import http.client
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from openai import OpenAI

from assistant.backends.fake import FakeBackend
from assistant.errors import ModelError
from tests.server.conftest import FakeModels, passing_through

CHAT_MODEL = "qwen2.5-coder-0.5b"  # the default model: chat and code run on it


def contents(pipeline, cid: str) -> list[str]:
    return [m.content for m in pipeline.store.messages(cid)]


def test_models_lists_routing_and_every_skill(client, pipeline):
    ids = [m.id for m in client.models.list()]
    assert ids == ["assistant"] + [f"assistant/{s.name}" for s in pipeline.skills() if s.status == "ok"]
    assert {"assistant/chat", "assistant/code", "assistant/calculator"} <= set(ids)
    assert client.models.retrieve("assistant/code").id == "assistant/code"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_non_streamed_completion_is_routed_and_stored(client, pipeline):
    reply = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "hi, how are you"}])
    assert reply.choices[0].message.content == "You said: hi, how are you"
    assert reply.choices[0].finish_reason == "stop" and reply.model == "assistant/chat"
    assert reply.usage.completion_tokens == 6 and reply.usage.total_tokens > 4
    extra = reply.model_extra
    assert extra["assistant"]["skill"] == "chat" and extra["assistant"]["forced"] is False
    assert extra["assistant"]["status"] == "complete"
    stored = pipeline.store.messages(extra["conversation_id"])
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "hi, how are you", "complete"), ("assistant", "You said: hi, how are you", "complete")]


def test_streamed_completion(client, pipeline):
    stream = client.chat.completions.create(
        model="assistant", messages=[{"role": "system", "content": "be brief"},
                                     {"role": "user", "content": "write code please"}],
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: write code please"
    assert chunks[0].model == "assistant/code"  # the fake embedder routes it to the code skill
    assert chunks[0].model_extra["assistant"]["skill"] == "code"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    assert chunks[-1].usage.completion_tokens == 5
    cid = chunks[0].model_extra["conversation_id"]
    assert contents(pipeline, cid) == ["write code please", text]


def test_model_name_pins_a_skill(client):
    reply = client.chat.completions.create(model="assistant/code", messages=[{"role": "user", "content": "hi"}])
    assert reply.model == "assistant/code"
    assert reply.model_extra["assistant"]["forced"] is True and reply.model_extra["assistant"]["model"] == CHAT_MODEL
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="assistant/nope", messages=[{"role": "user", "content": "hi"}])
    assert "assistant/chat" in str(err.value)


def test_generation_parameters_reach_the_model(client, models):
    reply = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "one two three"}],
                                           max_tokens=2, temperature=0.7, seed=5, stop=["zzz"])
    assert reply.choices[0].message.content == "You said:" and reply.choices[0].finish_reason == "length"
    sent = models.backends[CHAT_MODEL].requests[-1]
    assert (sent.max_tokens, sent.temperature, sent.seed, list(sent.stop)) == (2, 0.7, 5, ["zzz"])


def test_resent_history_continues_the_same_conversation(client, pipeline, models):
    first = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "first"}])
    cid = first.model_extra["conversation_id"]
    history = [{"role": "user", "content": "first"}, {"role": "assistant", "content": first.choices[0].message.content},
               {"role": "user", "content": "second"}]
    second = client.chat.completions.create(model="assistant/chat", messages=history)
    assert second.model_extra["conversation_id"] == cid
    assert contents(pipeline, cid) == ["first", "You said: first", "second", "You said: second"]
    # the model saw the whole conversation
    seen = [m.content for m in models.backends[CHAT_MODEL].requests[-1].messages if m.role != "system"]
    assert seen == ["first", "You said: first", "second"]


def test_unknown_history_is_imported_and_explicit_ids_are_honoured(client, pipeline, post, served):
    history = [{"role": "user", "content": "from elsewhere"}, {"role": "assistant", "content": "old answer"},
               {"role": "user", "content": "next"}]
    reply = client.chat.completions.create(model="assistant/chat", messages=history)
    cid = reply.model_extra["conversation_id"]
    assert contents(pipeline, cid) == ["from elsewhere", "old answer", "next", "You said: next"]
    again = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "more"}],
                                           extra_body={"conversation_id": cid})
    assert again.model_extra["conversation_id"] == cid and len(contents(pipeline, cid)) == 6
    status, body = post(served.url + "/chat/completions", {"model": "assistant/chat", "messages": [
        {"role": "user", "content": "by header"}]}, {"X-Assistant-Conversation": cid})
    assert status == 200 and body["conversation_id"] == cid and contents(pipeline, cid)[-2:] == [
        "by header", "You said: by header"]


def test_concurrent_requests_are_all_answered_without_interleaving(make_pipeline, serve_pipeline):
    pipeline = make_pipeline(FakeModels(delay_s=0.002))
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=60)
    texts = [f"message number {i} words" for i in range(10)]

    def ask(i: int) -> tuple[str, str]:
        messages = [{"role": "user", "content": texts[i]}]
        model = "assistant/code" if i % 3 == 0 else "assistant/chat"  # two skills, one model
        if i % 2:
            parts = client.chat.completions.create(model=model, messages=messages, stream=True)
            return texts[i], "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
        return texts[i], client.chat.completions.create(model=model, messages=messages).choices[0].message.content

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(ask, range(10)))
    assert all(answer == f"You said: {text}" for text, answer in answers)
    conversations = pipeline.store.list_conversations()
    assert len(conversations) == 10
    assert all([m.status for m in pipeline.store.messages(c.id)] == ["complete", "complete"] for c in conversations)
    assert served.server.service.queues.depth(f"model:{CHAT_MODEL}") == 0


def test_concurrent_turns_on_one_conversation_queue_in_order(make_pipeline, serve_pipeline):
    pipeline = make_pipeline(FakeModels(delay_s=0.002))
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=60)
    start = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "start"}])
    cid = start.model_extra["conversation_id"]

    def ask(i: int) -> str:
        return client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": f"turn {i}"}],
                                              extra_body={"conversation_id": cid}).choices[0].message.content

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sorted(pool.map(ask, range(6))) == sorted(f"You said: turn {i}" for i in range(6))
    stored = pipeline.store.messages(cid)
    assert [m.role for m in stored] == ["user", "assistant"] * 7  # every question directly followed by its answer
    assert all(stored[k + 1].content == f"You said: {stored[k].content}" for k in range(0, 14, 2))


class Dying(FakeBackend):
    """Streams two pieces of its reply, then fails like a model server that went away."""

    def stream(self, request):
        def pieces(inner):
            for n, piece in enumerate(inner):
                if n == 2:
                    inner.close()
                    raise ModelError("the connection to the model server broke", "check the server")
                yield piece

        return passing_through(super().stream(request), pieces)


def failing_pipeline(make_pipeline):
    return make_pipeline(FakeModels(lambda name: Dying(name, script=lambda _r: "partial words then the server dies")))


def test_a_failed_reply_is_an_error_and_is_not_retried(make_pipeline, serve_pipeline):
    pipeline = failing_pipeline(make_pipeline)
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=2, timeout=30)
    with pytest.raises(openai.InternalServerError) as err:
        client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "hi"}])
    body = err.value.body
    assert "connection to the model server broke" in body["message"] and body["partial"] == "partial words"
    assert body["hint"] == "check the server" and body["code"] == "reply_failed"
    assert len(pipeline.store.list_conversations()) == 1  # x-should-retry: false stopped the client retrying
    stored = pipeline.store.messages(body["conversation_id"])[-1]
    assert stored.status == "error" and stored.content == "partial words"


def test_a_failure_mid_stream_reaches_the_client_after_the_partial_text(make_pipeline, serve_pipeline):
    pipeline = failing_pipeline(make_pipeline)
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=30)
    got = []
    with pytest.raises(openai.APIError, match="connection to the model server broke"):
        for c in client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "hi"}],
                                                stream=True):
            got.append(c.choices[0].delta.content or "")
    assert "".join(got) == "partial words"
    stored = pipeline.store.messages(pipeline.store.list_conversations()[0].id)[-1]
    assert stored.status == "error" and stored.content == "partial words"


def slow_pipeline(make_pipeline):
    return make_pipeline(FakeModels(lambda name: FakeBackend(name, script=lambda _r: "word " * 400, delay_s=0.005)))


def test_client_leaving_mid_stream_cancels_and_stores_the_reply(make_pipeline, serve_pipeline, until):
    pipeline = slow_pipeline(make_pipeline)
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=30)
    stream = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "go"}], stream=True)
    for n, _chunk in enumerate(stream):
        if n == 3:
            break
    stream.close()
    cid = pipeline.store.list_conversations()[0].id
    assert until(lambda: pipeline.store.messages(cid)[-1].status != "streaming")
    reply = pipeline.store.messages(cid)[-1]
    assert reply.status == "cancelled" and 0 < len(reply.content) < len("word " * 400)
    assert until(lambda: served.server.service.running == 0 and served.server.service.pending == 0)


def test_client_giving_up_on_a_completion_cancels_and_stores_the_reply(make_pipeline, serve_pipeline, until):
    pipeline = slow_pipeline(make_pipeline)
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=0.5)
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "go"}])
    cid = pipeline.store.list_conversations()[0].id
    assert until(lambda: pipeline.store.messages(cid)[-1].status != "streaming")
    reply = pipeline.store.messages(cid)[-1]
    assert reply.status == "cancelled" and 0 < len(reply.content) < len("word " * 400)
    assert until(lambda: served.server.service.running == 0)


@pytest.mark.parametrize("body, status, fragment", [
    ({"model": "assistant", "messages": []}, 400, "messages: List should have at least 1 item"),
    ({"model": "assistant", "messages": [{"role": "assistant", "content": "hi"}]}, 400, "last message"),
    ({"model": "assistant", "messages": [{"role": "user", "content": " "}]}, 400, "non-empty user message"),
    ({"model": "assistant", "messages": [{"role": "tool", "content": "x"}]}, 400, "messages[0].role: Input should be"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, 400,
     "tools: not supported"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "n": 3}, 400, "n: Input should be 1"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, 400,
     "temperature: Input should be a valid number"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, 400, "max_tokens"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}, 400, "stream"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "stop": [""]}, 400, "stop[0]"),
    ({"model": "assistant", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400,
     "messages[0].content: only text content parts"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}},
     400, "response_format.type"),
    ({"model": "other", "messages": [{"role": "user", "content": "x"}]}, 404, "does not exist"),
    ({"messages": [{"role": "user", "content": "x"}]}, 400, "model: Field required"),
    ([1, 2], 400, "must be a JSON object"),
    (b"{not json", 400, "not valid JSON"),
])
def test_bad_requests_get_clear_errors_and_the_server_keeps_working(served, client, post, body, status, fragment):
    code, reply = post(served.url + "/chat/completions", body)
    assert code == status and fragment in reply["error"]["message"], reply
    assert reply["error"]["type"] == "invalid_request_error"
    assert client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "ok?"}]) \
        .choices[0].message.content == "You said: ok?"


def test_text_parts_unknown_fields_and_other_routes(served, client, post):
    status, reply = post(served.url + "/chat/completions", {
        "model": "assistant/chat", "user": "someone", "frequency_penalty": 0,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "two "}, {"type": "text", "text": "parts"}]}]})
    assert status == 200 and reply["choices"][0]["message"]["content"] == "You said: two parts"
    status, reply = post(served.url + "/nowhere", {})
    assert status == 404 and "no route POST /v1/nowhere" in reply["error"]["message"]
    conn = http.client.HTTPConnection(*served.server.address, timeout=5)
    conn.request("GET", "/v1/chat/completions")
    assert conn.getresponse().status == 405


def test_api_key_is_required_when_set(serve_pipeline, pipeline, post):
    served = serve_pipeline(pipeline, api_key="k-123")
    with pytest.raises(openai.AuthenticationError) as err:
        OpenAI(base_url=served.url, api_key="wrong", max_retries=0).models.list()
    assert err.value.body["code"] == "invalid_api_key"
    status, reply = post(served.url + "/chat/completions", {"model": "assistant/chat", "messages": [
        {"role": "user", "content": "no key"}]})
    assert status == 401 and "API key" in reply["error"]["message"]
    assert pipeline.store.list_conversations() == []  # refused before anything ran
    good = OpenAI(base_url=served.url, api_key="k-123", max_retries=0)
    assert good.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "hi"}]).choices
    conn = http.client.HTTPConnection(*served.server.address, timeout=5)
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200  # liveness needs no key


def test_a_body_over_the_limit_is_refused(serve_pipeline, pipeline, post):
    served = serve_pipeline(pipeline, max_body_bytes=2048)
    status, reply = post(served.url + "/chat/completions", {"model": "assistant/chat", "messages": [
        {"role": "user", "content": "x" * 4096}]})
    assert status == 413 and "larger than 2048 bytes" in reply["error"]["message"]


def test_too_many_pending_requests_get_503(make_pipeline, serve_pipeline):
    gate = threading.Event()
    pipeline = make_pipeline(FakeModels(lambda name: FakeBackend(name, script=lambda r: gate.wait(10) and "done")))
    served = serve_pipeline(pipeline, max_pending=1)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=30)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(client.chat.completions.create, model="assistant/chat",
                            messages=[{"role": "user", "content": "slow"}])
        deadline = time.monotonic() + 5
        while not served.server.service.pending and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "more"}])
        assert err.value.status_code == 503
        gate.set()
        assert first.result().choices[0].message.content == "done"


@pytest.mark.parametrize("stream", [False, True])
def test_an_unknown_conversation_id_is_a_clear_error(served, post, pipeline, stream):
    status, reply = post(served.url + "/chat/completions", {"model": "assistant/chat", "stream": stream,
                                                            "conversation_id": "nope",
                                                            "messages": [{"role": "user", "content": "hi"}]})
    assert status == 500 and reply["error"]["message"] == "no conversation 'nope'"
    assert "assistant history list" in reply["error"]["hint"] and pipeline.store.list_conversations() == []
