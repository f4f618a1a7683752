"""The OpenAI chat-completions wire format as pydantic models: requests in, replies out.

No I/O here. Model names: ``assistant`` routes the message, ``assistant/SKILL`` pins a skill.
The earlier messages of a request are the conversation so far; the server maps them to a
stored conversation (see :mod:`assistant.server.service`). Unknown request fields are
ignored (clients send many); known ones are checked strictly, and features the assistant
does not offer (tools, n > 1, response formats) are refused rather than silently dropped.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Iterable, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from assistant.backends.base import ChatMessage
from assistant.errors import AssistantError
from assistant.events import ReplyFinished, RouteDecided
from assistant.pipeline_api import SkillInfo

ROUTED = "assistant"
_IGNORED_ROLES = ("system", "developer")  # skills bring their own system prompts
_UNSUPPORTED = ("tools", "functions", "tool_choice", "function_call", "audio", "modalities")


class ApiError(AssistantError):
    """A request the server refuses, with its HTTP status and OpenAI error type."""

    def __init__(self, status: int, message: str, hint: str = "", *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None) -> None:
        super().__init__(message, hint)
        self.status, self.type, self.code, self.param = status, type, code, param


# Requests ----------------------------------------------------------------------------------

def _join_text_parts(value: Any) -> Any:
    """Content given as parts is accepted when every part is text."""
    if not isinstance(value, list):
        return value
    if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in value):
        raise ValueError("only text content parts are supported; send the message as a string")
    return "".join(p["text"] for p in value)


def _listed(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


NonEmpty = Annotated[str, Field(min_length=1, pattern=r"\S")]
StrictInt = Annotated[int, Field(strict=True)]
StrictFloat = Annotated[float, Field(strict=True)]


class Message(BaseModel):
    """One message of the conversation a client sends."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[str, Field(strict=True), BeforeValidator(_join_text_parts)]


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class TextFormat(BaseModel):
    type: Literal["text"]


class ChatCompletionRequest(BaseModel):
    """A ``POST /v1/chat/completions`` body."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[Message] = Field(min_length=1)
    stream: bool = Field(default=False, strict=True)
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[StrictInt, Field(ge=1, le=32768)] | None = None
    max_completion_tokens: Annotated[StrictInt, Field(ge=1, le=32768)] | None = None
    temperature: Annotated[StrictFloat, Field(ge=0, le=5)] | None = None
    top_p: Annotated[StrictFloat, Field(gt=0, le=1)] | None = None
    seed: Annotated[StrictInt, Field(ge=-(2**63), le=2**64 - 1)] | None = None
    stop: Annotated[list[NonEmpty], Field(max_length=16), BeforeValidator(_listed)] | None = None
    n: Literal[1] = 1
    response_format: TextFormat | None = None
    conversation_id: NonEmpty | None = None  # the assistant's own field (also a header)
    tools: Any = None
    functions: Any = None
    tool_choice: Any = None
    function_call: Any = None
    audio: Any = None
    modalities: Any = None

    @field_validator(*_UNSUPPORTED)
    @classmethod
    def _refuse(cls, value: Any) -> Any:
        if value:
            raise ValueError("not supported by assistant serve; skills choose their own tools")
        return value

    @model_validator(mode="after")
    def _ends_with_a_question(self) -> ChatCompletionRequest:
        spoken = [m for m in self.messages if m.role not in _IGNORED_ROLES]
        if not spoken or spoken[-1].role != "user" or not spoken[-1].content.strip():
            raise ValueError("the last message must be a non-empty user message")
        return self

    @property
    def text(self) -> str:
        """The new user message."""
        return self.conversation()[-1].content

    @property
    def history(self) -> list[ChatMessage]:
        """The conversation before the new message."""
        return self.conversation()[:-1]

    def conversation(self) -> list[ChatMessage]:
        return [ChatMessage("user" if m.role == "user" else "assistant", m.content)
                for m in self.messages if m.role not in _IGNORED_ROLES]

    def generation(self) -> dict[str, Any]:
        """Sampling overrides for the pipeline (only those the client set)."""
        limit = self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens
        values = {"max_tokens": limit, "temperature": self.temperature, "top_p": self.top_p, "seed": self.seed,
                  "stop": self.stop}
        return {k: v for k, v in values.items() if v is not None}


@dataclass(frozen=True)
class TurnRequest:
    """One chat-completions request, as a turn for the pipeline."""

    model: str
    skill: str | None
    text: str
    history: list[ChatMessage]
    generation: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    include_usage: bool = False
    conversation_id: str | None = None


def parse_chat_request(raw: bytes, skills: Iterable[SkillInfo], header_conversation: str | None = None) -> TurnRequest:
    """Validate a chat-completions request body.

    Raises:
        ApiError: 400 for a malformed or unsupported request, 404 for an unknown model.
    """
    try:
        body = ChatCompletionRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise invalid_request(exc.errors(include_url=False)) from None
    conversation = body.conversation_id or header_conversation
    if conversation is not None and not conversation.strip():
        raise ApiError(400, "the conversation id must be a non-empty string", param="conversation_id")
    return TurnRequest(
        model=body.model, skill=resolve_model(body.model, skills), text=body.text, history=body.history,
        generation=body.generation(), stream=body.stream,
        include_usage=bool(body.stream_options and body.stream_options.include_usage), conversation_id=conversation,
    )


def _param(loc: tuple[Any, ...]) -> str:
    """``("messages", 0, "role")`` as ``messages[0].role``."""
    out = str(loc[0])
    for part in loc[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def invalid_request(errors: list[Any]) -> ApiError:
    """The first validation error as a 400 that names the offending field."""
    first = errors[0]
    kind = first["type"]
    loc = tuple(p for p in first.get("loc", ()) if p != "body")  # FastAPI puts the body first
    if kind == "json_invalid":
        return ApiError(400, "the request body is not valid JSON", "send a JSON object")
    message = str(first["ctx"]["error"]) if kind == "value_error" else first["msg"]
    if not loc:  # the whole body: a check across fields, or not an object at all
        if kind == "value_error":
            return ApiError(400, message, param="messages")
        return ApiError(400, "the request body must be a JSON object", "send a JSON object")
    param = _param(loc)
    hint = "send system, user and assistant messages only (tools are not supported)" if loc[-1] == "role" else ""
    return ApiError(400, f"{param}: {message}", hint, param=param)


def model_ids(skills: Iterable[SkillInfo]) -> list[str]:
    """``assistant`` and ``assistant/SKILL`` for every skill that loaded."""
    return [ROUTED] + [f"{ROUTED}/{s.name}" for s in skills if s.status == "ok"]


def resolve_model(model: str, skills: Iterable[SkillInfo]) -> str | None:
    """The pinned skill of ``model`` (None means route it), or ApiError 404."""
    known = model_ids(skills)
    if model not in known:
        raise ApiError(404, f"the model '{model}' does not exist; use one of: {', '.join(known)}",
                       "'assistant' routes each message, 'assistant/SKILL' pins a skill",
                       code="model_not_found", param="model")
    return None if model == ROUTED else model.split("/", 1)[1]


# Replies -----------------------------------------------------------------------------------

def _none(value: Any) -> bool:
    return value is None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "assistant"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def models_body(skills: Iterable[SkillInfo], created: int) -> ModelList:
    return ModelList(data=[ModelCard(id=m, created=created) for m in model_ids(skills)])


class Routing(BaseModel):
    """What the assistant adds to a standard body: how the message was routed."""

    skill: str
    model: str | None
    score: float | None
    reason: str
    forced: bool
    status: str | None = Field(default=None, exclude_if=_none)


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ReplyMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: ReplyMessage
    finish_reason: Literal["stop", "length"]
    logprobs: None = None


class _Reply(BaseModel):
    """What a whole reply and each chunk of a stream share; the last two fields are ours."""

    id: str
    object: str  # each kind names itself
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    conversation_id: str | None = Field(default=None, exclude_if=_none)
    assistant: Routing | None = Field(default=None, exclude_if=_none)


class ChatCompletion(_Reply):
    """A non-streamed reply."""

    object: Literal["chat.completion"] = "chat.completion"
    choices: list[Choice]
    usage: Usage


class Delta(BaseModel):
    role: Literal["assistant"] | None = Field(default=None, exclude_if=_none)
    content: str | None = Field(default=None, exclude_if=_none)


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None
    logprobs: None = None


class ChatCompletionChunk(_Reply):
    """One event of a streamed reply."""

    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    choices: list[ChunkChoice]
    usage: Usage | None = Field(default=None, exclude_if=_none)


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None
    hint: str
    partial: str | None = Field(default=None, exclude_if=_none)
    conversation_id: str | None = Field(default=None, exclude_if=_none)


class ErrorBody(BaseModel):
    """An OpenAI-style error (our hint rides along)."""

    error: ErrorDetail


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def finish_reason(event: ReplyFinished) -> Literal["stop", "length"]:
    return "length" if event.stats.get("finish_reason") == "length" else "stop"


def usage(event: ReplyFinished) -> Usage:
    prompt = int(event.stats.get("prompt_tokens") or 0)
    completion = int(event.stats.get("completion_tokens") or 0)
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def routing(route: RouteDecided | None, event: ReplyFinished | None = None) -> Routing | None:
    if route is None:
        return None
    r = route.route
    return Routing(skill=route.skill, model=route.model, score=r.score, reason=r.reason, forced=r.forced,
                   status=event.status if event else None)


def completion_body(cid: str, route: RouteDecided | None, event: ReplyFinished) -> ChatCompletion:
    return ChatCompletion(
        id=cid, model=f"{ROUTED}/{event.skill}", usage=usage(event), conversation_id=event.conversation_id,
        choices=[Choice(message=ReplyMessage(content=event.text), finish_reason=finish_reason(event))],
        assistant=routing(route, event),
    )


def chunk_body(cid: str, model: str, delta: Delta, finish: Literal["stop", "length"] | None = None,
               **more: Any) -> ChatCompletionChunk:
    return ChatCompletionChunk(id=cid, model=model, choices=[ChunkChoice(delta=delta, finish_reason=finish)], **more)


def error_body(exc: AssistantError, **more: Any) -> ErrorBody:
    api = exc if isinstance(exc, ApiError) else None
    return ErrorBody(error=ErrorDetail(
        message=exc.message, type=api.type if api else "server_error", param=api.param if api else None,
        code=api.code if api else "reply_failed", hint=exc.hint, **more,
    ))
