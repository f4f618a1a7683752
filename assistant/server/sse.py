"""Server-sent events, both ways: reading a chat-completions stream (the HTTP backend) and
writing one (``assistant serve``)."""

from __future__ import annotations

import json
from typing import Any, BinaryIO, Iterator

from assistant.errors import ModelError

MAX_LINE = 1 << 20  # one SSE line; anything longer is not a chat-completions stream


def encode_event(data: Any) -> bytes:
    """One ``data:`` event; ``data`` is JSON-encoded unless it is already a string."""
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


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


def sse_data(resp: BinaryIO) -> Iterator[str]:
    """The ``data`` of each server-sent event (multi-line data joined with newlines)."""
    lines: list[str] = []
    while True:
        raw = resp.readline(MAX_LINE + 1)
        if not raw:
            if lines:
                yield "\n".join(lines)
            return
        if len(raw) > MAX_LINE:
            raise ModelError("the model server sent a line longer than 1 MB", "this is not a chat-completions stream")
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if lines:
                yield "\n".join(lines)
                lines = []
            continue
        if line.startswith(":"):  # a comment / keep-alive ping
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            lines.append(value)
        elif field == "error":  # llama-server reports some failures this way
            raise ModelError(f"the model server failed: {error_message(value) or value[:200]}",
                             "check the model server's log")
