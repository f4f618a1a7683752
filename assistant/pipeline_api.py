"""The contract between front ends (TUI, ``ask``, ``serve``) and the pipeline.

Front ends depend on these protocols only; ``assistant.pipeline.Pipeline`` implements
:class:`ChatPipeline` with the real router, skills, store and models (in tests and the demo
mode, with the in-package fakes at the bottom seams: backend, embedder, in-memory store), and
its ``conversation_store`` (the SQLite store) implements :class:`ConversationStore`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generator, Literal, Protocol, Sequence

from assistant.backends.base import ChatMessage
from assistant.events import TurnEvent
from assistant.memory.records import Conversation, Message, SearchHit
from assistant.router.types import RouteChoice

WarmState = Literal["cold", "loading", "ready", "failed"]


@dataclass(frozen=True)
class SkillInfo:
    """A skill as the user sees it in lists."""

    name: str
    description: str
    model: str | None
    status: Literal["ok", "failed", "disabled"] = "ok"
    error: str = ""
    examples: int = 0
    server: str = ""  # an MCP skill: its server's state and why ("failed: ..."), else empty


@dataclass(frozen=True)
class ComponentState:
    """Warm-up state of one background component (the embedder, a model)."""

    name: str
    state: WarmState
    detail: str = ""


@dataclass(frozen=True)
class DocsInfo:
    """One document collection as ``/docs`` shows it."""

    name: str
    root: str
    state: str
    files: int = 0
    skipped: int = 0
    chunks: int = 0
    embedded: int = 0
    indexed_at: str | None = None
    note: str = ""  # what the background indexer is doing with it right now


ExportFormat = Literal["md", "json"]


class ConversationStore(Protocol):
    """What the TUI's sidebar asks of the conversation store. Calls may block; the app makes
    every call from one dedicated thread, never from the UI thread."""

    def list_conversations(self, limit: int = 50) -> Sequence[Conversation]:
        """Most recently updated first."""

    def search(self, query: str) -> Sequence[SearchHit]:
        """Full-text search over messages; best matches first."""

    def messages(self, conversation_id: str) -> Sequence[Message]:
        """The messages of one conversation, oldest first."""

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a new title."""

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation and its messages."""

    def export_conversation(self, conversation_id: str, fmt: ExportFormat = "md") -> str:
        """The whole conversation as Markdown (``md``) or JSON (``json``) text."""


class ChatPipeline(Protocol):
    """What a front end can ask of the assistant."""

    @property
    def conversation_store(self) -> ConversationStore:
        """Where the conversations live (what the sidebar lists, searches, renames and exports)."""

    def start(self) -> None:
        """Begin warming up (embedder, default model) in the background; returns at once."""

    def components(self) -> list[ComponentState]:
        """Warm-up and load states for the status bar (embedder, each model), with memory."""

    def run_turn(
        self,
        conversation_id: str | None,
        text: str,
        *,
        skill: str | None = None,
        cancel: threading.Event | None = None,
        attachments: tuple[Path, ...] = (),
        generation: dict[str, Any] | None = None,
    ) -> Generator[TurnEvent, None, None]:
        """Route, answer and store one user message. Blocking; run it in a worker thread.

        ``conversation_id=None`` starts a new conversation (its id is in the events).
        ``skill`` forces a skill for this message; ``generation`` overrides sampling settings. The user message is stored before
        generation starts; the reply is stored when it ends, is cancelled or fails.
        """

    def regenerate(self, conversation_id: str, *, cancel: threading.Event | None = None,
                   skill: str | None = None) -> Generator[TurnEvent, None, None]:
        """Answer the last user message of a conversation again (on ``skill`` if given)."""

    def explain(self, conversation_id: str | None, text: str) -> RouteChoice:
        """The routing trace for ``text`` in that conversation, without answering."""

    def save_correction(self, skill: str, text: str) -> None:
        """Keep ``text`` as a new routing example for ``skill``."""

    def skills(self) -> list[SkillInfo]:
        """Every skill, including failed ones with their reason."""

    def documents(self) -> list[DocsInfo]:
        """The user's document collections and how far their index is."""

    def import_history(self, messages: list[ChatMessage]) -> str:
        """Store a history a client brings (e.g. through ``assistant serve``) as a new conversation; its id."""

    def close(self) -> None:
        """Stop background work and release models and the store; the front end is leaving."""
