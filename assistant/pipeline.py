"""route -> skill -> context -> model -> stream -> persist. No Textual imports.

:class:`Pipeline` implements :class:`~assistant.pipeline_api.ChatPipeline` for the TUI,
``assistant ask`` and ``assistant serve``. The user message is stored before anything else
runs, and the reply is stored however the turn ends.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from assistant.backends.base import ChatMessage, Generation, GenerationRequest, GenerationResult
from assistant.backends.manager import ModelManager
from assistant.config import Settings
from assistant.errors import AssistantError, ContextOverflowError, HandOff, StoreError
from assistant.events import (
    Progress,
    ReplyFailed,
    ReplyFinished,
    RouteDecided,
    RouteInfo,
    TextDelta,
    TurnEvent,
)
from assistant.pipeline_api import ComponentState, DocsInfo, SkillInfo

Confirm = Callable[[str], bool]
ROUTER_WAIT_S = 120.0
RECALL_EMBEDDER_WAIT_S = 30.0
log = logging.getLogger(__name__)
_DOCS_WORD = re.compile(r"\b(?:collection|docs|documents|folder|files)\b", re.I)  # cheap check before a store read


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
    the last result's measurements for the reply's badge. When the skill sends the
    conversation's history, the rolling ``summary`` stands in for dropped turns, and
    ``dropped`` / ``summary_target`` record how much was left out (for the summary update).
    """

    manager: ModelManager
    settings: Settings
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
        from assistant.memory.context import fit_plan

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
                      newest: ChatMessage, backend: Any, reserve: int) -> None:
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


class Pipeline:
    """Routes, answers and stores conversation turns.

    Args:
        settings: the configuration.
        models: the model manager (real or with a fake factory).
        store: the conversation store (assistant.memory.store.Store).
        router: the router service (assistant.router); routes from the skills.
        skills: the skill registry (assistant.skills).
        confirm: asks the user before a side-effecting tool runs; default refuses.

    A streaming reply's text is checkpointed to the store every ``partial_every_s`` seconds,
    so a process killed mid-reply keeps what the user saw.
    """

    partial_every_s = 0.5

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
        from assistant.memory.summary import Summariser

        self.summaries = Summariser(settings, models, store)
        self._recall: Any = None
        self._docs: Any = None  # assistant.docs.service.DocsService, made on first use

    # Lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if not self._started:
            self._started = True
            self.router.start()
            # MCP servers: their routes follow their tools; their skills narrow tools with our embedder
            self.registry.start_background(on_change=self.router.start, embedder=self._embedder)
            # Replies a crashed run left "streaming" are kept, marked as interrupted.
            self.store.recover_interrupted()

    def close(self) -> None:
        # A summary being written is given a moment; it is only a cache of stored turns.
        self.summaries.wait_idle(5.0)
        if self._docs is not None:  # a refresh in the background stops between files
            self._docs.close()
        close_router = getattr(self.router, "close", None)
        if close_router:
            close_router()
        self.models.close()
        self.registry.close()  # stops MCP servers
        close = getattr(self.store, "close", None)
        if close:
            close()

    def documents(self) -> list[DocsInfo]:
        from assistant.docs.index import DocsIndex
        from assistant.router.embedders import embedder_name

        colls = DocsIndex(self.store).collections(embedder_name(self.settings))
        progress = self._docs.progress if self._docs is not None and self._docs.busy else None
        out = []
        for c in colls:
            note = ""
            if progress is not None and progress.collection == c.name and progress.total:
                note = f"indexing: {progress.stage} {progress.done}/{progress.total}"
            out.append(DocsInfo(c.name, c.root, c.state, c.files, c.skipped, c.chunks, c.embedded, c.indexed_at, note))
        return out

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
        return self._history_ids(self.store.messages(conversation_id))[0]

    @staticmethod
    def _history_ids(messages: list[Any]) -> tuple[list[ChatMessage], list[str]]:
        """The turns a model sees (user and assistant text, failed replies left out) and their ids."""
        kept = [m for m in messages if m.role in ("user", "assistant") and m.content and m.status != "error"]
        return [ChatMessage(m.role, m.content) for m in kept], [m.id for m in kept]

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
        self.summaries.interrupt()  # a summary in the background never delays the user's turn
        if conversation_id is None:
            conversation_id = self.store.create_conversation()
        history, ids = self._history_ids(self.store.messages(conversation_id))
        previous = self._previous_skill(conversation_id)
        self.store.add_message(conversation_id, "user", text)
        yield from self._answer(conversation_id, text, history, previous, skill, cancel, attachments, generation or {},
                                ids)

    def regenerate(self, conversation_id: str, *, cancel: threading.Event | None = None,
                   skill: str | None = None) -> Iterator[TurnEvent]:
        messages = self.store.messages(conversation_id)
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last_user is None:
            raise AssistantError("this conversation has no message to answer again", "send a message first")
        self.summaries.interrupt()
        text = messages[last_user].content
        history, ids = self._history_ids(messages[:last_user])
        previous = next((m.skill for m in reversed(messages[:last_user]) if m.role == "assistant" and m.skill), None)
        yield from self._answer(conversation_id, text, history, previous, skill, cancel, (), {}, ids)

    def _pick(self, text: str, history: list[ChatMessage], previous: str | None, forced: str | None) -> tuple[Any, RouteInfo]:
        fallback = self.settings.router.fallback_skill
        if forced:
            chosen = self.registry.get(forced)
            if chosen is None or not chosen.ok:
                known = ", ".join(s.name for s in self.registry.all() if s.ok)
                raise AssistantError(f"skill '{forced}' is not available", f"available skills: {known}")
            return chosen, RouteInfo(skill=forced, forced=True, reason="chosen by the user")
        named = self._named_collection(text)
        if named is not None:
            return named
        info = self._route(text, history, previous)
        chosen = self.registry.get(info.skill)
        if chosen is None or not chosen.ok:
            why = "is not installed" if chosen is None else f"failed to load ({chosen.error})"
            chosen = self.registry.get(fallback)
            info = RouteInfo(**{**info.__dict__, "skill": fallback,
                                "reason": f"{info.reason}; skill '{info.skill}' {why}, using {fallback}"})
        return chosen, info

    def _named_collection(self, text: str) -> tuple[Any, RouteInfo] | None:
        """The docs skill, when the message addresses one of the user's collections by name
        (``@handbook ...``, ``... in the handbook docs``): naming it is as good as choosing it."""
        docs = self.registry.get("docs")
        if docs is None or not docs.ok or ("@" not in text and not _DOCS_WORD.search(text)):
            return None
        from assistant.docs.index import DocsIndex
        from assistant.docs.scope import named_collection

        try:
            name = named_collection(text, [c.name for c in DocsIndex(self.store).collections()])
        except StoreError as exc:  # the index is unreadable: route as if no collection were named
            log.warning("docs: cannot read the collections to route by name: %s", exc.message)
            return None
        if name is None:
            return None
        return docs, RouteInfo(skill="docs", reason=f"names your document collection '{name}'")

    def _answer(self, conversation_id: str, text: str, history: list[ChatMessage], previous: str | None,
                forced: str | None, cancel: threading.Event | None, attachments: tuple[Path, ...],
                generation: dict[str, Any], history_ids: list[str] | None = None,
                handed: tuple[Any, RouteInfo, str] | None = None) -> Iterator[TurnEvent]:
        cancel = cancel or threading.Event()
        if handed is not None:  # the routed skill declined: its reply row goes to the fallback skill
            skill, info, reply_id = handed
        else:
            try:
                skill, info = self._pick(text, history, previous, forced)
            except AssistantError as exc:
                yield ReplyFailed(conversation_id, None, exc.message, exc.hint)
                return
        model = skill.model_name(self.settings)
        adapter = skill.adapter_path(self.settings)
        yield RouteDecided(conversation_id, info, model, str(adapter) if adapter else None)
        if handed is None:
            reply_id = self.store.start_reply(
                conversation_id, skill=skill.name, model=model, adapter=str(adapter) if adapter else None,
                route_score=info.score, runner_up=info.runner_up,
            )
        access = ModelAccessForTurn(self.models, self.settings, model, adapter, conversation_id, cancel, generation)
        ids = history_ids or []
        if len(ids) == len(history):
            from assistant.memory.summary import covered

            conv = self.store.conversation(conversation_id)
            access.history = list(history)
            if conv is not None and conv.summary:
                access.summary, access.summary_covers = conv.summary, covered(ids, conv.summary_through)
        ctx = self.registry.context(skill, text=text, history=history, attachments=attachments, models=access,
                                    confirm=self.confirm, cancel=cancel, **self._recall_extra(skill, conversation_id))
        parts: list[str] = []
        started = time.perf_counter()
        first: float | None = None
        saved_at = started
        try:
            for item in self.registry.run(skill, ctx):
                if isinstance(item, Progress):
                    yield item
                elif item:
                    first = first or time.perf_counter()
                    parts.append(item)
                    yield TextDelta(item)
                    if time.perf_counter() - saved_at >= self.partial_every_s:
                        self._checkpoint(reply_id, parts)
                        saved_at = time.perf_counter()
                if cancel.is_set():
                    break
        except ContextOverflowError as exc:
            yield from self._fail(conversation_id, reply_id, exc, parts, skill.name, access)
            return
        except HandOff as exc:
            fallback = self._hand_off(skill, info, exc, parts)
            if fallback is None:
                yield from self._fail(conversation_id, reply_id, exc, parts, skill.name, access)
            else:
                yield from self._answer(conversation_id, text, history, previous, None, cancel, attachments,
                                        generation, history_ids, handed=(*fallback, reply_id))
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
        moved = {"skill": skill.name, "model": model} if handed is not None else {}
        self.store.finish_reply(reply_id, final, status, **self._meta(stats), **moved)
        self._maybe_title(conversation_id, text)
        if status == "complete" and access.dropped and len(ids) == len(history):
            self.summaries.after_turn(conversation_id, history, ids, summary=access.summary,
                                      covers=access.summary_covers, dropped=access.dropped,
                                      target=access.summary_target)
        yield ReplyFinished(conversation_id, reply_id, final, status, skill.name, stats.get("model", model), stats)

    def _hand_off(self, skill: Any, info: RouteInfo, exc: HandOff, parts: list[str]) -> tuple[Any, RouteInfo] | None:
        """The fallback skill and its route when ``skill`` declined a turn it was routed to
        (not chosen by the user) before replying; otherwise None."""
        name = self.settings.router.fallback_skill
        chosen = self.registry.get(name)
        if parts or info.forced or skill.name == name or chosen is None or not chosen.ok:
            return None
        reason = "; ".join(r for r in (info.reason, f"{skill.name} handed the turn over: {exc.message}") if r)
        return chosen, RouteInfo(**{**info.__dict__, "skill": name, "reason": reason})

    def _checkpoint(self, reply_id: str, parts: list[str]) -> None:
        """Store the text shown so far, so a crash mid-reply keeps it (the row stays 'streaming'
        and is marked interrupted on the next start). A failed write never stops the reply."""
        try:
            self.store.save_partial(reply_id, "".join(parts))
        except StoreError as exc:
            log.warning("could not checkpoint the reply being streamed: %s", exc.message)

    @staticmethod
    def _meta(stats: dict[str, Any]) -> dict[str, Any]:
        keys = ("prompt_tokens", "completion_tokens", "ttft_ms", "duration_ms")
        return {k: stats[k] for k in keys if stats.get(k) is not None}

    def _fail(self, conversation_id: str, reply_id: str, exc: AssistantError, parts: list[str], skill: str,
              access: ModelAccessForTurn) -> Iterator[TurnEvent]:
        partial = "".join(parts)
        self.store.finish_reply(reply_id, partial, "error", error=exc.message, **self._meta(access.stats()))
        yield ReplyFailed(conversation_id, reply_id, exc.message, exc.hint, partial, skill)

    def _recall_extra(self, skill: Any, conversation_id: str) -> dict[str, Any]:
        """The read-only recall capability, for skills that declare the ``recall`` tool, and
        document search, for skills that declare the ``docs`` tool."""
        manifest = getattr(skill, "manifest", None)
        docs = self._docs_extra(manifest)
        if manifest is None or "recall" not in manifest.tools:
            return docs
        if self._recall is None:
            from assistant.memory.recall import Recall

            self._recall = Recall(self.store, self._embedder, self.settings,
                                  notes_file=self.settings.data_dir / "skills" / "notes" / "notes.json")
        return {**docs, "recall": self._recall.for_conversation(conversation_id)}

    def _docs_extra(self, manifest: Any) -> dict[str, Any]:
        if manifest is None or "docs" not in manifest.tools:
            return {}
        if self._docs is None:
            from assistant.docs.service import DocsService

            self._docs = DocsService(self.store, self._embedder)
        return {"docs": self._docs.access()}

    def _embedder(self) -> Any:
        """The router's embedder (waiting a little while it loads), else None: recall then
        uses keywords only."""
        if getattr(self.router, "router", None) is None:
            self.router.wait_ready(RECALL_EMBEDDER_WAIT_S)
        return getattr(getattr(self.router, "router", None), "base_embedder", None)

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
