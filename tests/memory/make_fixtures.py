"""Write one fixture database per historical schema: ``fixtures/schema_NNN.db``.

``schema_000`` is a database with no tables; ``schema_00k`` has the first k migrations
applied and holds data in the shape that schema allowed. Run it when adding a migration
(``python tests/memory/make_fixtures.py``) and commit the new file; never regenerate the
old ones (they stand for databases users already have; a test checks they still match
the migration steps).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from sqlite_utils import Database

from assistant.memory.migrations import MIGRATION_NAMES, apply_migrations

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONVERSATIONS = [
    ("c0ffee00000000000000000000000001", "First chat", "2024-01-01T10:00:00.000000+00:00"),
    ("c0ffee00000000000000000000000002", "Zweites Gespräch – ünïcödé", "2024-01-02T10:00:00.000000+00:00"),
]
MESSAGES = [
    ("m1", CONVERSATIONS[0][0], "user", "How do I reverse a list in Python?", "complete"),
    ("m2", CONVERSATIONS[0][0], "assistant", "Use reversed(xs) or xs[::-1].", "complete"),
    ("m3", CONVERSATIONS[1][0], "user", "Wie spät ist es in Zürich?", "complete"),
    ("m4", CONVERSATIONS[1][0], "assistant", "Ich kann die Uhrzeit nicht abrufen, aber", "cancelled"),
]


def build(path: Path, steps: int) -> None:
    """A database at schema ``steps`` (0 = no tables), filled with sample rows."""
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    db = Database(conn)
    if steps:
        stop = MIGRATION_NAMES[steps] if steps < len(MIGRATION_NAMES) else None
        apply_migrations(db, stop_before=stop)
        for cid, title, at in CONVERSATIONS:
            conn.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                         (cid, title, at, at))
        if steps >= 2:
            for i, (mid, cid, role, content, status) in enumerate(MESSAGES):
                conn.execute("INSERT INTO messages (id, conversation_id, role, content, status, created_at, model) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", (mid, cid, role, content, status,
                                                              f"2024-01-0{i + 1}T10:00:01.000000+00:00", "qwen"))
        if steps >= 4:
            conn.execute("UPDATE conversations SET summary = ? WHERE id = ?", ("about lists", CONVERSATIONS[0][0]))
        conn.commit()
    conn.execute("VACUUM")
    conn.close()


def main() -> None:
    FIXTURES.mkdir(exist_ok=True)
    for k in range(len(MIGRATION_NAMES)):
        target = FIXTURES / f"schema_{k:03d}.db"
        if target.exists() and "--force" not in sys.argv:
            print(f"keeping {target.name}")
            continue
        build(target, k)
        print(f"wrote {target.name}")


if __name__ == "__main__":
    main()
