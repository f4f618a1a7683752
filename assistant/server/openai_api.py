"""The OpenAI chat-completions wire format: parse a request into a turn, build the replies.

Pure functions, no I/O. Model names: ``assistant`` routes the message, ``assistant/SKILL``
pins a skill. Earlier messages of the request are the conversation so far; the server maps
them to a stored conversation (see :mod:`assistant.server.app`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

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


def model_ids(skills: Iterable[SkillInfo]) -> list[str]:
    """``assistant`` and ``assistant/SKILL`` for every skill that loaded."""
    return [ROUTED] + [f"{ROUTED}/{s.name}" for s in skills if s.status == "ok"]


def models_body(skills: Iterable[SkillInfo], created: int) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(m, created) for m in model_ids(skills)]}


def model_object(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "assistant"}


def resolve_model(model: Any, skills: Iterable[SkillInfo]) -> str | None:
    """The pinned skill of ``model`` (None means route it), or ApiError 404."""
    known = model_ids(skills)
    if not isinstance(model, str) or model not in known:
        raise ApiError(404, f"the model '{model}' does not exist; use one of: {', '.join(known)}",
                       "'assistant' routes each message, 'assistant/SKILL' pins a skill",
                       type="invalid_request_error", code="model_not_found", param="model")
    return None if model == ROUTED else model.split("/", 1)[1]


def _content(message: dict[str, Any], index: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise ApiError(400, f"messages[{index}]: only text content parts are supported",
                               "send the message as a string", param=f"messages[{index}].content")
            parts.append(part["text"])
        return "".join(parts)
    raise ApiError(400, f"messages[{index}].content must be a string", param=f"messages[{index}].content")


def _messages(raw: Any) -> tuple[list[ChatMessage], str]:
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty list", param="messages")
    out: list[ChatMessage] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise ApiError(400, f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = m.get("role")
        if role in _IGNORED_ROLES:
            _content(m, i)
            continue
        if role not in ("user", "assistant"):
            raise ApiError(400, f"messages[{i}]: role '{role}' is not supported",
                           "send system, user and assistant messages only (tools are not supported)",
                           param=f"messages[{i}].role")
        out.append(ChatMessage(role, _content(m, i)))
    if not out or out[-1].role != "user" or not out[-1].content.strip():
        raise ApiError(400, "the last message must be a non-empty user message", param="messages")
    return out[:-1], out[-1].content


def _number(body: dict[str, Any], key: str, kind: type, lo: float, hi: float) -> Any:
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int) or not lo <= value <= hi:
        raise ApiError(400, f"'{key}' must be a {'number' if kind is float else 'integer'} between {lo:g} and {hi:g}",
                       param=key)
    return kind(value)


def _generation(body: dict[str, Any]) -> dict[str, Any]:
    gen: dict[str, Any] = {}
    for key in ("max_completion_tokens", "max_tokens"):
        if body.get(key) is not None:
            gen["max_tokens"] = _number(body, key, int, 1, 32768)
    if body.get("temperature") is not None:
        gen["temperature"] = _number(body, "temperature", float, 0, 5)
    if body.get("top_p") is not None:
        gen["top_p"] = _number(body, "top_p", float, 1e-9, 1)
    if body.get("seed") is not None:
        gen["seed"] = _number(body, "seed", int, -(2**63), 2**64 - 1)
    stop = body.get("stop")
    if stop is not None:
        stops = [stop] if isinstance(stop, str) else stop
        if not isinstance(stops, list) or len(stops) > 16 or not all(isinstance(s, str) and s for s in stops):
            raise ApiError(400, "'stop' must be a string or a list of up to 16 non-empty strings", param="stop")
        gen["stop"] = stops
    return gen


def parse_chat_request(body: Any, skills: Iterable[SkillInfo], header_conversation: str | None = None) -> TurnRequest:
    """Validate a chat-completions request body.

    Raises:
        ApiError: 400 for a malformed or unsupported request, 404 for an unknown model.
    """
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    skill = resolve_model(body.get("model"), skills)
    for key in _UNSUPPORTED:
        if body.get(key):
            raise ApiError(400, f"'{key}' is not supported by assistant serve", "skills choose their own tools",
                           param=key)
    if body.get("n") not in (None, 1):
        raise ApiError(400, "only n=1 is supported", param="n")
    fmt = body.get("response_format")
    if fmt not in (None, {"type": "text"}):
        raise ApiError(400, "response_format is not supported", "skills declare their own output schema",
                       param="response_format")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "'stream' must be true or false", param="stream")
    options = body.get("stream_options") or {}
    conversation = body.get("conversation_id", header_conversation)
    if conversation is not None and (not isinstance(conversation, str) or not conversation.strip()):
        raise ApiError(400, "'conversation_id' must be a non-empty string", param="conversation_id")
    history, text = _messages(body.get("messages"))
    return TurnRequest(
        model=body["model"], skill=skill, text=text, history=history, generation=_generation(body), stream=stream,
        include_usage=bool(isinstance(options, dict) and options.get("include_usage")), conversation_id=conversation,
    )


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def finish_reason(event: ReplyFinished) -> str:
    return "length" if event.stats.get("finish_reason") == "length" else "stop"


def usage(event: ReplyFinished) -> dict[str, int]:
    prompt = int(event.stats.get("prompt_tokens") or 0)
    completion = int(event.stats.get("completion_tokens") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def extras(route: RouteDecided | None, event: ReplyFinished | None, conversation_id: str | None) -> dict[str, Any]:
    """What the assistant adds to a standard body: the conversation and how it was routed."""
    out: dict[str, Any] = {"conversation_id": conversation_id}
    if route is not None:
        r = route.route
        out["assistant"] = {"skill": r.skill, "model": route.model, "score": r.score, "reason": r.reason,
                            "forced": r.forced}
    if event is not None:
        out.setdefault("assistant", {})["status"] = event.status
    return out


def completion_body(cid: str, route: RouteDecided | None, event: ReplyFinished) -> dict[str, Any]:
    """A non-streamed ``chat.completion``."""
    return {
        "id": cid, "object": "chat.completion", "created": int(time.time()),
        "model": f"{ROUTED}/{event.skill}",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": event.text},
                     "finish_reason": finish_reason(event), "logprobs": None}],
        "usage": usage(event),
        **extras(route, event, event.conversation_id),
    }


def chunk_body(cid: str, model: str, delta: dict[str, Any], finish_reason: str | None = None,
               **more: Any) -> dict[str, Any]:
    """One ``chat.completion.chunk`` of a stream."""
    return {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}], **more}


def error_body(exc: AssistantError, **more: Any) -> dict[str, Any]:
    """An OpenAI-style error object (our hint rides along)."""
    api = exc if isinstance(exc, ApiError) else None
    return {"error": {"message": exc.message, "type": api.type if api else "server_error",
                      "param": api.param if api else None, "code": api.code if api else "reply_failed",
                      "hint": exc.hint, **more}}
