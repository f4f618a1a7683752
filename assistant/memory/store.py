"""The conversation store: SQLite through sqlite-utils.

Threading: one connection per :class:`Store`, opened with ``check_same_thread=False`` and
guarded by a re-entrant lock, so the store may be shared by the UI's worker threads; one
store (one writer) per process. Every write is its own ``BEGIN IMMEDIATE`` transaction,
committed (and, with ``synchronous=FULL``, on disk) before the method returns. Other
processes may use the same file at the same time (see :mod:`assistant.memory.connection`).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Callable, Literal, TypeVar

from sqlite_utils import Database

from assistant.errors import StoreError
from assistant.memory import connection as sqlconn
from assistant.memory.migrations import apply_migrations
from assistant.memory.records import MESSAGE_META, ROLES, STATUSES, Conversation, Message, SearchHit
from assistant.memory.search import fts_query
from assistant.memory.transfer import conversation_to_json, conversation_to_markdown, export_jsonl, import_jsonl

T = TypeVar("T")
MAX_TITLE = 200

_CONV_COLS = ("id, title, created_at, updated_at, pinned, archived, summary, summary_through, "
              "(SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count")


def now_iso() -> str:
    """Fixed-width UTC timestamps sort as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """Text SQLite can keep (UTF-8): a lone surrogate, as a broken paste or decoder leaves
    one, becomes U+FFFD instead of failing the write and losing the message."""
    return _SURROGATE.sub("\ufffd", text)


def new_id() -> str:
    return uuid.uuid4().hex


class Store:
    """Conversations and messages in one SQLite file.

    Use :meth:`open` for a file (creates, migrates, recovers) or :meth:`memory` for tests.

    Attributes:
        path: the database file, or None in memory.
        notice: a message for the user when opening had to recover (a damaged file was
            moved aside), else None.
        clock: the timestamp for new and updated rows (ISO 8601 UTC); tests fix it so
            the sidebar's times are stable.
    """

    def __init__(self, db: Database, path: Path | None = None, notice: str | None = None,
                 clock: Callable[[], str] = now_iso) -> None:
        self.db = db
        self.path = path
        self.notice = notice
        self.clock = clock
        self._lock = threading.RLock()

    # Opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path | str, *, busy_timeout_s: float = sqlconn.BUSY_TIMEOUT_S) -> "Store":
        """Open (creating and migrating as needed) the database at ``path``.

        A file that is not a database or is damaged is renamed to ``<name>.corrupt-<time>``
        and a fresh database started; ``store.notice`` then says so.

        Raises:
            StoreError: the file cannot be created or written (disk full, permissions).
        """
        path = Path(path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data folder {path.parent}: {exc.strerror}",
                             "check the folder's permissions or set ASSISTANT_HOME") from None
        try:
            return cls(cls._open_db(path, busy_timeout_s), path)
        except sqlite3.DatabaseError as exc:
            if not sqlconn.is_corrupt(exc):
                raise sqlconn.translate(exc, path) from None
        moved = sqlconn.move_aside(path)
        notice = (f"The conversation database {path} was damaged; it was moved to {moved} "
                  "and a new, empty one was started. Nothing was deleted.")
        try:
            return cls(cls._open_db(path, busy_timeout_s), path, notice)
        except sqlite3.DatabaseError as exc:
            raise sqlconn.translate(exc, path) from None

    @staticmethod
    def _open_db(path: Path, busy_timeout_s: float) -> Database:
        conn = sqlconn.connect(path, busy_timeout_s)
        db = Database(conn)
        try:
            sqlconn.retry_busy(lambda: apply_migrations(db))
            # A damaged page may only show once read: check the tables we rely on.
            conn.execute("SELECT count(*) FROM conversations").fetchone()
            conn.execute("SELECT max(seq) FROM messages").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise  # open() moves a damaged file aside or translates the error
        except Exception as exc:
            conn.close()
            # A failed step rolled back the whole upgrade: the file is as it was.
            raise StoreError(f"could not upgrade the conversation database {path}: {type(exc).__name__}: {exc}",
                             "your conversations are unchanged; please report this with the message above") from exc
        except BaseException:
            conn.close()
            raise
        return db

    @classmethod
    def memory(cls, clock: Callable[[], str] = now_iso) -> "Store":
        """A fresh in-memory store (tests, the demo mode)."""
        conn = sqlconn.connect(None)
        db = Database(conn)
        apply_migrations(db)
        return cls(db, clock=clock)

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Transactions ----------------------------------------------------------------------------
    def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one immediate transaction, committed before returning.

        The store's one way to write: modules that keep their own tables here (documents,
        recall vectors, imports) write through it too, so busy retries, rollback and
        error translation are the same everywhere.

        Raises:
            StoreError: the database failed (after retries while it was busy).
        """
        conn = self.db.conn

        def attempt() -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                raise

        with self._lock:
            try:
                return sqlconn.retry_busy(attempt)
            except sqlite3.Error as exc:
                raise sqlconn.translate(exc, self.path) from None

    def select(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Rows of one read-only statement, as dicts keyed by column name."""
        conn = self.db.conn

        def attempt() -> list[dict[str, Any]]:
            cur = conn.execute(sql, params)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row, strict=False)) for row in cur.fetchall()]

        with self._lock:
            try:
                return sqlconn.retry_busy(attempt)
            except sqlite3.Error as exc:
                raise sqlconn.translate(exc, self.path) from None

    # Conversations ---------------------------------------------------------------------------
    def create_conversation(self, title: str | None = None) -> str:
        """Start a conversation; returns its id. An empty title is filled in later."""
        cid, now = new_id(), self.clock()
        self.transaction(lambda c: c.execute(
            "INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (cid, _clean_title(title or "", allow_empty=True), now, now)))
        return cid

    def conversation(self, conversation_id: str) -> Conversation | None:
        rows = self.select(f"SELECT {_CONV_COLS} FROM conversations c WHERE id = ?", (conversation_id,))
        return Conversation.from_row(rows[0]) if rows else None

    def get_conversation(self, conversation_id: str) -> Conversation:
        """Like :meth:`conversation` but an unknown id is a StoreError."""
        conv = self.conversation(conversation_id)
        if conv is None:
            raise _unknown(conversation_id)
        return conv

    def list_conversations(self, limit: int = 50, include_archived: bool = False, offset: int = 0) -> list[Conversation]:
        """Pinned first, then most recently updated."""
        where = "" if include_archived else "WHERE archived = 0"
        rows = self.select(
            f"SELECT {_CONV_COLS} FROM conversations c {where} "
            "ORDER BY pinned DESC, updated_at DESC, id LIMIT ? OFFSET ?", (limit, offset))
        return [Conversation.from_row(r) for r in rows]

    def resolve(self, prefix: str) -> str:
        """The full id of the one conversation whose id starts with ``prefix``."""
        prefix = prefix.strip().lower()
        if not prefix or not all(ch in "0123456789abcdef-_" or ch.isalnum() for ch in prefix):
            raise StoreError(f"'{prefix}' is not a conversation id", "see `assistant history list`")
        rows = self.select("SELECT id FROM conversations WHERE id >= ? AND id < ? ORDER BY id LIMIT 6",
                          (prefix, prefix + "\uffff"))
        ids = [r["id"] for r in rows]
        if not ids:
            raise _unknown(prefix)
        if len(ids) > 1 and prefix not in ids:
            shown = ", ".join(i[:12] for i in ids[:5])
            raise StoreError(f"'{prefix}' matches several conversations ({shown}...)", "type more of the id")
        return prefix if prefix in ids else ids[0]

    def rename(self, conversation_id: str, title: str) -> None:
        """Give a conversation a new title (not empty)."""
        clean = _clean_title(title)
        self._update_conversation(conversation_id, "title = ?", (clean,))

    set_title = rename

    def title_if_untitled(self, conversation_id: str, title: str) -> None:
        """Name an untitled conversation ``title``; one the user named meanwhile keeps its name."""
        self._update_conversation(conversation_id, "title = CASE WHEN coalesce(title, '') = '' THEN ? ELSE title END",
                                  (_clean_title(title),))

    def set_pinned(self, conversation_id: str, pinned: bool = True) -> None:
        self._update_conversation(conversation_id, "pinned = ?", (int(pinned),))

    def set_archived(self, conversation_id: str, archived: bool = True) -> None:
        self._update_conversation(conversation_id, "archived = ?", (int(archived),))

    def set_summary(self, conversation_id: str, summary: str | None, through_message_id: str | None = None) -> None:
        """Store the rolling summary of the conversation up to ``through_message_id``."""
        self._update_conversation(conversation_id, "summary = ?, summary_through = ?", (summary, through_message_id),
                                  touch=False)

    def _update_conversation(self, cid: str, assignments: str, params: tuple[Any, ...], touch: bool = True) -> None:
        stamp = ", updated_at = ?" if touch else ""
        args = params + ((self.clock(),) if touch else ()) + (cid,)

        def run(c: sqlite3.Connection) -> None:
            if c.execute(f"UPDATE conversations SET {assignments}{stamp} WHERE id = ?", args).rowcount == 0:
                raise _unknown(cid)

        self.transaction(run)

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation and all its messages."""
        def run(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            if c.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount == 0:
                raise _unknown(conversation_id)

        self.transaction(run)

    # Messages --------------------------------------------------------------------------------
    def add_message(self, conversation_id: str, role: str, content: str, **meta: Any) -> str:
        """Append a message; it is committed (on disk) when this returns its id.

        ``meta`` may hold ``status`` and any of: skill, model, adapter, route_score,
        runner_up, prompt_tokens, completion_tokens, ttft_ms, duration_ms, error.
        """
        if role not in ROLES:
            raise StoreError(f"unknown message role '{role}'", f"use one of {', '.join(ROLES)}")
        status = meta.pop("status", "complete")
        _check_status(status)
        _check_meta(meta)
        mid, now = new_id(), self.clock()
        cols = ["id", "conversation_id", "role", "content", "status", "created_at", *meta]
        values = (mid, conversation_id, role, storable(str(content)), status, now, *meta.values())

        def run(c: sqlite3.Connection) -> None:
            if c.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (now, conversation_id)).rowcount == 0:
                raise _unknown(conversation_id)
            c.execute(f"INSERT INTO messages ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", values)

        self.transaction(run)
        return mid

    def start_reply(self, conversation_id: str, **meta: Any) -> str:
        """Store an empty assistant message with status 'streaming'; returns its id."""
        return self.add_message(conversation_id, "assistant", "", status="streaming", **meta)

    def save_partial(self, message_id: str, content: str) -> None:
        """Checkpoint the text of a reply still streaming (so a crash keeps it)."""
        self._update_message(message_id, {"content": content}, touch=False)

    def finish_reply(self, message_id: str, content: str, status: str = "complete", **meta: Any) -> None:
        """Commit a reply's final (or partial, when cancelled/failed) text, status and
        measurements."""
        _check_status(status)
        _check_meta(meta)
        self._update_message(message_id, {"content": content, "status": status, **meta})

    def _update_message(self, message_id: str, values: dict[str, Any], touch: bool = True) -> None:
        values = {k: storable(v) if isinstance(v, str) else v for k, v in values.items()}
        sets = ", ".join(f"{k} = ?" for k in values)

        def run(c: sqlite3.Connection) -> None:
            row = c.execute("SELECT conversation_id FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise StoreError(f"no message '{message_id}'", "it may have been deleted with its conversation")
            c.execute(f"UPDATE messages SET {sets} WHERE id = ?", (*values.values(), message_id))
            if touch:
                c.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (self.clock(), row[0]))

        self.transaction(run)

    def recover_interrupted(self, older_than_s: float = 600.0) -> int:
        """Mark replies left 'streaming' by a process that died as 'cancelled' (their
        partial text is kept); returns how many. Only rows older than ``older_than_s`` are
        touched, so a reply another live process is streaming right now is left alone."""
        cutoff = datetime.fromtimestamp(datetime.now(UTC).timestamp() - older_than_s,
                                        UTC).isoformat(timespec="microseconds")
        return self.transaction(lambda c: c.execute(
            "UPDATE messages SET status = 'cancelled', error = coalesce(error, ?) "
            "WHERE status = 'streaming' AND created_at < ?",
            ("interrupted: the app stopped before the reply finished", cutoff)).rowcount)

    def messages(self, conversation_id: str) -> list[Message]:
        """All messages of a conversation, oldest first; an unknown id is a StoreError."""
        rows = self.select("SELECT * FROM messages WHERE conversation_id = ? ORDER BY seq", (conversation_id,))
        if not rows and self.conversation(conversation_id) is None:
            raise _unknown(conversation_id)
        return [Message.from_row(r) for r in rows]

    def message(self, message_id: str) -> Message | None:
        rows = self.select("SELECT * FROM messages WHERE id = ?", (message_id,))
        return Message.from_row(rows[0]) if rows else None

    def count_messages(self) -> int:
        return int(self.select("SELECT count(*) AS n FROM messages")[0]["n"])

    # Search ----------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 20, marks: tuple[str, str] = ("**", "**")) -> list[SearchHit]:
        """Full-text search over message content, best matches first.

        Any text is accepted: words are matched literally (FTS operators and quotes in the
        query have no special meaning), so a user's query never raises a syntax error.
        """
        match = fts_query(storable(query))
        if match is None:
            return []
        rows = self.select(
            "SELECT m.conversation_id, m.id AS message_id, c.title, m.role, m.created_at, f.snippet "
            "FROM (SELECT rowid, rank, snippet(messages_fts, 0, ?, ?, '…', 12) AS snippet "
            "      FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?) f "
            "JOIN messages m ON m.seq = f.rowid JOIN conversations c ON c.id = m.conversation_id "
            "ORDER BY f.rank", (marks[0], marks[1], match, limit))
        return [SearchHit(**r) for r in rows]

    # Export / import -------------------------------------------------------------------------
    def export_conversation(self, conversation_id: str, fmt: Literal["md", "json"] = "md") -> str:
        """The whole conversation as Markdown or JSON text."""
        conv = self.get_conversation(conversation_id)
        msgs = self.messages(conversation_id)
        if fmt == "md":
            return conversation_to_markdown(conv, msgs)
        if fmt == "json":
            return conversation_to_json(conv, msgs)
        raise StoreError(f"unknown export format '{fmt}'", "use md or json")

    def export_all(self, fp: IO[str]) -> int:
        """Write every conversation as JSON Lines to ``fp``; returns how many."""
        return export_jsonl(self, fp)

    def import_all(self, fp: IO[str]) -> tuple[int, int]:
        """Import a JSON Lines export (idempotent); returns (conversations, messages).

        The whole file is checked first; a bad line is a StoreError naming the line and
        nothing is imported.
        """
        return import_jsonl(self, fp)

    # Maintenance -----------------------------------------------------------------------------
    def integrity_check(self) -> str:
        """SQLite's integrity check: 'ok' or the problems found."""
        rows = self.select("PRAGMA integrity_check")
        return "\n".join(str(next(iter(r.values()))) for r in rows)


def _clean_title(title: str, allow_empty: bool = False) -> str:
    clean = " ".join(storable(str(title)).split())[:MAX_TITLE]
    if not clean and not allow_empty:
        raise StoreError("a title cannot be empty", "type a title")
    return clean


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise StoreError(f"unknown message status '{status}'", f"use one of {', '.join(STATUSES)}")


def _check_meta(meta: dict[str, Any]) -> None:
    unknown = sorted(set(meta) - set(MESSAGE_META))
    if unknown:
        raise StoreError(f"unknown message fields: {', '.join(unknown)}", f"known: {', '.join(MESSAGE_META)}")


def _unknown(conversation_id: str) -> StoreError:
    return StoreError(f"no conversation '{conversation_id}'", "see `assistant history list` for the ids")
