"""Every custom Textual message of the chat app, as dataclasses (past-tense events).

Workers running in threads talk to the UI only by posting these (``post_message`` is
thread-safe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

from assistant.events import TurnEvent
from assistant.pipeline_api import ComponentState
from assistant.router.types import RouteChoice

if TYPE_CHECKING:
    from assistant.memory.records import Conversation, SearchHit


@dataclass
class TurnEventsArrived(Message):
    """A batch of events from the pipeline for turn ``turn_id`` (text deltas are merged)."""

    turn_id: int
    events: list[TurnEvent]


@dataclass
class TurnEnded(Message):
    """The worker of turn ``turn_id`` returned; ``error`` is set if it crashed."""

    turn_id: int
    error: str | None = None
    hint: str = ""


@dataclass
class ServicesReady(Message):
    """The pipeline (and conversation store) were built; ``error`` says why not."""

    error: str | None = None
    hint: str = ""


@dataclass
class ComponentsPolled(Message):
    """Fresh warm-up / load states for the status bar."""

    states: list[ComponentState]


@dataclass
class ConversationsListed(Message):
    """Rows for the sidebar: recent conversations, or search hits for ``query``."""

    items: list[Conversation] = field(default_factory=list)
    hits: list[SearchHit] = field(default_factory=list)
    query: str = ""


@dataclass
class RouteExplained(Message):
    """A routing trace to show (from ``/why``, a badge, or the pipeline's explain)."""

    route: RouteChoice
    text: str = ""
    model: str | None = None


@dataclass
class BadgeSelected(Message):
    """The user selected the badge of a reply."""

    reply: Any  # the AssistantMessage widget


@dataclass
class PromptSubmitted(Message):
    """The user pressed Enter in the prompt."""

    text: str


@dataclass
class ConversationSelected(Message):
    """The user picked a conversation in the sidebar."""

    conversation_id: str


@dataclass
class ConversationDeleted(Message):
    """The sidebar deleted a conversation (the chat starts afresh if it was the one shown)."""

    conversation_id: str


@dataclass
class NoteRequested(Message):
    """A widget has something to tell the user in the chat log."""

    text: str
    hint: str = ""
    kind: str = "info"


@dataclass
class ConversationAction(Message):
    """The user asked the sidebar to rename, delete or export a conversation."""

    action: str
    conversation_id: str
    title: str = ""


@dataclass
class FileDropped(Message):
    """A file path was pasted (or dropped) into the prompt."""

    path: Any  # pathlib.Path
