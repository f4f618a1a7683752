"""``assistant serve``: an OpenAI-compatible HTTP API over the chat pipeline (stdlib only).

Endpoints: ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/chat/completions``
(streamed or not), ``GET /health``. Each request runs in its own thread; turns queue first
per conversation, then per model (first come, first served), so none is lost or interleaved.

Conversations: a request continues the stored conversation named by ``conversation_id``
(body field) or the ``X-Assistant-Conversation`` header; without one, a request whose
earlier messages are a conversation this server answered continues it (see
:mod:`assistant.server.history`); otherwise a new conversation starts, holding the request's
earlier messages when the pipeline can import them (``import_history``). Every reply names
its conversation in the ``conversation_id`` field and that header.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import socket
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import unquote

from assistant.backends.base import ChatMessage
from assistant.errors import AssistantError, ConfigError
from assistant.events import ReplyFailed, ReplyFinished, RouteDecided, TextDelta, TurnEvent
from assistant.pipeline_api import ChatPipeline
from assistant.server import openai_api as api
from assistant.server.history import HistoryIndex
from assistant.server.queues import KeyedQueue
from assistant.server.settings import ServerSettings
from assistant.server.sse import encode_event

CONVERSATION_HEADER = "X-Assistant-Conversation"
DRAIN_LIMIT = 100_000  # events drained after a client left (the pipeline stops within a token)


def is_loopback(host: str) -> bool:
    """True when ``host`` only ever means this machine."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%")[0]).is_loopback for i in infos)


def check_bind(host: str, api_key: str | None, key_env: str) -> None:
    """Refuse to listen beyond this machine without an API key.

    Raises:
        ConfigError: ``host`` is not loopback and no key is set.
    """
    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"refusing to listen on {host or 'all interfaces'} without an API key",
            f"set ${key_env} to a secret (clients send it as the API key), or bind to 127.0.0.1",
        )


class AssistantService:
    """What the HTTP handlers call: skills, models, and turns with queueing.

    Args:
        pipeline: the chat pipeline (real, or a fake in tests).
        api_key: clients must send it as a bearer token; None means no check (loopback only).
        options: the [server] settings.
    """

    def __init__(self, pipeline: ChatPipeline, *, api_key: str | None = None,
                 options: ServerSettings | None = None) -> None:
        self.pipeline = pipeline
        self.api_key = api_key
        self.options = options or ServerSettings()
        self.queues = KeyedQueue()
        self.index = HistoryIndex(self.options.remembered_histories)
        self.created = int(time.time())
        self._slots = threading.BoundedSemaphore(self.options.max_pending)
        self._inflight: set[threading.Event] = set()
        self._inflight_lock = threading.Lock()

    def authorized(self, header: str | None) -> bool:
        if not self.api_key:
            return True
        scheme, _, token = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.api_key.encode())

    def skills(self) -> list:
        return list(self.pipeline.skills())

    def try_enter(self) -> bool:
        """Take a request slot; False when ``max_pending`` requests are already in."""
        return self._slots.acquire(blocking=False)

    def leave(self) -> None:
        self._slots.release()

    def cancel_all(self) -> None:
        """Stop every running turn (shutdown); each stores its reply as cancelled."""
        with self._inflight_lock:
            for event in self._inflight:
                event.set()

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no turn runs (after :meth:`cancel_all`); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._inflight_lock:
                if not self._inflight:
                    return True
            time.sleep(0.02)
        return False

    def conversation_for(self, turn: api.TurnRequest) -> str | None:
        """The stored conversation this turn continues (a history the client brings that matches
        none is stored as a new one); None starts a new conversation."""
        if turn.conversation_id:
            return turn.conversation_id
        found = self.index.find(turn.history)
        if found or not turn.history:
            return found
        return self.pipeline.import_history(turn.history)

    def run(self, turn: api.TurnRequest, conversation_id: str | None, cancel: threading.Event) -> Iterator[TurnEvent]:
        """The turn's events, after waiting for the conversation's and the model's turn."""
        with self._inflight_lock:
            self._inflight.add(cancel)
        try:
            with self.queues.hold(f"conversation:{conversation_id}" if conversation_id else None):
                kwargs: dict[str, Any] = {"skill": turn.skill, "cancel": cancel}
                if turn.generation:
                    kwargs["generation"] = turn.generation
                events = self.pipeline.run_turn(conversation_id, turn.text, **kwargs)
                try:
                    yield from self._queued(turn, events)
                finally:
                    events.close()
        finally:
            with self._inflight_lock:
                self._inflight.discard(cancel)

    def _queued(self, turn: api.TurnRequest, events: Iterator[TurnEvent]) -> Iterator[TurnEvent]:
        first = next(events, None)
        if first is None:
            return
        yield first
        if not isinstance(first, RouteDecided):
            yield from events
            return
        # The route is known before any token: wait for this model's turn, then generate.
        key = f"model:{first.model}" if first.model else f"skill:{first.route.skill}"
        with self.queues.hold(key):
            for event in events:
                if isinstance(event, ReplyFinished) and event.status == "complete" and event.conversation_id:
                    replied = turn.history + [ChatMessage("user", turn.text), ChatMessage("assistant", event.text)]
                    self.index.remember(replied, event.conversation_id)
                yield event


class Handler(BaseHTTPRequestHandler):
    """One HTTP connection; the service is on the server object."""

    protocol_version = "HTTP/1.1"
    server_version = "assistant-serve"
    timeout = 300  # an idle keep-alive connection is dropped after this

    @property
    def service(self) -> AssistantService:
        return self.server.service  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if getattr(self.server, "verbose", True):
            sys.stderr.write(f"assistant serve: {self.address_string()} {format % args}\n")

    # Plumbing ------------------------------------------------------------------------------
    def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, exc: AssistantError, status: int | None = None, **more: Any) -> None:
        status = status or getattr(exc, "status", 500)
        headers = {"x-should-retry": "false"} if status >= 500 else {}  # a retry would store the turn twice
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        try:
            self._send_json(status, api.error_body(exc, **more), headers)
        except OSError:  # the client is gone; nothing left to tell it
            self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _guard(self, work: Callable[[], None]) -> None:
        try:
            if not self.service.authorized(self.headers.get("Authorization")):
                raise api.ApiError(401, "missing or wrong API key", "send the key as a bearer token (api_key=...)",
                                   type="invalid_request_error", code="invalid_api_key")
            work()
        except api.ApiError as exc:
            self._send_error(exc)
        except AssistantError as exc:
            self._send_error(exc, 500)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug must not kill the server or leak a traceback to the client
            traceback.print_exc(file=sys.stderr)
            self.close_connection = True
            self._send_error(AssistantError(f"internal error: {type(exc).__name__}", "see the server's log"), 500)

    # Routes --------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/health":
            self._send_json(200, {"status": "ok"})
        elif path == "/v1/models":
            self._guard(lambda: self._send_json(200, api.models_body(self.service.skills(), self.service.created)))
        elif path.startswith("/v1/models/"):
            self._guard(lambda: self._model(unquote(path[len("/v1/models/"):])))
        else:
            self._send_error(api.ApiError(404, f"no route {path}", "see /v1/models and /v1/chat/completions"))

    def _model(self, model_id: str) -> None:
        api.resolve_model(model_id, self.service.skills())
        self._send_json(200, api.model_object(model_id, self.service.created))

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self.close_connection = True
            self._send_error(api.ApiError(404, f"no route {path}", "POST to /v1/chat/completions"))
            return
        self._guard(self._chat)

    def _read_body(self) -> Any:
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            raise api.ApiError(411, "a Content-Length header is required")
        if int(length) > self.service.options.max_body_bytes:
            self.close_connection = True
            raise api.ApiError(413, f"the request is larger than {self.service.options.max_body_bytes} bytes",
                               "send a shorter conversation, or raise server.max_body_bytes")
        raw = self.rfile.read(int(length))
        try:
            return json.loads(raw)
        except ValueError:
            raise api.ApiError(400, "the request body is not valid JSON") from None

    def _chat(self) -> None:
        body = self._read_body()
        turn = api.parse_chat_request(body, self.service.skills(), self.headers.get(CONVERSATION_HEADER))
        if not self.service.try_enter():
            raise api.ApiError(503, "too many requests are waiting", "try again shortly", type="server_error",
                               code="overloaded")
        try:
            conversation = self.service.conversation_for(turn)
            headers: dict[str, str] = {}
            cancel = threading.Event()
            events = self.service.run(turn, conversation, cancel)
            try:
                (self._stream if turn.stream else self._complete)(turn, events, cancel, headers)
            finally:
                events.close()
        finally:
            self.service.leave()

    def _complete(self, turn: api.TurnRequest, events: Iterator[TurnEvent], cancel: threading.Event,
                  headers: dict[str, str]) -> None:
        route = None
        for event in events:
            if isinstance(event, RouteDecided):
                route = event
            elif isinstance(event, ReplyFinished):
                headers[CONVERSATION_HEADER] = event.conversation_id or ""
                self._send_json(200, api.completion_body(api.completion_id(), route, event), headers)
                return
            elif isinstance(event, ReplyFailed):
                self._failed(event)
                return
        raise AssistantError("the pipeline ended the turn without a reply", "see the server's log")

    def _failed(self, event: ReplyFailed) -> None:
        self._send_error(AssistantError(event.error, event.hint), 500, partial=event.partial,
                         conversation_id=event.conversation_id)

    def _stream(self, turn: api.TurnRequest, events: Iterator[TurnEvent], cancel: threading.Event,
                headers: dict[str, str]) -> None:
        first = next(events, None)
        if isinstance(first, ReplyFailed):  # nothing streamed yet: a plain error response
            self._failed(first)
            return
        cid, model = api.completion_id(), turn.model
        route = first if isinstance(first, RouteDecided) else None
        conversation = first.conversation_id if route else None
        if route is not None:
            model = f"{api.ROUTED}/{route.route.skill}"
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header(CONVERSATION_HEADER, conversation or "")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            self._chunk(encode_event(api.chunk_body(cid, model, {"role": "assistant", "content": ""},
                                                    **api.extras(route, None, conversation))))
            try:
                self._stream_events(turn, events, cid, model)
            except AssistantError as exc:  # headers are out: report it in the stream
                self._end_stream(api.error_body(exc))
            except (OSError, GeneratorExit):
                raise
            except Exception as exc:
                traceback.print_exc(file=sys.stderr)
                self._end_stream(api.error_body(AssistantError(f"internal error: {type(exc).__name__}",
                                                               "see the server's log")))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            # The client left: stop the turn; the pipeline stores the reply as cancelled.
            cancel.set()
            self.close_connection = True
            for _n, _event in zip(range(DRAIN_LIMIT), events):
                pass

    def _stream_events(self, turn: api.TurnRequest, events: Iterator[TurnEvent], cid: str, model: str) -> None:
        for event in events:
            if isinstance(event, TextDelta):
                self._chunk(encode_event(api.chunk_body(cid, model, {"content": event.text})))
            elif isinstance(event, ReplyFinished):
                self._chunk(encode_event(api.chunk_body(cid, model, {}, api.finish_reason(event))))
                if turn.include_usage:
                    self._chunk(encode_event({**api.chunk_body(cid, model, {}), "choices": [],
                                              "usage": api.usage(event)}))
                self._chunk(encode_event("[DONE]"))
                break
            elif isinstance(event, ReplyFailed):
                # The openai client raises APIError on a chunk carrying "error".
                self._end_stream(api.error_body(AssistantError(event.error, event.hint), partial=event.partial,
                                                conversation_id=event.conversation_id))
                return
        self._end_stream(None)

    def _end_stream(self, error: dict[str, Any] | None) -> None:
        if error is not None:
            self._chunk(encode_event(error))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class AssistantHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server carrying the service; request threads are daemons."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], service: AssistantService, *, verbose: bool = True) -> None:
        host = address[0]
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.service = service
        self.verbose = verbose

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # a client hung up; not our failure
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/v1"


def make_server(pipeline: ChatPipeline, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None,
                options: ServerSettings | None = None, key_env: str = "ASSISTANT_SERVE_API_KEY",
                verbose: bool = True) -> AssistantHTTPServer:
    """Bind (after the loopback/API-key check); call ``serve_forever()`` on the result.

    Raises:
        ConfigError: non-loopback host without an API key, or the address cannot be bound.
    """
    check_bind(host, api_key, key_env)
    try:
        return AssistantHTTPServer((host, port), AssistantService(pipeline, api_key=api_key, options=options),
                                   verbose=verbose)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                          "pick another --port, or stop the program using it") from None
