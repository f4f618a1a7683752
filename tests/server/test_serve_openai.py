"""`assistant serve` with the official openai client as a real peer (fake pipeline)."""

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
from assistant.server.fake import FakeChatPipeline


def test_models_lists_routing_and_every_skill(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["assistant", "assistant/chat", "assistant/code"]
    assert client.models.retrieve("assistant/code").id == "assistant/code"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_non_streamed_completion_is_routed_and_stored(client, fake_pipeline):
    reply = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "hello there"}])
    assert reply.choices[0].message.content == "You said: hello there"
    assert reply.choices[0].finish_reason == "stop" and reply.model == "assistant/chat"
    assert reply.usage.completion_tokens == 4 and reply.usage.total_tokens > 4
    extra = reply.model_extra
    assert extra["assistant"]["skill"] == "chat" and extra["assistant"]["forced"] is False
    stored = fake_pipeline.messages(extra["conversation_id"])
    assert [(m.role, m.content, m.status) for m in stored] == [
        ("user", "hello there", "complete"), ("assistant", "You said: hello there", "complete")]


def test_streamed_completion(client):
    stream = client.chat.completions.create(
        model="assistant", messages=[{"role": "system", "content": "be brief"},
                                     {"role": "user", "content": "write code please"}],
        stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "You said: write code please"
    assert chunks[0].model == "assistant/code"  # routed by the keyword "code"
    finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finals == ["stop"]
    assert chunks[-1].usage.completion_tokens == 5


def test_model_name_pins_a_skill(client):
    reply = client.chat.completions.create(model="assistant/code", messages=[{"role": "user", "content": "hi"}])
    assert reply.model == "assistant/code"
    assert reply.model_extra["assistant"]["forced"] is True and reply.model_extra["assistant"]["model"] == "fake-code"
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="assistant/nope", messages=[{"role": "user", "content": "hi"}])
    assert "assistant/chat" in str(err.value)


def test_generation_parameters_reach_the_model(client, fake_pipeline):
    reply = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "one two three"}],
                                           max_tokens=2, temperature=0.7, seed=5, stop=["zzz"])
    assert reply.choices[0].message.content == "You said:" and reply.choices[0].finish_reason == "length"
    sent = fake_pipeline.backends["fake-chat"].requests[-1]
    assert (sent.max_tokens, sent.temperature, sent.seed, sent.stop) == (2, 0.7, 5, ["zzz"])


def test_resent_history_continues_the_same_conversation(client, fake_pipeline):
    first = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "first"}])
    cid = first.model_extra["conversation_id"]
    history = [{"role": "user", "content": "first"}, {"role": "assistant", "content": first.choices[0].message.content},
               {"role": "user", "content": "second"}]
    second = client.chat.completions.create(model="assistant", messages=history)
    assert second.model_extra["conversation_id"] == cid
    assert [m.content for m in fake_pipeline.messages(cid)] == ["first", "You said: first", "second", "You said: second"]
    # the model saw the whole conversation
    assert [m.content for m in fake_pipeline.backends["fake-chat"].requests[-1].messages][:2] == ["first", "You said: first"]


def test_unknown_history_is_imported_and_explicit_ids_are_honoured(client, fake_pipeline):
    history = [{"role": "user", "content": "from elsewhere"}, {"role": "assistant", "content": "old answer"},
               {"role": "user", "content": "next"}]
    reply = client.chat.completions.create(model="assistant", messages=history)
    cid = reply.model_extra["conversation_id"]
    assert [m.content for m in fake_pipeline.messages(cid)] == ["from elsewhere", "old answer", "next", "You said: next"]
    again = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "more"}],
                                           extra_body={"conversation_id": cid})
    assert again.model_extra["conversation_id"] == cid and len(fake_pipeline.messages(cid)) == 6


def test_concurrent_requests_are_all_answered_without_interleaving(serve_pipeline):
    pipeline = FakeChatPipeline(delay_s=0.002)
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=60)
    texts = [f"message number {i} " + ("code" if i % 3 == 0 else "words") for i in range(10)]

    def ask(i: int) -> tuple[str, str]:
        messages = [{"role": "user", "content": texts[i]}]
        if i % 2:
            parts = client.chat.completions.create(model="assistant", messages=messages, stream=True)
            return texts[i], "".join(c.choices[0].delta.content or "" for c in parts if c.choices)
        return texts[i], client.chat.completions.create(model="assistant", messages=messages).choices[0].message.content

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(ask, range(10)))
    assert all(answer == f"You said: {text}" for text, answer in answers)
    assert len(pipeline.conversations) == 10
    assert all([m.status for m in conv] == ["complete", "complete"] for conv in pipeline.conversations.values())
    assert served.server.service.queues.depth("model:fake-chat") == 0


def test_concurrent_turns_on_one_conversation_queue_in_order(serve_pipeline):
    pipeline = FakeChatPipeline(delay_s=0.002)
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=60)
    cid = client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "start"}]).model_extra["conversation_id"]

    def ask(i: int) -> str:
        return client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": f"turn {i}"}],
                                              extra_body={"conversation_id": cid}).choices[0].message.content

    with ThreadPoolExecutor(max_workers=6) as pool:
        assert sorted(pool.map(ask, range(6))) == sorted(f"You said: turn {i}" for i in range(6))
    roles = [m.role for m in pipeline.messages(cid)]
    assert roles == ["user", "assistant"] * 7  # every question directly followed by its answer
    stored = pipeline.messages(cid)
    assert all(stored[k + 1].content == f"You said: {stored[k].content}" for k in range(0, 14, 2))


def failing_pipeline() -> FakeChatPipeline:
    def script(request):
        return "partial words then the server dies"

    class Dying(FakeBackend):
        def stream(self, request):
            generation = super().stream(request)
            inner = generation._pieces

            def pieces():
                for n, piece in enumerate(inner):
                    if n == 2:
                        raise ModelError("the connection to the model server broke", "check the server")
                    yield piece

            generation._pieces = pieces()
            return generation

    return FakeChatPipeline(backends={"fake-chat": Dying("fake-chat", script=script)})


def test_a_failed_reply_is_an_error_and_is_not_retried(serve_pipeline):
    pipeline = failing_pipeline()
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=2, timeout=30)
    with pytest.raises(openai.InternalServerError) as err:
        client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "hi"}])
    body = err.value.body
    assert "connection to the model server broke" in body["message"] and body["partial"] == "partial words"
    assert len(pipeline.conversations) == 1  # x-should-retry: false stopped the client retrying
    stored = pipeline.messages(body["conversation_id"])[-1]
    assert stored.status == "error" and stored.content == "partial words"


def test_a_failure_mid_stream_reaches_the_client_after_the_partial_text(serve_pipeline):
    served = serve_pipeline(failing_pipeline())
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=30)
    got = []
    with pytest.raises(openai.APIError, match="connection to the model server broke"):
        for c in client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "hi"}],
                                                stream=True):
            got.append(c.choices[0].delta.content or "")
    assert "".join(got) == "partial words"


def test_client_leaving_mid_stream_cancels_and_stores_the_reply(serve_pipeline, until):
    pipeline = FakeChatPipeline(backends={"fake-chat": FakeBackend("fake-chat", script=lambda r: "word " * 400,
                                                                   delay_s=0.005)})
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=30)
    stream = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "go"}], stream=True)
    for n, _chunk in enumerate(stream):
        if n == 3:
            break
    stream.close()
    cid = next(iter(pipeline.conversations))
    assert until(lambda: len(pipeline.messages(cid)) == 2)
    reply = pipeline.messages(cid)[-1]
    assert reply.status == "cancelled" and 0 < len(reply.content) < len("word " * 400)
    assert until(lambda: not served.server.service._inflight)


@pytest.mark.parametrize("body, status, fragment", [
    ({"model": "assistant", "messages": []}, 400, "non-empty list"),
    ({"model": "assistant", "messages": [{"role": "assistant", "content": "hi"}]}, 400, "last message"),
    ({"model": "assistant", "messages": [{"role": "tool", "content": "x"}]}, 400, "role 'tool'"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, 400, "tools"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "n": 3}, 400, "n=1"),
    ({"model": "assistant", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, 400, "temperature"),
    ({"model": "assistant", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400, "text content"),
    ({"model": "other", "messages": [{"role": "user", "content": "x"}]}, 404, "does not exist"),
    (b"{not json", 400, "not valid JSON"),
])
def test_bad_requests_get_clear_errors_and_the_server_keeps_working(served, client, post, body, status, fragment):
    code, reply = post(served.url + "/chat/completions", body)
    assert code == status and fragment in reply["error"]["message"]
    assert client.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "ok?"}]) \
        .choices[0].message.content == "You said: ok?"


def test_api_key_is_required_when_set(serve_pipeline, fake_pipeline):
    served = serve_pipeline(fake_pipeline, api_key="k-123")
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=served.url, api_key="wrong", max_retries=0).models.list()
    good = OpenAI(base_url=served.url, api_key="k-123", max_retries=0)
    assert good.chat.completions.create(model="assistant", messages=[{"role": "user", "content": "hi"}]).choices
    conn = http.client.HTTPConnection(served.server.server_address[0], served.server.server_address[1], timeout=5)
    conn.request("GET", "/health")
    assert conn.getresponse().status == 200  # liveness needs no key


def test_too_many_pending_requests_get_503(serve_pipeline):
    gate = threading.Event()
    pipeline = FakeChatPipeline(backends={"fake-chat": FakeBackend("fake-chat", script=lambda r: gate.wait(10) and "done")})
    served = serve_pipeline(pipeline, max_pending=1)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=30)
    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(client.chat.completions.create, model="assistant/chat",
                            messages=[{"role": "user", "content": "slow"}])
        deadline = time.monotonic() + 5
        while served.server.service._slots._value and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "more"}])
        assert err.value.status_code == 503
        gate.set()
        assert first.result().choices[0].message.content == "done"
