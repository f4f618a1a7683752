"""RELIABILITY.md row 11: crashes, a full disk, damaged files and two processes at once."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.memory.store import Store

WORKER = Path(__file__).resolve().parent / "worker.py"
ROOT = Path(__file__).resolve().parents[2]


def _spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, str(WORKER), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_at_a_random_moment_loses_no_acknowledged_message(seed: int, tmp_path: Path) -> None:
    db = tmp_path / "assistant.db"
    rng = random.Random(seed)
    proc = _spawn("write", str(db), "100000")
    conv = proc.stdout.readline().split()[1]
    acked: list[str] = []
    deadline = time.monotonic() + rng.uniform(0.3, 1.5)
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line.startswith("ack "), proc.stderr.read()
        acked.append(line.split()[1])
    os.kill(proc.pid, signal.SIGKILL)
    # Acks already in the pipe were written before the kill: they count too.
    rest, _ = proc.communicate()
    acked += [ln.split()[1] for ln in rest.splitlines() if ln.startswith("ack ")]
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) > 10
    store = Store.open(db)
    assert store.notice is None
    assert store.integrity_check() == "ok"
    stored = {m.id for m in store.messages(conv)}
    missing = [a for a in acked if a not in stored]
    assert missing == []
    # The FTS index agrees with the table (external-content integrity check).
    store.db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
    store.close()


def test_disk_full_is_a_clear_error_and_the_store_keeps_working(tmp_path: Path) -> None:
    db = tmp_path / "assistant.db"
    proc = _spawn("fill", str(db), "400000")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["type"] == "StoreError"
    assert "disk is full" in report["error"] and "free some disk space" in report["hint"]
    assert report["readable"] == report["acked"] - 1  # reads worked right after the failure
    store = Store.open(db)
    assert store.integrity_check() == "ok"
    assert store.count_messages() == report["acked"]


def test_translate_reports_sqlite_full() -> None:
    from assistant.memory.connection import translate

    exc = sqlite3.OperationalError("database or disk is full")
    exc.sqlite_errorcode = 13
    exc.sqlite_errorname = "SQLITE_FULL"
    err = translate(exc, Path("/x/assistant.db"))
    assert err.message == "the disk is full: could not save to /x/assistant.db"


@pytest.mark.parametrize("damage", ["garbage", "bad_header", "truncated_wal_db"])
def test_damaged_file_is_moved_aside_and_a_fresh_store_started(damage: str, tmp_path: Path) -> None:
    db = tmp_path / "assistant.db"
    if damage == "garbage":
        db.write_bytes(os.urandom(10_000))
    else:
        store = Store.open(db)
        cid = store.create_conversation("precious")
        for i in range(200):
            store.add_message(cid, "user", f"message {i} " + "y" * 500)
        store.close()
        data = bytearray(db.read_bytes())
        if damage == "bad_header":
            data[0:16] = b"not a database!!"
        else:
            data = data[: len(data) // 3] + os.urandom(4096) * 3  # a torn copy
            data[16:18] = b"\x00\x00"  # invalid page size
        db.write_bytes(bytes(data))
    original = db.read_bytes()
    store = Store.open(db)
    assert store.notice is not None and "moved to" in store.notice
    aside = list(tmp_path.glob("assistant.db.corrupt-*"))
    assert [p.name for p in aside if not p.name.endswith(("-wal", "-shm"))] and \
        next(p for p in aside if not p.name.endswith(("-wal", "-shm"))).read_bytes() == original
    cid = store.create_conversation("new")
    store.add_message(cid, "user", "works again")
    assert store.integrity_check() == "ok"
    store.close()
    # Opening again is quiet, and a second damage never overwrites the first one kept aside.
    assert Store.open(db).notice is None
    db.write_bytes(b"junk" * 1000)
    Store.open(db).close()
    assert len([p for p in tmp_path.glob("assistant.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]) == 2


def test_two_processes_never_see_database_is_locked(tmp_path: Path) -> None:
    db = tmp_path / "assistant.db"
    Store.open(db).close()
    writers = [_spawn("write", str(db), "150") for _ in range(2)]
    reader = _spawn("read", str(db), "3")
    # This process writes too, through its own store, while the others run.
    mine = Store.open(db)
    cid = mine.create_conversation("parent")
    for i in range(150):
        mine.add_message(cid, "user", f"parent message {i}")
    results = [p.communicate(timeout=120) for p in (*writers, reader)]
    for proc, (_out, err) in zip((*writers, reader), results, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err.lower() and "busy" not in err.lower()
    assert json.loads(results[2][0].strip().splitlines()[-1])["rounds"] > 0
    acked = [ln.split()[1] for out, _ in results[:2] for ln in out.splitlines() if ln.startswith("ack ")]
    assert len(acked) == 2 * 300
    assert mine.count_messages() == 150 + 600
    assert mine.integrity_check() == "ok"
    mine.close()
