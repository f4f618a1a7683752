"""Exporting conversations (Markdown, JSON) and the whole store (JSON Lines), and importing
it back.

The JSON Lines file starts with a header line, then one line per conversation holding its
messages. Importing is idempotent (rows are matched by id, so importing the same file twice
changes nothing) and all-or-nothing: every line is validated first, and a bad line is an
error naming its number.
"""

from __future__ import annotations

import json
import sqlite3
from typing import IO, Any, Callable, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assistant.errors import StoreError
from assistant.memory.records import MESSAGE_META, Conversation, Message

FORMAT = "assistant-history"
VERSION = 1
T = TypeVar("T")


class Rows(Protocol):
    """What exporting and importing need of a store (``memory.store.Store`` is one)."""

    def list_conversations(self, limit: int = 50, include_archived: bool = False,
                           offset: int = 0) -> list[Conversation]: ...

    def messages(self, conversation_id: str) -> list[Message]: ...

    def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(_Strict):
    """One message in an export line."""

    id: str = Field(min_length=1, max_length=64)
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    status: Literal["complete", "cancelled", "error", "streaming"] = "complete"
    created_at: str = Field(min_length=1)
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


class ConversationIn(_Strict):
    """One export line: a conversation and its messages, oldest first."""

    kind: Literal["conversation"]
    id: str = Field(min_length=1, max_length=64)
    title: str = ""
    created_at: str = Field(min_length=1)
    updated_at: str = Field(min_length=1)
    pinned: bool = False
    archived: bool = False
    summary: str | None = None
    summary_through: str | None = None
    messages: list[MessageIn] = Field(default_factory=list)


class HeaderIn(_Strict):
    kind: Literal["header"]
    format: Literal["assistant-history"]
    version: int = Field(ge=1, le=VERSION)
    exported_at: str | None = None
    conversations: int | None = None


def _message_dict(m: Message) -> dict[str, Any]:
    d = m.as_dict()
    d.pop("conversation_id")
    return d


def conversation_to_json(conv: Conversation, msgs: list[Message]) -> str:
    data = {k: v for k, v in conv.as_dict().items() if k != "message_count"}
    data["messages"] = [_message_dict(m) for m in msgs]
    return json.dumps(data, indent=2, ensure_ascii=False)


def conversation_to_markdown(conv: Conversation, msgs: list[Message]) -> str:
    out = [f"# {conv.title or 'Untitled conversation'}", "", f"_{conv.created_at[:19].replace('T', ' ')} UTC_", ""]
    for m in msgs:
        who = m.role.capitalize()
        extra = [x for x in (m.skill, m.model) if x]
        if m.status != "complete":
            extra.append(m.status)
        head = f"## {who}" + (f" ({', '.join(extra)})" if extra else "")
        out += [head, "", m.content or "_(empty)_", ""]
        if m.error:
            out += [f"> error: {m.error}", ""]
    return "\n".join(out).rstrip() + "\n"


def export_jsonl(store: Rows, fp: IO[str]) -> int:
    """Write every conversation of ``store`` to ``fp`` as JSON Lines (header first); returns how many."""
    convs = store.list_conversations(limit=-1, include_archived=True)
    header = {"kind": "header", "format": FORMAT, "version": VERSION, "conversations": len(convs)}
    fp.write(json.dumps(header) + "\n")
    for conv in sorted(convs, key=lambda c: (c.created_at, c.id)):
        line = {"kind": "conversation", **{k: v for k, v in conv.as_dict().items() if k != "message_count"}}
        line["messages"] = [_message_dict(m) for m in store.messages(conv.id)]
        fp.write(json.dumps(line, ensure_ascii=False) + "\n")
    return len(convs)


def _parse(fp: IO[str]) -> list[ConversationIn]:
    items: list[ConversationIn] = []
    seen_header = False
    for number, raw in enumerate(fp, start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            if not seen_header:
                HeaderIn.model_validate(data)
                seen_header = True
                continue
            items.append(ConversationIn.model_validate(data))
        except json.JSONDecodeError as exc:
            raise StoreError(f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})",
                             "the file is damaged; use a file written by `assistant history export-all`") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "line"
            what = "header" if not seen_header else "conversation"
            raise StoreError(f"line {number}: invalid {what}: {where}: {first['msg']}",
                             "use a file written by `assistant history export-all`") from None
    if not seen_header:
        raise StoreError("the file is empty", "use a file written by `assistant history export-all`")
    return items


_MSG_COLS = ("id", "conversation_id", "role", "content", "status", "created_at", *MESSAGE_META)
_MSG_UPSERT = (
    f"INSERT INTO messages ({', '.join(_MSG_COLS)}) VALUES ({', '.join('?' * len(_MSG_COLS))}) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _MSG_COLS if c not in ("id", "conversation_id"))
)
_CONV_COLS = ("id", "title", "created_at", "updated_at", "pinned", "archived", "summary", "summary_through")
_CONV_UPSERT = (
    f"INSERT INTO conversations ({', '.join(_CONV_COLS)}) VALUES ({', '.join('?' * len(_CONV_COLS))}) "
    "ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in _CONV_COLS if c != "id")
)


def import_jsonl(store: Rows, fp: IO[str]) -> tuple[int, int]:
    """Check every line of ``fp``, then upsert it all in one transaction; returns (conversations, messages)."""
    items = _parse(fp)

    def run(c: sqlite3.Connection) -> tuple[int, int]:
        n_msgs = 0
        for conv in items:
            c.execute(_CONV_UPSERT, (conv.id, conv.title, conv.created_at, conv.updated_at, int(conv.pinned),
                                     int(conv.archived), conv.summary, conv.summary_through))
            for m in conv.messages:
                owner = c.execute("SELECT conversation_id FROM messages WHERE id = ?", (m.id,)).fetchone()
                if owner and owner[0] != conv.id:
                    raise StoreError(f"message {m.id} belongs to conversation {owner[0]}, not {conv.id}",
                                     "the file does not match this database; import it into a fresh one")
                row = m.model_dump()
                c.execute(_MSG_UPSERT, tuple(conv.id if k == "conversation_id" else row[k] for k in _MSG_COLS))
                n_msgs += 1
        return len(items), n_msgs

    return store.transaction(run)
