"""Schema history of the conversation database, one function per step.

Rules for adding a step: append a new ``mNNN_...`` function (never edit or reorder an
applied one), make it work on a database holding data, and add a fixture schema to the
tests (``tests/memory/make_fixtures.py``). :func:`apply_migrations` runs every pending step
inside one outer ``BEGIN IMMEDIATE`` transaction: each step is atomic with its record (a
savepoint), and if any step fails the whole upgrade rolls back, so the file stays exactly
at the schema it had. The immediate lock also stops two processes migrating at once.
"""

from __future__ import annotations

from typing import Iterable

from sqlite_utils import Database, Migrations

MIGRATION_SET = "assistant.memory"
migrations = Migrations(MIGRATION_SET)


@migrations()
def m001_create_conversations(db: Database) -> None:
    """Conversations: a string id, a title, timestamps, pinned and archived flags."""
    db["conversations"].create(
        {"id": str, "title": str, "created_at": str, "updated_at": str, "pinned": int, "archived": int},
        pk="id",
        not_null={"created_at", "updated_at"},
        defaults={"title": "", "pinned": 0, "archived": 0},
    )
    db["conversations"].create_index(["updated_at"], index_name="idx_conversations_updated")


@migrations()
def m002_create_messages(db: Database) -> None:
    """Messages. ``seq`` is the rowid alias: it orders a conversation and keys the FTS
    index (an explicit INTEGER PRIMARY KEY survives VACUUM; an implicit rowid may not)."""
    db.execute(
        """
        CREATE TABLE messages (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'complete',
            created_at TEXT NOT NULL,
            skill TEXT, model TEXT, adapter TEXT,
            route_score REAL, runner_up TEXT,
            prompt_tokens INTEGER, completion_tokens INTEGER,
            ttft_ms REAL, duration_ms REAL,
            error TEXT
        )
        """
    )
    db.execute("CREATE INDEX idx_messages_conversation ON messages(conversation_id, seq)")


@migrations()
def m003_add_messages_fts(db: Database) -> None:
    """Full-text index over message content, kept current by triggers, filled from the
    rows already stored."""
    db.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5("
        "content, content='messages', content_rowid='seq', tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute("INSERT INTO messages_fts (rowid, content) SELECT seq, content FROM messages")
    db.execute(
        "CREATE TRIGGER messages_ai AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content); END"
    )
    db.execute(
        "CREATE TRIGGER messages_ad AFTER DELETE ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.seq, old.content); END"
    )
    # Only a content change re-indexes; status and metadata updates leave the index alone.
    db.execute(
        "CREATE TRIGGER messages_au AFTER UPDATE OF content ON messages BEGIN "
        "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.seq, old.content); "
        "INSERT INTO messages_fts (rowid, content) VALUES (new.seq, new.content); END"
    )


@migrations()
def m004_add_conversation_summary(db: Database) -> None:
    """A rolling summary per conversation for context fitting, and the id of the last
    message it covers."""
    db["conversations"].add_column("summary", str)
    db["conversations"].add_column("summary_through", str)


@migrations()
def m005_create_message_embeddings(db: Database) -> None:
    """Sentence embeddings of messages for recall, per embedder model (a cache: computed
    lazily, deleted with their message, never exported)."""
    db.execute(
        """
        CREATE TABLE message_embeddings (
            message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (message_id, model)
        ) WITHOUT ROWID
        """
    )
    # A content change (a reply finished after streaming) makes the old vector stale.
    db.execute(
        "CREATE TRIGGER message_embeddings_au AFTER UPDATE OF content ON messages BEGIN "
        "DELETE FROM message_embeddings WHERE message_id = new.id; END"
    )


MIGRATION_NAMES: tuple[str, ...] = tuple(m.name for m in migrations._migrations)


def applied_names(db: Database) -> list[str]:
    """Names of the steps already applied to ``db``, in order."""
    return [m.name for m in migrations.applied(db)]


def apply_migrations(db: Database, *, stop_before: str | Iterable[str] | None = None,
                     migration_set: Migrations = migrations) -> list[str]:
    """Apply pending steps all-or-nothing; returns the names applied.

    The caller must not have a transaction open; ``db.conn`` should have a busy timeout so
    the immediate lock waits for another process instead of failing. ``migration_set`` is
    for tests (a copy of the steps with one made to fail).
    """
    if not migration_set.pending(db) and db["_sqlite_migrations"].exists():
        return []
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        before = set(applied_names(db))
        # Inside our transaction sqlite-utils' atomic() nests each step in a savepoint.
        migration_set.apply(db, stop_before=stop_before)
        done = [n for n in applied_names(db) if n not in before]
        db.conn.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    return done
