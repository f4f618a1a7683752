"""A deterministic in-package backend for tests and skill authors (no model needed).

It "tokenizes" on words and punctuation, streams one token at a time, honours max_tokens,
stop strings and cancellation exactly like the real backend, and serializes generations.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Callable, Iterator

from assistant.backends.base import (
    ChatMessage,
    FinishReason,
    Generation,
    GenerationRequest,
    GenerationResult,
    Stopwatch,
    hold_back,
)

Script = Callable[[GenerationRequest], str]
_TOKEN = re.compile(r"\s*\S+|\s+")


def echo_script(request: GenerationRequest) -> str:
    """The default script: repeat the newest user message."""
    last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    return f"You said: {last}"


class FakeBackend:
    """A backend whose replies come from a script.

    Args:
        name: the model name it reports.
        script: a function from request to the full reply, or a list of replies used in turn.
        n_ctx: the context window it pretends to have.
        delay_s: pause before each token (to test streaming and cancellation).
    """

    def __init__(
        self,
        name: str = "fake",
        script: Script | list[str] | None = None,
        n_ctx: int = 2048,
        delay_s: float = 0.0,
    ) -> None:
        self.name = name
        self.n_ctx = n_ctx
        self.delay_s = delay_s
        self._replies = list(script) if isinstance(script, list) else None
        self._script = script if callable(script) else echo_script
        self._lock = threading.Lock()
        self.requests: list[GenerationRequest] = []
        self.closed = False

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return _TOKEN.findall(text)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenize(text))

    def count_messages(self, messages: list[ChatMessage]) -> int:
        # Four tokens of template overhead per message, plus the generation prompt.
        return sum(self.count_tokens(m.content) + 4 for m in messages) + 2

    def _reply(self, request: GenerationRequest) -> str:
        if self._replies is not None:
            return self._replies.pop(0) if self._replies else ""
        return self._script(request)

    def stream(self, request: GenerationRequest) -> Generation:
        prompt_tokens = self.count_messages(request.messages)
        if prompt_tokens + 1 > self.n_ctx:
            from assistant.errors import ContextOverflowError

            raise ContextOverflowError(
                f"the prompt takes {prompt_tokens} tokens but {self.name} holds {self.n_ctx}",
                "shorten the message or start a new conversation",
            )
        watch = Stopwatch()
        counted = {"n": 0}

        def pieces() -> Iterator[str]:
            with self._lock:
                self.requests.append(request)
                pending = ""
                for token in self.tokenize(self._reply(request))[: request.max_tokens]:
                    if request.cancelled:
                        return
                    if self.delay_s:
                        time.sleep(self.delay_s)
                    counted["n"] += 1
                    watch.mark()
                    emit, pending, stopped = hold_back(pending + token, request.stop)
                    if emit:
                        yield emit
                    if stopped:
                        return
                if pending:
                    yield pending

        def finish(text: str, reason: FinishReason) -> GenerationResult:
            if request.cancelled:
                reason = "cancelled"
            elif reason == "stop" and counted["n"] >= request.max_tokens:
                reason = "length"
            return GenerationResult(
                text=text,
                model=self.name,
                prompt_tokens=prompt_tokens,
                completion_tokens=counted["n"],
                ttft_ms=watch.ttft_ms,
                duration_ms=watch.elapsed_ms,
                finish_reason=reason,
            )

        return Generation(pieces(), finish)

    def close(self) -> None:
        self.closed = True
