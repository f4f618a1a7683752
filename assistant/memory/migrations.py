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
    db.table("conversations").create(
        {"id": str, "title": str, "created_at": str, "updated_at": str, "pinned": int, "archived": int},
        pk="id",
        not_null={"created_at", "updated_at"},
        defaults={"title": "", "pinned": 0, "archived": 0},
    )
    db.table("conversations").create_index(["updated_at"], index_name="idx_conversations_updated")


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
    db.table("conversations").add_column("summary", str)
    db.table("conversations").add_column("summary_through", str)


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


@migrations()
def m006_create_documents(db: Database) -> None:
    """Document collections (folders the user added), their files with a content hash, the
    files' chunks with page/line locations, full-text search over chunks (kept current by
    triggers) and chunk embeddings per embedder model. Deleting a collection deletes its
    files, chunks, index entries and vectors (foreign keys cascade; the FTS trigger follows).
    ``docs_vectors.seq`` only grows, so ``(count, max(seq))`` tells a reader its cache is stale."""
    db.execute(
        """
        CREATE TABLE docs_collections (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            root TEXT NOT NULL UNIQUE,
            globs TEXT NOT NULL DEFAULT '[]',
            max_bytes INTEGER,
            created_at TEXT NOT NULL,
            indexed_at TEXT,
            state TEXT NOT NULL DEFAULT 'new',
            files_total INTEGER NOT NULL DEFAULT 0,
            files_done INTEGER NOT NULL DEFAULT 0,
            heartbeat_at TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE docs_files (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            collection_id INTEGER NOT NULL REFERENCES docs_collections(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            size INTEGER, mtime_ns INTEGER, sha256 TEXT,
            kind TEXT, unit TEXT,
            status TEXT NOT NULL,
            reason TEXT,
            chunks INTEGER NOT NULL DEFAULT 0,
            indexed_at TEXT NOT NULL,
            UNIQUE (collection_id, path)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE docs_chunks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            file_id INTEGER NOT NULL REFERENCES docs_files(id) ON DELETE CASCADE,
            ordinal INTEGER NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            heading TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL,
            page INTEGER, line_start INTEGER, line_end INTEGER
        )
        """
    )
    db.execute("CREATE INDEX idx_docs_chunks_file ON docs_chunks(file_id, ordinal)")
    db.execute(
        "CREATE VIRTUAL TABLE docs_chunks_fts USING fts5(text, heading, title, content='docs_chunks', "
        "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TRIGGER docs_chunks_ai AFTER INSERT ON docs_chunks BEGIN "
        "INSERT INTO docs_chunks_fts (rowid, text, heading, title) VALUES (new.id, new.text, new.heading, new.title); END"
    )
    db.execute(
        "CREATE TRIGGER docs_chunks_ad AFTER DELETE ON docs_chunks BEGIN "
        "INSERT INTO docs_chunks_fts (docs_chunks_fts, rowid, text, heading, title) "
        "VALUES ('delete', old.id, old.text, old.heading, old.title); END"
    )
    db.execute(
        """
        CREATE TABLE docs_vectors (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            chunk_id INTEGER NOT NULL REFERENCES docs_chunks(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            dim INTEGER NOT NULL,
            vector BLOB NOT NULL,
            UNIQUE (chunk_id, model)
        )
        """
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
