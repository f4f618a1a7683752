"""Every migration from every earlier schema, and failed migrations leave no trace."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database, Migrations

from assistant.errors import StoreError
from assistant.memory.migrations import MIGRATION_NAMES, MIGRATION_SET, applied_names, apply_migrations, migrations
from assistant.memory.store import Store
from tests.memory.make_fixtures import CONVERSATIONS, FIXTURES, MESSAGES, build

EARLIER = range(len(MIGRATION_NAMES))  # schema k = the first k steps applied


def _schema(path: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(path)
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name").fetchall()
    conn.close()
    return rows


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    lines = [line for line in conn.iterdump() if "_sqlite_migrations" not in line or "INSERT" not in line]
    applied = conn.execute("SELECT name FROM _sqlite_migrations ORDER BY id").fetchall() \
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_sqlite_migrations'").fetchone() else []
    conn.close()
    return lines + [f"applied:{a[0]}" for a in applied]


@pytest.mark.parametrize("k", EARLIER)
def test_committed_fixture_matches_the_migration_steps(k: int, tmp_path: Path) -> None:
    """Guards against editing an applied migration: the schema a user has on disk must be
    what the steps produce today."""
    fixture = FIXTURES / f"schema_{k:03d}.db"
    assert fixture.exists(), "run tests/memory/make_fixtures.py and commit the new file"
    build(tmp_path / "fresh.db", k)
    assert _schema(fixture) == _schema(tmp_path / "fresh.db")


@pytest.mark.parametrize("k", EARLIER)
def test_upgrade_from_every_earlier_schema_keeps_data(k: int, tmp_path: Path) -> None:
    path = tmp_path / "assistant.db"
    shutil.copy(FIXTURES / f"schema_{k:03d}.db", path)
    store = Store.open(path)
    assert applied_names(store.db) == list(MIGRATION_NAMES)
    assert store.notice is None
    convs = {c.id: c for c in store.list_conversations(include_archived=True)}
    if k >= 1:
        assert {cid: c.title for cid, c in convs.items()} == {cid: t for cid, t, _ in CONVERSATIONS}
    if k >= 2:
        got = [(m.id, m.content, m.status) for cid, _, _ in CONVERSATIONS for m in store.messages(cid)]
        assert got == [(mid, content, status) for mid, _, _, content, status in MESSAGES]
        # The full-text index covers rows stored before it existed.
        assert [h.message_id for h in store.search("reversed")] == ["m2"]
        assert [h.message_id for h in store.search("zurich")] == ["m3"]  # diacritics folded
    # The upgraded file works like a new one and matches a fresh database's schema.
    cid = store.create_conversation("after upgrade")
    store.add_message(cid, "user", "still works")
    store.set_summary(cid, "s")
    assert store.integrity_check() == "ok"
    store.close()
    fresh = tmp_path / "fresh.db"
    Store.open(fresh).close()
    assert _schema(path) == _schema(fresh)


def _failing_copy(fail_at: str) -> Migrations:
    """The real steps, with ``fail_at`` doing its work and then raising."""
    copy = Migrations(MIGRATION_SET)
    for m in migrations._migrations:
        fn = m.fn
        if m.name == fail_at:
            def boom(db: Database, _fn=fn) -> None:
                _fn(db)
                raise RuntimeError("injected failure")
            copy(name=m.name)(boom)
        else:
            copy(name=m.name)(fn)
    return copy


@pytest.mark.parametrize("start,fail", [(s, f) for s in EARLIER for f in range(s, len(MIGRATION_NAMES))])
def test_failure_at_step_k_leaves_the_database_unchanged(start: int, fail: int, tmp_path: Path) -> None:
    path = tmp_path / "assistant.db"
    shutil.copy(FIXTURES / f"schema_{start:03d}.db", path)
    before = _dump(path)
    db = Database(sqlite3.connect(path))
    with pytest.raises(RuntimeError, match="injected"):
        apply_migrations(db, migration_set=_failing_copy(MIGRATION_NAMES[fail]))
    assert not db.conn.in_transaction
    db.close()
    assert _dump(path) == before
    # And the real steps still upgrade it afterwards.
    Store.open(path).close()
    assert applied_names(Database(path)) == list(MIGRATION_NAMES)


def test_a_failed_upgrade_through_store_open_is_a_clear_error_not_data_loss(tmp_path: Path, monkeypatch) -> None:
    from assistant.memory import store as store_mod

    path = tmp_path / "assistant.db"
    shutil.copy(FIXTURES / "schema_002.db", path)
    before = _dump(path)

    def failing(db, **kw):
        return apply_migrations(db, migration_set=_failing_copy(MIGRATION_NAMES[3]))

    monkeypatch.setattr(store_mod, "apply_migrations", failing)
    with pytest.raises(StoreError, match="could not upgrade") as err:
        Store.open(path)
    assert "unchanged" in err.value.hint
    assert _dump(path) == before
    assert not list(tmp_path.glob("*.corrupt-*"))  # a failed migration never moves the file aside


def test_migrating_twice_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    Store.open(path).close()
    db = Database(path)
    assert apply_migrations(db) == []
    assert db["_sqlite_migrations"].count == len(MIGRATION_NAMES)
