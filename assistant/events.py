"""Events a turn of conversation produces, in order, for the TUI, ``ask`` and ``serve``.

A turn yields ``RouteDecided`` once, then ``TextDelta`` pieces, then exactly one of
``ReplyFinished`` or ``ReplyFailed``. No Textual imports here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from assistant.router.types import RouteChoice

ReplyStatus = Literal["complete", "cancelled", "error"]


@dataclass(frozen=True)
class RouteDecided:
    """The router (or the user) picked a skill and its model."""

    conversation_id: str | None
    route: RouteChoice
    model: str | None
    adapter: str | None = None

    @property
    def skill(self) -> str:
        """The skill answering: the pipeline resolves the fallback, so the route names one."""
        return self.route.skill or ""


@dataclass(frozen=True)
class Progress:
    """A long skill step reports how far it got (fraction may be None)."""

    message: str
    fraction: float | None = None


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply as it streams."""

    text: str


@dataclass(frozen=True)
class ReplyFinished:
    """The reply ended (completely or cancelled) and is stored."""

    conversation_id: str | None
    message_id: str | None
    text: str
    status: ReplyStatus
    skill: str
    model: str | None
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReplyFailed:
    """The reply failed; ``partial`` is what streamed before the failure (also stored)."""

    conversation_id: str | None
    message_id: str | None
    error: str
    hint: str = ""
    partial: str = ""
    skill: str | None = None


TurnEvent = RouteDecided | Progress | TextDelta | ReplyFinished | ReplyFailed
