"""The one way skills reach models: :class:`ModelAccessForTurn`, used by a chat turn, by
``assistant eval`` and (as :class:`~assistant.skills.context.DirectModelAccess`) by skill tests
and benchmarks, so all of them sample and fit prompts the same way.

Generation settings come in four layers, each overriding the one before: the ``[generation]``
defaults, the model's catalog entry, what the skill asks for, and the user's per-turn overrides.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.backends.base import Backend, ChatMessage, Generation, GenerationRequest, GenerationResult
from assistant.errors import AssistantError, ContextOverflowError

if TYPE_CHECKING:
    from assistant.backends.manager import ModelManager
    from assistant.config import Settings

# What a generation request takes besides the prompt, the schema and the cancel event.
REQUEST_FIELDS = frozenset(f.name for f in dataclasses.fields(GenerationRequest)) - {"messages", "json_schema", "cancel", "cache_key"}


@dataclass
class ModelAccessForTurn:
    """What a skill may do with models during one turn: generate, count, size.

    It fits the messages to the chosen model's window with that model's own tokenizer
    (dropping the oldest turns, keeping the system prompt and the newest message), and keeps
    the last result's measurements for the reply's badge. When the skill sends the
    conversation's history, the rolling ``summary`` stands in for dropped turns, and
    ``dropped`` / ``summary_target`` record how much was left out (for the summary update).
    """

    manager: "ModelManager"
    settings: "Settings"
    default_model: str | None
    default_adapter: Path | None
    cache_key: str | None
    cancel: threading.Event
    generation: dict[str, Any] = field(default_factory=dict)
    results: list[GenerationResult] = field(default_factory=list)
    history: list[ChatMessage] | None = None
    summary: str | None = None
    summary_covers: int = 0
    dropped: int = 0
    summary_target: int = 0

    def _backend(self, model: str | None, adapter: Path | None) -> tuple[str, Backend]:
        name = model or self.default_model or self.settings.default_model
        use_adapter = adapter if adapter is not None else (self.default_adapter if name == self.default_model else None)
        return name, self.manager.get(name, use_adapter)

    def n_ctx(self, model: str | None = None) -> int:
        return self._backend(model, None)[1].n_ctx

    def count_tokens(self, text: str, model: str | None = None) -> int:
        return self._backend(model, None)[1].count_tokens(text)

    def generate(
        self,
        messages: list[ChatMessage],
        *,
        model: str | None = None,
        adapter: Path | None = None,
        json_schema: dict[str, Any] | None = None,
        **gen: Any,
    ) -> Generation:
        from assistant.memory.context import fit_plan

        name, backend = self._backend(model, adapter)
        spec = self.settings.model(name)
        params = self.settings.generation.model_dump()
        params.update(spec.generation.model_dump(exclude_unset=True))
        params.update({k: v for k, v in gen.items() if v is not None})
        params.update(self.generation)
        params = {k: v for k, v in params.items() if k in REQUEST_FIELDS}
        system = messages[0] if messages and messages[0].role == "system" else None
        body = messages[1:] if system else list(messages)
        if not body:
            raise AssistantError("nothing to send to the model", "the skill built an empty prompt")
        # Room for the reply; never more than half the window, so small windows still hold a prompt.
        reserve = min(int(params["max_tokens"]), self.settings.memory.reply_reserve_tokens, backend.n_ctx // 2)
        earlier = body[:-1]
        # The summary stands for conversation turns; a skill's own prompt (a file, a transcript) has none.
        ours = self.history is not None and earlier == self.history
        plan = fit_plan(system, earlier, body[-1], count=backend.count_messages, n_ctx=backend.n_ctx,
                        reserve=reserve, summary=self.summary if ours else None,
                        summary_covers=self.summary_covers if ours else 0)
        if ours and plan.start > 0:
            self._note_dropped(plan.start, system, earlier, body[-1], backend, reserve)
        request = GenerationRequest(messages=plan.messages, json_schema=json_schema, cancel=self.cancel,
                                    cache_key=self.cache_key, **params)
        generation = backend.stream(request)
        generation.listeners.append(self.results.append)
        return generation

    def _note_dropped(self, start: int, system: ChatMessage | None, earlier: list[ChatMessage],
                      newest: ChatMessage, backend: Backend, reserve: int) -> None:
        """Record what this fitting left out, and how far a chunked summary should reach: the
        cut that leaves ``summary_headroom`` of the window free, so the next turns fit
        without moving the cut (a stable prompt prefix for the KV cache)."""
        from assistant.memory.context import fit_plan

        self.dropped = max(self.dropped, start)
        extra = int(self.settings.memory.summary_headroom * max(0, backend.n_ctx - reserve))
        try:
            target = fit_plan(system, earlier, newest, count=backend.count_messages, n_ctx=backend.n_ctx,
                              reserve=reserve + extra).start
        except ContextOverflowError:
            target = start
        self.summary_target = max(self.summary_target, target, start)

    def stats(self) -> dict[str, Any]:
        if not self.results:
            return {}
        last = self.results[-1]
        return {
            "model": last.model,
            "ttft_ms": round(self.results[0].ttft_ms, 1) if self.results[0].ttft_ms is not None else None,
            "prompt_tokens": sum(r.prompt_tokens for r in self.results),
            "completion_tokens": sum(r.completion_tokens for r in self.results),
            "cached_tokens": last.cached_tokens,
            "tokens_per_s": round(last.tokens_per_s, 2) if last.tokens_per_s else None,
            "duration_ms": round(sum(r.duration_ms for r in self.results), 1),
            "finish_reason": last.finish_reason,
        }
