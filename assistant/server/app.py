"""``assistant serve``'s routes: an OpenAI-compatible API over the chat pipeline (FastAPI).

Endpoints: ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/chat/completions``
(streamed as server-sent events, or not), ``GET /health``. Every reply names its
conversation in the ``conversation_id`` field and the ``X-Assistant-Conversation`` header;
a request may name one the same two ways. Errors are OpenAI-style bodies with our hint.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from assistant.errors import AssistantError
from assistant.events import ReplyFailed, ReplyFinished, RouteDecided, TextDelta, TurnEvent
from assistant.server import openai_api as api
from assistant.server.service import AssistantService, TurnThread

CONVERSATION_HEADER = "X-Assistant-Conversation"
log = logging.getLogger(__name__)
_bearer = HTTPBearer(auto_error=False)


def error_response(exc: AssistantError, status: int, **more: str | None) -> JSONResponse:
    headers = {"x-should-retry": "false"} if status >= 500 else {}  # a retry would store the turn twice
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(api.error_body(exc, **more).model_dump(), status, headers)


def _failed(event: ReplyFailed) -> JSONResponse:
    return error_response(AssistantError(event.error, event.hint), 500, partial=event.partial,
                          conversation_id=event.conversation_id)


def create_app(service: AssistantService) -> FastAPI:
    """The ASGI app for ``service``; run it with uvicorn (see :mod:`assistant.server.runner`)."""
    app = FastAPI(title="assistant serve", docs_url=None, redoc_url=None)

    def require_key(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if not service.authorized(credentials.credentials if credentials else None):
            raise api.ApiError(401, "missing or wrong API key", "send the key as a bearer token (api_key=...)",
                               code="invalid_api_key")

    guarded = [Depends(require_key)]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models", dependencies=guarded)
    def models() -> api.ModelList:
        return api.models_body(service.skills(), service.created)

    @app.get("/v1/models/{model_id:path}", dependencies=guarded)
    def model(model_id: str) -> api.ModelCard:
        api.resolve_model(model_id, service.skills())
        return api.ModelCard(id=model_id, created=service.created)

    @app.post("/v1/chat/completions", dependencies=guarded, response_model=None)
    async def chat_completions(request: Request) -> Response:
        raw = await _read_body(request, service.options.max_body_bytes)
        skills = await run_in_threadpool(service.skills)
        turn = api.parse_chat_request(raw, skills, request.headers.get(CONVERSATION_HEADER))
        if not service.try_enter():
            raise api.ApiError(503, "too many requests are waiting", "try again shortly", type="server_error",
                               code="overloaded")
        thread = TurnThread(service, turn)
        try:
            if turn.stream:
                return await _stream(turn, thread)
            return await _complete(request, thread)
        except BaseException:
            thread.stop()
            raise

    _handle_errors(app)
    return app


async def _read_body(request: Request, limit: int) -> bytes:
    too_big = api.ApiError(413, f"the request is larger than {limit} bytes",
                           "send a shorter conversation, or raise server.max_body_bytes")
    declared = request.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    body = bytearray()
    async for part in request.stream():
        body += part
        if len(body) > limit:
            raise too_big
    return bytes(body)


async def _complete(request: Request, thread: TurnThread) -> Response:
    """A non-streamed reply; a client that hangs up first cancels the turn."""
    route: RouteDecided | None = None
    final: ReplyFinished | ReplyFailed | None = None
    watch = asyncio.ensure_future(_stop_on_disconnect(request, thread))
    try:
        while final is None and (event := await thread.next_event()) is not None:
            if isinstance(event, RouteDecided):
                route = event
            elif isinstance(event, (ReplyFinished, ReplyFailed)):
                final = event
    finally:
        watch.cancel()
    if isinstance(final, ReplyFailed):
        return _failed(final)
    if final is None:
        raise AssistantError("the pipeline ended the turn without a reply", "see the server's log")
    body = api.completion_body(api.completion_id(), route, final)
    return JSONResponse(body.model_dump(), headers={CONVERSATION_HEADER: final.conversation_id or ""})


async def _stop_on_disconnect(request: Request, thread: TurnThread) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
    thread.stop()


async def _stream(turn: api.TurnRequest, thread: TurnThread) -> Response:
    """Server-sent chunks; a failure before the first token is a plain error response."""
    first = await thread.next_event()
    if isinstance(first, ReplyFailed):
        thread.stop()
        return _failed(first)
    route = first if isinstance(first, RouteDecided) else None
    model = f"{api.ROUTED}/{route.route.skill}" if route else turn.model
    conversation = route.conversation_id if route else None
    return EventSourceResponse(_chunks(turn, thread, route, model), headers={CONVERSATION_HEADER: conversation or ""})


async def _chunks(turn: api.TurnRequest, thread: TurnThread, route: RouteDecided | None,
                  model: str) -> AsyncIterator[str]:
    """The stream's ``data`` fields. Leaving early (the client hung up) cancels the turn."""
    cid = api.completion_id()
    try:
        opening = api.chunk_body(cid, model, api.Delta(role="assistant", content=""), assistant=api.routing(route),
                                 conversation_id=route.conversation_id if route else None)
        yield opening.model_dump_json()
        while (event := await thread.next_event()) is not None:
            for data in _event_data(turn, cid, model, event):
                yield data
            if isinstance(event, (ReplyFinished, ReplyFailed)):
                return
    except AssistantError as exc:  # the headers are out: report it in the stream
        yield api.error_body(exc).model_dump_json()
    except Exception as exc:
        log.exception("a streamed reply failed")
        yield api.error_body(AssistantError(f"internal error: {type(exc).__name__}",
                                            "see the server's log")).model_dump_json()
    finally:
        thread.stop()


def _event_data(turn: api.TurnRequest, cid: str, model: str, event: TurnEvent) -> list[str]:
    if isinstance(event, TextDelta):
        return [api.chunk_body(cid, model, api.Delta(content=event.text)).model_dump_json()]
    if isinstance(event, ReplyFinished):
        out = [api.chunk_body(cid, model, api.Delta(), api.finish_reason(event)).model_dump_json()]
        if turn.include_usage:
            usage = api.ChatCompletionChunk(id=cid, model=model, choices=[], usage=api.usage(event))
            out.append(usage.model_dump_json())
        return out + ["[DONE]"]
    if isinstance(event, ReplyFailed):  # the openai client raises APIError on a chunk carrying "error"
        error = api.error_body(AssistantError(event.error, event.hint), partial=event.partial,
                               conversation_id=event.conversation_id)
        return [error.model_dump_json()]
    return []


def _handle_errors(app: FastAPI) -> None:
    """Every error leaves as an OpenAI-style body; nothing leaks a traceback to the client."""

    @app.exception_handler(api.ApiError)
    async def refused(_request: Request, exc: api.ApiError) -> JSONResponse:
        return error_response(exc, exc.status)

    @app.exception_handler(AssistantError)
    async def failed(_request: Request, exc: AssistantError) -> JSONResponse:
        return error_response(exc, 500)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(api.invalid_request(list(exc.errors())), 400)

    @app.exception_handler(HTTPException)
    async def no_route(request: Request, exc: HTTPException) -> JSONResponse:
        hint = "see /v1/models and /v1/chat/completions" if exc.status_code in (404, 405) else ""
        message = f"no route {request.method} {request.url.path}" if exc.status_code in (404, 405) else str(exc.detail)
        return error_response(api.ApiError(exc.status_code, message, hint), exc.status_code)

    @app.exception_handler(Exception)  # Starlette re-raises it afterwards, so the server logs the traceback
    async def bug(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(AssistantError(f"internal error: {type(exc).__name__}", "see the server's log"), 500)
