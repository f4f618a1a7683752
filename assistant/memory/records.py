"""Plain records the store hands out: conversations, messages, search hits.

They are frozen dataclasses with field names that match the TUI's sidebar protocol
(``assistant.pipeline_api.ConversationStore``), so the store is given to the app as it is.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

Status = Literal["complete", "cancelled", "error", "streaming"]
STATUSES: tuple[str, ...] = ("complete", "cancelled", "error", "streaming")
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")

# Metadata a message may carry besides role, content and status.
MESSAGE_META: tuple[str, ...] = (
    "skill", "model", "adapter", "route_score", "runner_up",
    "prompt_tokens", "completion_tokens", "ttft_ms", "duration_ms", "error",
)


@dataclass(frozen=True)
class Conversation:
    """One stored conversation (timestamps are ISO 8601 UTC strings)."""

    id: str
    title: str
    created_at: str
    updated_at: str
    pinned: bool = False
    archived: bool = False
    summary: str | None = None
    summary_through: str | None = None
    message_count: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Conversation":
        names = {f.name for f in fields(cls)}
        data = {k: v for k, v in row.items() if k in names}
        data["pinned"] = bool(data.get("pinned"))
        data["archived"] = bool(data.get("archived"))
        data["title"] = data.get("title") or ""
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Message:
    """One stored message, with the measurements of the turn that produced it."""

    id: str
    conversation_id: str
    role: str
    content: str
    status: Status = "complete"
    created_at: str = ""
    skill: str | None = None
    model: str | None = None
    adapter: str | None = None
    route_score: float | None = None
    runner_up: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_ms: float | None = None
    duration_ms: float | None = None
    error: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Message":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in names})

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SearchHit:
    """A message that matched a search, with a snippet around the match.

    ``snippet`` marks matched words with ``**`` (Markdown bold) unless the caller chose other marks.
    """

    conversation_id: str
    message_id: str
    title: str
    role: str
    snippet: str
    created_at: str
