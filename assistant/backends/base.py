"""The inference seam: every model, local or remote, is a :class:`Backend`.

A backend streams text for a chat request and reports exact token counts with the model's
own tokenizer. One generation runs at a time per backend; a second caller waits.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]
FinishReason = Literal["stop", "length", "cancelled", "error"]


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation as a model sees it."""

    role: Role
    content: str

    def as_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass
class GenerationRequest:
    """What to generate, and how.

    ``json_schema``, when set, constrains the output with a grammar derived from it.
    ``cancel`` is checked between tokens; setting it stops the stream within one token.
    ``cache_key`` names the conversation so a backend can keep and restore its KV state.
    """

    messages: list[ChatMessage]
    max_tokens: int = 512
    temperature: float = 0.2
    top_p: float = 0.95
    top_k: int = 40
    repeat_penalty: float = 1.1
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    json_schema: dict[str, Any] | None = None
    cancel: threading.Event | None = None
    cache_key: str | None = None

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


@dataclass
class GenerationResult:
    """The outcome of one generation, with its measurements."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    finish_reason: FinishReason = "stop"
    cached_tokens: int = 0

    @property
    def tokens_per_s(self) -> float | None:
        """Decode rate after the first token."""
        if self.ttft_ms is None or self.completion_tokens < 2:
            return None
        decode_s = (self.duration_ms - self.ttft_ms) / 1000
        return (self.completion_tokens - 1) / decode_s if decode_s > 0 else None


class Generation:
    """An iterator of text pieces; ``result`` is set once it is exhausted or closed.

    Wraps a backend's generator so callers get text as it comes and the measurements after.
    """

    def __init__(self, pieces: Iterator[str], finish: Callable[[str, FinishReason], GenerationResult]) -> None:
        self._pieces = pieces
        self._finish = finish
        self._text: list[str] = []
        self.result: GenerationResult | None = None
        # Called once with the result when the stream ends (e.g. to collect measurements).
        self.listeners: list[Callable[[GenerationResult], None]] = []

    def __iter__(self) -> Iterator[str]:
        reason: FinishReason = "stop"
        try:
            for piece in self._pieces:
                self._text.append(piece)
                yield piece
        except GeneratorExit:
            reason = "cancelled"
            raise
        finally:
            if self.result is None:
                self.result = self._finish("".join(self._text), reason)
                for listener in self.listeners:
                    listener(self.result)

    def text(self) -> str:
        """Drain the stream and return the whole text."""
        for _ in self:
            pass
        assert self.result is not None
        return self.result.text


@runtime_checkable
class Backend(Protocol):
    """A loaded model that can stream chat completions."""

    name: str
    n_ctx: int

    def count_tokens(self, text: str) -> int:
        """Exact number of tokens ``text`` takes with this model's tokenizer."""

    def count_messages(self, messages: list[ChatMessage]) -> int:
        """Tokens the rendered chat prompt for ``messages`` takes, generation prompt included."""

    def stream(self, request: GenerationRequest) -> Generation:
        """Stream the reply to ``request``; blocks while another generation runs."""

    def close(self) -> None:
        """Release the model's memory."""


class Stopwatch:
    """Measures time to first piece and total duration of a stream."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None

    def mark(self) -> None:
        if self.first is None:
            self.first = time.perf_counter()

    @property
    def ttft_ms(self) -> float | None:
        return None if self.first is None else (self.first - self.start) * 1000

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.start) * 1000


def hold_back(text: str, stops: list[str]) -> tuple[str, str, bool]:
    """Split streamed ``text`` into what is safe to emit and what might begin a stop string.

    Returns ``(emit, keep, stopped)``; when a stop string is found, ``emit`` ends before it
    and ``stopped`` is true.
    """
    if not stops:
        return text, "", False
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    if cut >= 0:
        return text[:cut], "", True
    keep = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), 0, -1):
            if text.endswith(s[:n]):
                keep = max(keep, n)
                break
    return (text[: len(text) - keep], text[len(text) - keep :], False) if keep else (text, "", False)
