"""route -> skill -> context -> model -> stream -> persist. No Textual imports.

:class:`Pipeline` implements :class:`~assistant.pipeline_api.ChatPipeline` for the TUI,
``assistant ask`` and ``assistant serve``. The user message is stored before anything else
runs, and the reply is stored however the turn ends.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from assistant.backends.base import ChatMessage, Generation, GenerationRequest, GenerationResult
from assistant.backends.manager import ModelManager
from assistant.config import Settings
from assistant.errors import AssistantError, ContextOverflowError
from assistant.events import (
    Progress,
    ReplyFailed,
    ReplyFinished,
    RouteDecided,
    RouteInfo,
    TextDelta,
    TurnEvent,
)
from assistant.pipeline_api import ComponentState, SkillInfo

Confirm = Callable[[str], bool]
ROUTER_WAIT_S = 120.0


def route_info(choice: Any, fallback: str) -> RouteInfo:
    """Turn the router's RouteChoice into the display type (skill=None means fall back)."""
    return RouteInfo(
        skill=choice.skill or fallback,
        score=getattr(choice, "score", None),
        runner_up=getattr(choice, "runner_up", None),
        runner_up_score=getattr(choice, "runner_up_score", None),
        margin=getattr(choice, "margin", None),
        threshold=getattr(choice, "threshold", None),
        reason=getattr(choice, "reason", ""),
        candidates=list(getattr(choice, "candidates", []) or []),
    )


@dataclass
class ModelAccessForTurn:
    """What a skill may do with models during one turn: generate, count, size.

    It fits the messages to the chosen model's window with that model's own tokenizer
    (dropping the oldest turns, keeping the system prompt and the newest message), and keeps
    the last result's measurements for the reply's badge.
    """

    manager: ModelManager
    settings: Settings
    default_model: str | None
    default_adapter: Path | None
    cache_key: str | None
    cancel: threading.Event
    generation: dict[str, Any] = field(default_factory=dict)
    results: list[GenerationResult] = field(default_factory=list)

    def _backend(self, model: str | None, adapter: Path | None):
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
        json_schema: dict | None = None,
        **gen: Any,
    ) -> Generation:
        from assistant.memory.context import fit_messages

        name, backend = self._backend(model, adapter)
        spec = self.settings.model(name)
        params = self.settings.generation.model_dump()
        params.update(spec.generation.model_dump(exclude_unset=True))
        params.update({k: v for k, v in gen.items() if v is not None})
        params.update(self.generation)
        system = messages[0] if messages and messages[0].role == "system" else None
        body = messages[1:] if system else list(messages)
        if not body:
            raise AssistantError("nothing to send to the model", "the skill built an empty prompt")
        # Room for the reply; never more than half the window, so small windows still hold a prompt.
        reserve = min(int(params["max_tokens"]), self.settings.memory.reply_reserve_tokens, backend.n_ctx // 2)
        fitted = fit_messages(system, body[:-1], body[-1], count=backend.count_messages,
                              n_ctx=backend.n_ctx, reserve=reserve)
        request = GenerationRequest(messages=fitted, json_schema=json_schema, cancel=self.cancel,
                                    cache_key=self.cache_key, **params)
        generation = backend.stream(request)
        generation.listeners.append(self.results.append)
        return generation

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


class Pipeline:
    """Routes, answers and stores conversation turns.

    Args:
        settings: the configuration.
        models: the model manager (real or with a fake factory).
        store: the conversation store (assistant.memory.store.Store).
        router: the router service (assistant.router); routes from the skills.
        skills: the skill registry (assistant.skills).
        confirm: asks the user before a side-effecting tool runs; default refuses.
    """

    def __init__(self, settings: Settings, *, models: ModelManager, store: Any, router: Any, skills: Any,
                 confirm: Confirm | None = None) -> None:
        self.settings = settings
        self.models = models
        self.store = store
        self.router = router
        self.registry = skills
        self.confirm: Confirm = confirm or (lambda _prompt: False)
        self.conversation_store = store  # what the TUI's sidebar reads
        self._started = False

    # Lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if not self._started:
            self._started = True
            self.router.start()
            # Replies a crashed run left "streaming" are kept, marked as interrupted.
            self.store.recover_interrupted()

    def close(self) -> None:
        self.models.close()
        close = getattr(self.store, "close", None)
        if close:
            close()

    def components(self) -> list[ComponentState]:
        state, detail = self.router.state
        out = [ComponentState("embedder", state, detail)]
        for m in self.models.states():
            out.append(ComponentState(m.name, {"loading": "loading", "loaded": "ready", "failed": "failed"}[m.state],
                                      m.error or f"{m.footprint_mb} MB"))
        used, budget = self.memory_used_mb()
        out.append(ComponentState("memory", "ready", f"{used} / {budget} MB"))
        return out

    def memory_used_mb(self) -> tuple[int, int]:
        return self.models.used_mb(), self.settings.runtime.memory_budget_mb

    def skills(self) -> list[SkillInfo]:
        return [self.registry.info(s) for s in self.registry.all()]

    # Routing -------------------------------------------------------------------------------
    def _history(self, conversation_id: str) -> list[ChatMessage]:
        out = []
        for m in self.store.messages(conversation_id):
            if m.role in ("user", "assistant") and m.content and m.status != "error":
                out.append(ChatMessage(m.role, m.content))
        return out

    def _previous_skill(self, conversation_id: str | None) -> str | None:
        if conversation_id is None:
            return None
        for m in reversed(self.store.messages(conversation_id)):
            if m.role == "assistant" and m.skill:
                return m.skill
        return None

    def explain(self, conversation_id: str | None, text: str) -> RouteInfo:
        history = self._history(conversation_id) if conversation_id else []
        return self._route(text, history, self._previous_skill(conversation_id))

    def _route(self, text: str, history: list[ChatMessage], previous: str | None) -> RouteInfo:
        self.start()
        choice = self.router.route(text, history, previous, wait=ROUTER_WAIT_S)
        return route_info(choice, self.settings.router.fallback_skill)

    def import_history(self, messages: list[ChatMessage]) -> str:
        """Store a history a client brings (e.g. through `assistant serve`) as a new conversation."""
        conversation_id = self.store.create_conversation()
        for m in messages:
            if m.content:
                self.store.add_message(conversation_id, m.role, m.content)
        return conversation_id

    def save_correction(self, skill: str, text: str) -> None:
        if self.registry.get(skill) is None:
            raise AssistantError(f"unknown skill '{skill}'", "see `assistant skills list`")
        self.router.add_example(skill, text)

    # Turns ---------------------------------------------------------------------------------
    def run_turn(self, conversation_id: str | None, text: str, *, skill: str | None = None,
                 cancel: threading.Event | None = None, attachments: tuple[Path, ...] = (),
                 generation: dict[str, Any] | None = None) -> Iterator[TurnEvent]:
        self.start()
        if conversation_id is None:
            conversation_id = self.store.create_conversation()
        history = self._history(conversation_id)
        previous = self._previous_skill(conversation_id)
        self.store.add_message(conversation_id, "user", text)
        yield from self._answer(conversation_id, text, history, previous, skill, cancel, attachments, generation or {})

    def regenerate(self, conversation_id: str, *, cancel: threading.Event | None = None,
                   skill: str | None = None) -> Iterator[TurnEvent]:
        messages = self.store.messages(conversation_id)
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last_user is None:
            raise AssistantError("this conversation has no message to answer again", "send a message first")
        text = messages[last_user].content
        history = [ChatMessage(m.role, m.content) for m in messages[:last_user]
                   if m.role in ("user", "assistant") and m.content and m.status != "error"]
        previous = next((m.skill for m in reversed(messages[:last_user]) if m.role == "assistant" and m.skill), None)
        yield from self._answer(conversation_id, text, history, previous, skill, cancel, (), {})

    def _pick(self, text: str, history: list[ChatMessage], previous: str | None, forced: str | None) -> tuple[Any, RouteInfo]:
        fallback = self.settings.router.fallback_skill
        if forced:
            chosen = self.registry.get(forced)
            if chosen is None or not chosen.ok:
                known = ", ".join(s.name for s in self.registry.all() if s.ok)
                raise AssistantError(f"skill '{forced}' is not available", f"available skills: {known}")
            return chosen, RouteInfo(skill=forced, forced=True, reason="chosen by the user")
        info = self._route(text, history, previous)
        chosen = self.registry.get(info.skill)
        if chosen is None or not chosen.ok:
            why = "is not installed" if chosen is None else f"failed to load ({chosen.error})"
            chosen = self.registry.get(fallback)
            info = RouteInfo(**{**info.__dict__, "skill": fallback,
                                "reason": f"{info.reason}; skill '{info.skill}' {why}, using {fallback}"})
        return chosen, info

    def _answer(self, conversation_id: str, text: str, history: list[ChatMessage], previous: str | None,
                forced: str | None, cancel: threading.Event | None, attachments: tuple[Path, ...],
                generation: dict[str, Any]) -> Iterator[TurnEvent]:
        cancel = cancel or threading.Event()
        try:
            skill, info = self._pick(text, history, previous, forced)
        except AssistantError as exc:
            yield ReplyFailed(conversation_id, None, exc.message, exc.hint)
            return
        model = skill.model_name(self.settings)
        adapter = skill.adapter_path(self.settings)
        yield RouteDecided(conversation_id, info, model, str(adapter) if adapter else None)
        reply_id = self.store.start_reply(
            conversation_id, skill=skill.name, model=model, adapter=str(adapter) if adapter else None,
            route_score=info.score, runner_up=info.runner_up,
        )
        access = ModelAccessForTurn(self.models, self.settings, model, adapter, conversation_id, cancel, generation)
        ctx = self.registry.context(skill, text=text, history=history, attachments=attachments, models=access,
                                    confirm=self.confirm, cancel=cancel)
        parts: list[str] = []
        started = time.perf_counter()
        first: float | None = None
        try:
            for item in self.registry.run(skill, ctx):
                if isinstance(item, Progress):
                    yield item
                elif item:
                    first = first or time.perf_counter()
                    parts.append(item)
                    yield TextDelta(item)
                if cancel.is_set():
                    break
        except ContextOverflowError as exc:
            yield from self._fail(conversation_id, reply_id, exc, parts, skill.name, access)
            return
        except AssistantError as exc:
            yield from self._fail(conversation_id, reply_id, exc, parts, skill.name, access)
            return
        except Exception as exc:  # a skill bug becomes a chat message, never a traceback
            err = AssistantError(f"skill '{skill.name}' failed: {type(exc).__name__}: {exc}", "try again, or force another skill")
            yield from self._fail(conversation_id, reply_id, err, parts, skill.name, access)
            return
        status = "cancelled" if cancel.is_set() else "complete"
        stats = access.stats()
        # Deterministic skills use no model: time the skill itself.
        if first is not None and stats.get("ttft_ms") is None:
            stats["ttft_ms"] = round((first - started) * 1000, 2)
        stats.setdefault("duration_ms", round((time.perf_counter() - started) * 1000, 2))
        final = "".join(parts)
        self.store.finish_reply(reply_id, final, status, **self._meta(stats))
        self._maybe_title(conversation_id, text)
        yield ReplyFinished(conversation_id, reply_id, final, status, skill.name, stats.get("model", model), stats)

    @staticmethod
    def _meta(stats: dict[str, Any]) -> dict[str, Any]:
        keys = ("prompt_tokens", "completion_tokens", "ttft_ms", "duration_ms")
        return {k: stats[k] for k in keys if stats.get(k) is not None}

    def _fail(self, conversation_id: str, reply_id: str, exc: AssistantError, parts: list[str], skill: str,
              access: ModelAccessForTurn) -> Iterator[TurnEvent]:
        partial = "".join(parts)
        self.store.finish_reply(reply_id, partial, "error", error=exc.message, **self._meta(access.stats()))
        yield ReplyFailed(conversation_id, reply_id, exc.message, exc.hint, partial, skill)

    def _maybe_title(self, conversation_id: str, text: str) -> None:
        conv = self.store.conversation(conversation_id)
        if conv is not None and not conv.title:
            from assistant.memory.titles import title_from_text

            self.store.rename(conversation_id, title_from_text(text))


def build_pipeline(settings: Settings, *, confirm: Confirm | None = None, fake: bool = False) -> Pipeline:
    """Wire the real components (or, with ``fake=True``, the in-package fakes).

    Nothing heavy happens here: the embedder and models load later, in the background or
    on first use.
    """
    from assistant.memory.store import Store
    from assistant.router.service import RouterService
    from assistant.skills.registry import load_skills

    embedder_factory = None
    if fake:
        from assistant.backends.fake import FakeBackend
        from assistant.router.embedders import FakeEmbedder

        models = ModelManager(settings, factory=lambda name, adapter: FakeBackend(name, delay_s=0.01))
        embedder_factory = FakeEmbedder
    else:
        models = ModelManager(settings)
    registry = load_skills(settings)
    store = Store.open(settings.db_path)
    router = RouterService(settings, routes=registry.routes, embedder_factory=embedder_factory)
    return Pipeline(settings, models=models, store=store, router=router, skills=registry, confirm=confirm)
