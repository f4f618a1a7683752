"""route -> skill -> context -> model -> stream -> persist. No Textual imports.

:class:`Pipeline` implements :class:`~assistant.pipeline_api.ChatPipeline` for the TUI,
``assistant ask`` and ``assistant serve``. The user message is stored before anything else
runs, and the reply is stored however the turn ends.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generator, Iterator, Protocol, Sequence

from assistant.backends.base import Backend, ChatMessage, GenerationRequest
from assistant.backends.manager import LoadState, ModelManager
from assistant.config import Settings
from assistant.errors import AssistantError, ContextOverflowError, HandOff, StoreError
from assistant.events import (
    Progress,
    ReplyFailed,
    ReplyFinished,
    ReplyStatus,
    RouteDecided,
    TextDelta,
    TurnEvent,
)
from assistant.memory.records import Message
from assistant.memory.store import Store
from assistant.pipeline_api import ComponentState, DocsInfo, SkillInfo, WarmState
from assistant.router.types import RouteChoice
from assistant.skills.model_access import ModelAccessForTurn

if TYPE_CHECKING:
    from assistant.backends.fake import Script
    from assistant.docs.service import DocsService
    from assistant.memory.recall import Recall
    from assistant.router.embedders import Embedder
    from assistant.skills.context import ModelAccess, SkillContext
    from assistant.skills.manifest import Manifest
    from assistant.skills.skill import Skill

Confirm = Callable[[str], bool]
ROUTER_WAIT_S = 120.0
RECALL_EMBEDDER_WAIT_S = 30.0
log = logging.getLogger(__name__)
_DOCS_WORD = re.compile(r"\b(?:collection|docs|documents|folder|files)\b", re.I)  # cheap check before a store read
_MODEL_STATES: dict[LoadState, WarmState] = {"loading": "loading", "loaded": "ready", "failed": "failed"}
_SERVER_STATES: dict[str, WarmState] = {"starting": "loading", "ready": "ready", "failed": "failed"}


class RouterSeam(Protocol):
    """What the pipeline uses of the router service (:class:`assistant.router.service.RouterService`)."""

    @property
    def state(self) -> tuple[WarmState, str]: ...

    def start(self) -> None: ...

    def close(self) -> None: ...

    def route(self, text: str, history: Sequence[object] | None = None, previous_skill: str | None = None,
              *, wait: float = 30.0) -> RouteChoice: ...

    def add_example(self, skill: str, text: str) -> None: ...

    def embedder(self, wait: float = 0.0) -> "Embedder | None": ...


class SkillsSeam(Protocol):
    """What the pipeline uses of the skill registry (:class:`assistant.skills.registry.SkillRegistry`)."""

    def get(self, name: str) -> "Skill | None": ...

    def all(self) -> "list[Skill]": ...

    def info(self, skill: "Skill") -> SkillInfo: ...

    def server_states(self) -> list[tuple[str, str, str]]: ...

    def context(self, skill: "Skill", *, text: str, history: Sequence[ChatMessage] = (),
                attachments: Sequence[Path] = (), models: "ModelAccess | None" = None,
                confirm: Confirm | None = None, cancel: threading.Event | None = None,
                **extra: Any) -> "SkillContext": ...

    def run(self, skill: "Skill", ctx: "SkillContext") -> Iterator[str | Progress]: ...

    def start_background(self, on_change: Callable[[], None] | None = None,
                         embedder: "Callable[[], Embedder | None] | None" = None) -> None: ...

    def close(self) -> None: ...


def resolved(choice: RouteChoice, fallback: str) -> RouteChoice:
    """The router's decision as the events carry it: ``skill=None`` becomes the fallback's name."""
    return choice if choice.skill is not None else dataclasses.replace(choice, skill=fallback)


def chosen_route(skill: str, reason: str, *, forced: bool = False) -> RouteChoice:
    """A route decided without the router (the user's choice, a collection named): certain."""
    return RouteChoice(skill, 1.0, None, None, None, 0.0, reason, forced=forced)


@dataclass(frozen=True)
class TurnState:
    """What one turn knows of its conversation, read from the store once when it starts.

    Attributes:
        history: the turns a model sees (user and assistant text, failed replies left out).
        ids: their message ids (for the rolling summary's bookkeeping).
        previous: the skill that answered last (follow-ups stay with it).
        summary: the conversation's rolling summary, and how many of ``history`` it covers.
        titled: whether the conversation has a title already.
    """

    history: list[ChatMessage]
    ids: list[str]
    previous: str | None = None
    summary: str | None = None
    summary_covers: int = 0
    titled: bool = True

    @classmethod
    def of(cls, messages: Sequence[Message], summary: str | None = None, summary_through: str | None = None,
           titled: bool = True) -> "TurnState":
        from assistant.memory.summary import covered

        kept = [m for m in messages if m.role in ("user", "assistant") and m.content and m.status != "error"]
        ids = [m.id for m in kept]
        previous = next((m.skill for m in reversed(messages) if m.role == "assistant" and m.skill), None)
        covers = covered(ids, summary_through) if summary else 0
        history = [ChatMessage("user" if m.role == "user" else "assistant", m.content) for m in kept]
        return cls(history, ids, previous, summary, covers, titled)


class Pipeline:
    """Routes, answers and stores conversation turns.

    Args:
        settings: the configuration.
        models: the model manager (real or with a fake factory).
        store: the conversation store (a file, or :meth:`Store.memory` in tests and the demo).
        router: the router service; routes from the skills.
        skills: the skill registry.
        confirm: asks the user before a side-effecting tool runs; default refuses.

    A streaming reply's text is checkpointed to the store every ``partial_every_s`` seconds,
    so a process killed mid-reply keeps what the user saw.
    """

    partial_every_s = 0.5

    def __init__(self, settings: Settings, *, models: ModelManager, store: Store, router: RouterSeam,
                 skills: SkillsSeam, confirm: Confirm | None = None) -> None:
        from assistant.memory.summary import Summariser

        self.settings = settings
        self.models = models
        self.store = store
        self.router = router
        self.registry = skills
        self.confirm: Confirm = confirm or (lambda _prompt: False)
        self._started = False
        self.summaries = Summariser(settings, models, store)
        self._recall: Recall | None = None
        self._docs: DocsService | None = None  # made on first use

    @property
    def conversation_store(self) -> Store:
        """What the TUI's sidebar reads: the conversation store itself."""
        return self.store

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
        self.router.close()
        self.models.close()
        self.registry.close()  # stops MCP servers
        self.store.close()

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
            # The manager's key ends in a hash of the adapter's path; the name is what a user reads.
            shown = re.sub(r"@[0-9a-f]{6}$", "", m.name)
            out.append(ComponentState(shown, _MODEL_STATES[m.state], m.error or f"{m.footprint_mb} MB"))
        for name, server_state, detail in self.registry.server_states():
            out.append(ComponentState(f"mcp {name}", _SERVER_STATES.get(server_state, "cold"), detail[:80]))
        used, budget = self.memory_used_mb()
        out.append(ComponentState("memory", "ready", f"{used} / {budget} MB"))
        return out

    def memory_used_mb(self) -> tuple[int, int]:
        return self.models.used_mb(), self.settings.runtime.memory_budget_mb

    def skills(self) -> list[SkillInfo]:
        return [self.registry.info(s) for s in self.registry.all()]

    # Routing -------------------------------------------------------------------------------
    def _state(self, conversation_id: str, messages: Sequence[Message] | None = None) -> TurnState:
        """The conversation as a turn needs it (``messages`` when the caller read them already)."""
        if messages is None:
            messages = self.store.messages(conversation_id)
        conv = self.store.conversation(conversation_id)
        if conv is None:
            return TurnState.of(messages)
        return TurnState.of(messages, conv.summary, conv.summary_through, titled=bool(conv.title))

    def explain(self, conversation_id: str | None, text: str) -> RouteChoice:
        state = self._state(conversation_id) if conversation_id else TurnState([], [])
        return self._route(text, state.history, state.previous)

    def _route(self, text: str, history: list[ChatMessage], previous: str | None) -> RouteChoice:
        self.start()
        choice = self.router.route(text, history, previous, wait=ROUTER_WAIT_S)
        return resolved(choice, self.settings.router.fallback_skill)

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
                 generation: dict[str, Any] | None = None) -> Generator[TurnEvent, None, None]:
        self.start()
        self.summaries.interrupt()  # a summary in the background never delays the user's turn
        if conversation_id is None:
            conversation_id = self.store.create_conversation()
        state = self._state(conversation_id)
        self.store.add_message(conversation_id, "user", text)
        yield from self._answer(conversation_id, text, state, skill, cancel, attachments, generation or {})

    def regenerate(self, conversation_id: str, *, cancel: threading.Event | None = None,
                   skill: str | None = None) -> Generator[TurnEvent, None, None]:
        messages = self.store.messages(conversation_id)
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last_user is None:
            raise AssistantError("this conversation has no message to answer again", "send a message first")
        self.summaries.interrupt()
        state = self._state(conversation_id, messages[:last_user])
        yield from self._answer(conversation_id, messages[last_user].content, state, skill, cancel, (), {})

    def _pick(self, text: str, history: list[ChatMessage], previous: str | None,
              forced: str | None) -> "tuple[Skill, RouteChoice]":
        fallback = self.settings.router.fallback_skill
        if forced:
            chosen = self.registry.get(forced)
            if chosen is None or not chosen.ok:
                known = ", ".join(s.name for s in self.registry.all() if s.ok)
                raise AssistantError(f"skill '{forced}' is not available", f"available skills: {known}")
            return chosen, chosen_route(forced, "chosen by the user", forced=True)
        named = self._named_collection(text)
        if named is not None:
            return named
        info = self._route(text, history, previous)
        chosen = self.registry.get(info.skill_or(fallback))
        if chosen is None or not chosen.ok:
            why = "is not installed" if chosen is None else f"failed to load ({chosen.error})"
            chosen = self.registry.get(fallback)
            if chosen is None:
                raise AssistantError(f"the fallback skill '{fallback}' is not installed",
                                     "check [router] fallback_skill in your config")
            info = dataclasses.replace(info, skill=fallback,
                                       reason=f"{info.reason}; skill '{info.skill}' {why}, using {fallback}")
        return chosen, info

    def _named_collection(self, text: str) -> "tuple[Skill, RouteChoice] | None":
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
        return docs, chosen_route("docs", f"names your document collection '{name}'")

    def _answer(self, conversation_id: str, text: str, state: TurnState, forced: str | None,
                cancel: threading.Event | None, attachments: tuple[Path, ...], generation: dict[str, Any],
                handed: "tuple[Skill, RouteChoice, str] | None" = None) -> Iterator[TurnEvent]:
        cancel = cancel or threading.Event()
        history = state.history
        if handed is not None:  # the routed skill declined: its reply row goes to the fallback skill
            skill, info, reply_id = handed
        else:
            try:
                skill, info = self._pick(text, history, state.previous, forced)
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
        access = ModelAccessForTurn(self.models, self.settings, model, adapter, conversation_id, cancel, generation,
                                    history=list(history), summary=state.summary, summary_covers=state.summary_covers)
        ctx = self.registry.context(skill, text=text, history=history, attachments=attachments, models=access,
                                    confirm=self.confirm, cancel=cancel, chosen=info.forced,
                                    **self._recall_extra(skill, conversation_id))
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
                yield from self._answer(conversation_id, text, state, None, cancel, attachments, generation,
                                        handed=(*fallback, reply_id))
            return
        except AssistantError as exc:
            yield from self._fail(conversation_id, reply_id, exc, parts, skill.name, access)
            return
        except Exception as exc:  # noqa: BLE001 - a skill bug becomes a chat message, never a traceback
            err = AssistantError(f"skill '{skill.name}' failed: {type(exc).__name__}: {exc}", "try again, or force another skill")
            yield from self._fail(conversation_id, reply_id, err, parts, skill.name, access)
            return
        status: ReplyStatus = "cancelled" if cancel.is_set() else "complete"
        stats = access.stats()
        # Deterministic skills use no model: time the skill itself.
        if first is not None and stats.get("ttft_ms") is None:
            stats["ttft_ms"] = round((first - started) * 1000, 2)
        stats.setdefault("duration_ms", round((time.perf_counter() - started) * 1000, 2))
        final = "".join(parts)
        moved = {"skill": skill.name, "model": model} if handed is not None else {}
        self.store.finish_reply(reply_id, final, status, **self._meta(stats), **moved)
        if not state.titled:
            self._title(conversation_id, text)
        if status == "complete" and access.dropped:
            self.summaries.after_turn(conversation_id, history, state.ids, summary=access.summary,
                                      covers=access.summary_covers, dropped=access.dropped,
                                      target=access.summary_target)
        yield ReplyFinished(conversation_id, reply_id, final, status, skill.name, stats.get("model", model), stats)

    def _hand_off(self, skill: "Skill", info: RouteChoice, exc: HandOff,
                  parts: list[str]) -> "tuple[Skill, RouteChoice] | None":
        """The fallback skill and its route when ``skill`` declined a turn it was routed to
        (not chosen by the user) before replying; otherwise None."""
        name = self.settings.router.fallback_skill
        chosen = self.registry.get(name)
        if parts or info.forced or skill.name == name or chosen is None or not chosen.ok:
            return None
        reason = "; ".join(r for r in (info.reason, f"{skill.name} handed the turn over: {exc.message}") if r)
        return chosen, dataclasses.replace(info, skill=name, reason=reason)

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

    def _recall_extra(self, skill: "Skill", conversation_id: str) -> dict[str, Any]:
        """The read-only recall capability, for skills that declare the ``recall`` tool, and
        document search, for skills that declare the ``docs`` tool."""
        manifest = skill.manifest
        docs = self._docs_extra(manifest)
        if manifest is None or "recall" not in manifest.tools:
            return docs
        if self._recall is None:
            from assistant.memory.recall import Recall

            self._recall = Recall(self.store, self._embedder, self.settings,
                                  notes_file=self.settings.data_dir / "skills" / "notes" / "notes.json")
        return {**docs, "recall": self._recall.for_conversation(conversation_id)}

    def _docs_extra(self, manifest: "Manifest | None") -> dict[str, Any]:
        if manifest is None or "docs" not in manifest.tools:
            return {}
        if self._docs is None:
            from assistant.docs.service import DocsService

            self._docs = DocsService(self.store, self._embedder)
        return {"docs": self._docs.access()}

    def _embedder(self) -> "Embedder | None":
        """The router's embedder (waiting a little while it loads), else None: recall then
        uses keywords only."""
        return self.router.embedder(wait=RECALL_EMBEDDER_WAIT_S)

    def _title(self, conversation_id: str, text: str) -> None:
        from assistant.memory.titles import title_from_text

        self.store.title_if_untitled(conversation_id, title_from_text(text))


def build_pipeline(settings: Settings, *, confirm: Confirm | None = None, fake: bool = False) -> Pipeline:
    """Wire the real components (with ``fake=True``, the in-package fakes at the bottom seams,
    over the configured database file: see :func:`fake_pipeline`).

    Nothing heavy happens here: the embedder and models load later, in the background or
    on first use.
    """
    if fake:
        return fake_pipeline(settings, store=Store.open(settings.db_path), confirm=confirm)
    return _wire(settings, ModelManager(settings), Store.open(settings.db_path), None, confirm)


def fake_pipeline(settings: Settings, *, script: "Script | list[str] | None" = None, delay_s: float = 0.01,
                  warmup_s: float = 0.0, store: Store | None = None, confirm: Confirm | None = None,
                  factory: "Callable[[str, Path | None], Backend] | None" = None) -> Pipeline:
    """The real pipeline (router, skills, memory) on the in-package fakes at its bottom seams,
    for tests and the demo mode (``ASSISTANT_TUI_FAKE=1``).

    Args:
        script: every model's replies: a list used in turn across all models (then empty
            replies), or a function of the request; default: echo the user's message.
        delay_s: pause before each streamed token.
        warmup_s: how long the fake embedder takes to "load" (the router is ready after it).
        store: where conversations live; a fresh in-memory store by default.
        confirm: asks the user before a side-effecting tool runs; default refuses.
        factory: makes each model's backend (name, adapter) instead of the scripted
            FakeBackend, for tests that need another fake (slow, failing, recording).
    """
    from assistant.backends.fake import FakeBackend
    from assistant.router.embedders import FakeEmbedder

    if isinstance(script, list):
        replies, lock = list(script), threading.Lock()

        def next_reply(_request: GenerationRequest) -> str:
            with lock:
                return replies.pop(0) if replies else ""

        script = next_reply

    def embedder() -> FakeEmbedder:
        time.sleep(warmup_s)
        return FakeEmbedder()

    models = ModelManager(settings, factory=factory or (lambda name, adapter: FakeBackend(name, script=script,
                                                                                         delay_s=delay_s)))
    return _wire(settings, models, store or Store.memory(), embedder, confirm)


def _wire(settings: Settings, models: ModelManager, store: Store, embedder: "Callable[[], Embedder] | None",
          confirm: Confirm | None) -> Pipeline:
    from assistant.router.service import RouterService
    from assistant.skills.registry import load_skills

    registry = load_skills(settings)
    router = RouterService(settings, routes=registry.routes, embedder_factory=embedder)
    return Pipeline(settings, models=models, store=store, router=router, skills=registry, confirm=confirm)
