"""The contract between front ends (TUI, ``ask``, ``serve``) and the pipeline.

Front ends depend on this protocol only; ``assistant.pipeline.Pipeline`` implements it with
the real router, skills, store and models (or their in-package fakes in tests).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Protocol

from assistant.backends.base import ChatMessage
from assistant.events import RouteInfo, TurnEvent

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


class ChatPipeline(Protocol):
    """What a front end can ask of the assistant."""

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
        generation: dict | None = None,
    ) -> Iterator[TurnEvent]:
        """Route, answer and store one user message. Blocking; run it in a worker thread.

        ``conversation_id=None`` starts a new conversation (its id is in the events).
        ``skill`` forces a skill for this message; ``generation`` overrides sampling settings. The user message is stored before
        generation starts; the reply is stored when it ends, is cancelled or fails.
        """

    def regenerate(self, conversation_id: str, *, cancel: threading.Event | None = None,
                   skill: str | None = None) -> Iterator[TurnEvent]:
        """Answer the last user message of a conversation again (on ``skill`` if given)."""

    def explain(self, conversation_id: str | None, text: str) -> RouteInfo:
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
