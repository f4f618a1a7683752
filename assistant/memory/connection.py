"""Opening the database file safely and turning SQLite failures into user errors.

Policy, in one place:

* WAL journal with ``synchronous=FULL``: a commit that returned is on disk, even after a
  power cut (NORMAL can lose the last commits).
* A busy timeout, ``BEGIN IMMEDIATE`` for every write and a retry with backoff around whole
  transactions, so a second process (a CLI export while the TUI runs) waits its turn instead
  of surfacing "database is locked".
* A file that is not a database, or is damaged, is renamed aside (never overwritten or
  deleted) together with its ``-wal``/``-shm`` files, and a fresh database is started.
"""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, TypeVar

from assistant.errors import StoreError

T = TypeVar("T")

BUSY_TIMEOUT_S = 5.0
RETRY_DEADLINE_S = 30.0
_BUSY_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED (primary codes)
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_FULL = 13
_IOERR = 10
_READONLY = 8
_WRITE_ERRORS = {"SQLITE_IOERR_WRITE", "SQLITE_IOERR_FSYNC", "SQLITE_IOERR_TRUNCATE"}


def primary_code(exc: BaseException) -> int | None:
    """The primary SQLite result code of an exception, if it carries one."""
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_busy(exc: BaseException) -> bool:
    if primary_code(exc) in _BUSY_CODES:
        return True
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


def is_corrupt(exc: BaseException) -> bool:
    if primary_code(exc) in _CORRUPT_CODES:
        return True
    text = str(exc).lower()
    return "file is not a database" in text or "malformed" in text


def translate(exc: sqlite3.Error, path: Path | None) -> StoreError:
    """A StoreError saying what happened and what to do, for any sqlite3 error."""
    where = str(path) if path else "the in-memory database"
    code = primary_code(exc)
    name = getattr(exc, "sqlite_errorname", "") or type(exc).__name__
    if code == _FULL or "disk is full" in str(exc).lower():
        return StoreError(
            f"the disk is full: could not save to {where}",
            "free some disk space and try again; what was saved before is safe",
        )
    if name in _WRITE_ERRORS:
        # What a full disk or a file-size limit looks like when write() fails outright.
        return StoreError(
            f"could not save to {where}: the disk is full or the file cannot grow ({name})",
            "free some disk space and try again; what was saved before is safe",
        )
    if code == _IOERR:
        return StoreError(
            f"could not read or write {where} ({name})",
            "the disk may be failing or was removed; check it, then try again",
        )
    if code == _READONLY:
        return StoreError(f"{where} is read-only", "check the file's permissions and the free space on its disk")
    if is_busy(exc):
        return StoreError(
            f"the conversation database {where} stayed busy (another assistant process is using it)",
            "try again in a moment",
        )
    if is_corrupt(exc):
        return StoreError(
            f"the conversation database {where} is damaged",
            "reopen the app: a damaged file is moved aside and a fresh one started",
        )
    return StoreError(f"conversation database error: {exc}", "try again; if it keeps failing, report it")


def retry_busy(fn: Callable[[], T], *, deadline_s: float = RETRY_DEADLINE_S,
               on_retry: Callable[[], None] | None = None) -> T:
    """Run ``fn``, retrying with jittered backoff while SQLite reports busy/locked.

    The busy timeout already waits inside SQLite; this covers the cases it cannot (a
    deferred transaction whose snapshot went stale, a checkpoint or recovery in progress).
    """
    start = time.monotonic()
    delay = 0.005
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() - start > deadline_s:
                raise
            if on_retry:
                on_retry()
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)


def connect(path: Path | None, busy_timeout_s: float = BUSY_TIMEOUT_S) -> sqlite3.Connection:
    """Open a connection with the store's pragmas; ``None`` means in memory.

    The connection may be used from several threads; the store serialises access with a
    lock (``check_same_thread=False``).
    """
    target = ":memory:" if path is None else str(path)
    conn = sqlite3.connect(target, timeout=busy_timeout_s, check_same_thread=False)
    try:
        # Touch the header first: a file that is not a database fails here.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if path is not None:
            mode = retry_busy(lambda: conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            if str(mode).lower() != "wal":
                raise StoreError(f"could not switch {path} to WAL mode (got {mode})",
                                 "put the data dir on a local disk (WAL needs shared memory)")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        conn.close()
        raise
    return conn


def move_aside(path: Path) -> Path:
    """Rename a damaged database (and its WAL/SHM files) to a unique ``.corrupt-`` name."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = path.with_name(f"{path.name}.corrupt-{stamp}")
    target, n = base, 1
    while any(Path(f"{target}{s}").exists() for s in ("", "-wal", "-shm")):
        target = base.with_name(f"{base.name}-{n}")
        n += 1
    path.rename(target)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            side.rename(Path(f"{target}{suffix}"))
    return target
