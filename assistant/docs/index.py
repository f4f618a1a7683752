"""Collections, files, chunks and vectors in the conversation database (migration m006).

:class:`DocsIndex` adds and removes collections, scans a collection's folder (only files
whose size or modification time changed are read; only files whose content hash changed
are chunked again; files gone from the folder are deleted with their chunks and vectors),
and embeds chunks that have no vector yet, in batches. Writes go through the store's
transactions in small batches, so a search running meanwhile sees what is indexed so far.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from assistant.docs.chunker import chunk_blocks
from assistant.docs.document import Skip
from assistant.docs.readers import file_kind, read_document
from assistant.docs.walk import MAX_FILE_BYTES, Entry, read_bytes, walk
from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.memory.store import Store
    from assistant.router.embedders import Embedder

Progress = Callable[[str, int, int], None]  # (stage, done, total)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
WRITE_EVERY_FILES = 50
WRITE_EVERY_S = 0.5
EMBED_BATCH = 64
STALE_AFTER_S = 120.0  # an "indexing" state older than this was left by a process that died


class DocsError(AssistantError):
    """A collection could not be added, found or indexed."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def slug(text: str) -> str:
    """A collection name from a folder name: lower case, ``-`` for anything else."""
    out = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")[:40]
    return out or "docs"


@dataclass(frozen=True)
class Collection:
    """A folder the user added, and how far its index is.

    Attributes:
        state: ``new``, ``indexing``, ``ready`` or ``interrupted`` (an indexer stopped midway).
        files: files indexed; skipped: files listed with a reason; chunks: chunks stored;
        embedded: chunks with a vector for the embedder asked about (0 when none was named).
    """

    id: int
    name: str
    root: str
    globs: list[str]
    state: str
    created_at: str
    indexed_at: str | None = None
    files_total: int = 0
    files_done: int = 0
    files: int = 0
    skipped: int = 0
    chunks: int = 0
    embedded: int = 0
    max_bytes: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ScanReport:
    """What one scan did."""

    collection: str
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _title(rel: str) -> str:
    stem = rel.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return " ".join(re.split(r"[_\W]+", stem)).strip()


class DocsIndex:
    """The document index inside a :class:`~assistant.memory.store.Store`.

    Args:
        store: the conversation store (its database holds the index).
    """

    def __init__(self, store: "Store") -> None:
        self.store = store

    # Collections -----------------------------------------------------------------------
    def add(self, root: Path | str, name: str | None = None, globs: list[str] | None = None,
            max_bytes: int | None = None) -> Collection:
        """Register a folder as a collection (nothing is read yet; see :meth:`scan`).

        Raises:
            DocsError: not a folder, a bad or taken name, or the folder is already added.
        """
        folder = Path(root).expanduser()
        if not folder.is_dir():
            raise DocsError(f"{folder} is not a folder", "give the path of a folder with your documents")
        folder = folder.resolve()
        name = name.strip().lower() if name else slug(folder.name)
        if not NAME_RE.match(name):
            raise DocsError(f"'{name}' is not a valid collection name",
                            "use up to 40 lower-case letters, digits, '-' or '_'")
        for c in self.collections():
            if c.name == name:
                raise DocsError(f"a collection named '{name}' already exists ({c.root})", "choose another --name")
            if c.root == str(folder):
                raise DocsError(f"{folder} is already the collection '{c.name}'",
                                f"run `assistant docs reindex {c.name}`")
        self.store.transaction(lambda c: c.execute(
            "INSERT INTO docs_collections (name, root, globs, max_bytes, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, str(folder), json.dumps(list(globs or [])), max_bytes, now_iso())))
        return self.get(name)

    def collections(self, model: str | None = None) -> list[Collection]:
        """Every collection with its counts (``embedded`` counts vectors of ``model``)."""
        rows = self.store.select(
            "SELECT c.*, "
            "(SELECT count(*) FROM docs_files f WHERE f.collection_id = c.id AND f.status = 'indexed') AS files, "
            "(SELECT count(*) FROM docs_files f WHERE f.collection_id = c.id AND f.status = 'skipped') AS skipped, "
            "(SELECT coalesce(sum(f.chunks), 0) FROM docs_files f WHERE f.collection_id = c.id) AS chunks, "
            "(SELECT count(*) FROM docs_vectors v JOIN docs_chunks k ON k.id = v.chunk_id JOIN docs_files f "
            " ON f.id = k.file_id WHERE f.collection_id = c.id AND v.model = ?) AS embedded "
            "FROM docs_collections c ORDER BY c.name", (model or "",))
        return [self._collection(r) for r in rows]

    @staticmethod
    def _collection(r: dict[str, Any]) -> Collection:
        state = r["state"]
        if state == "indexing" and r.get("heartbeat_at"):
            beat = datetime.fromisoformat(r["heartbeat_at"])
            if (datetime.now(UTC) - beat).total_seconds() > STALE_AFTER_S:
                state = "interrupted"
        return Collection(id=r["id"], name=r["name"], root=r["root"], globs=json.loads(r["globs"] or "[]"),
                          state=state, created_at=r["created_at"], indexed_at=r["indexed_at"],
                          files_total=r["files_total"], files_done=r["files_done"], files=r["files"],
                          skipped=r["skipped"], chunks=r["chunks"], embedded=r["embedded"], max_bytes=r["max_bytes"])

    def get(self, name: str, model: str | None = None) -> Collection:
        """The collection called ``name``.

        Raises:
            DocsError: no such collection.
        """
        for c in self.collections(model):
            if c.name == name.strip().lower():
                return c
        known = ", ".join(c.name for c in self.collections()) or "none yet"
        raise DocsError(f"no collection named '{name}'", f"collections: {known}; add one with `assistant docs add PATH`")

    def remove(self, name: str) -> Collection:
        """Delete a collection: its files, chunks, full-text entries and vectors."""
        coll = self.get(name)
        self.store.transaction(lambda c: c.execute("DELETE FROM docs_collections WHERE id = ?", (coll.id,)))
        return coll

    def skipped(self, name: str) -> list[tuple[str, str]]:
        """(path, reason) of each file the collection lists as skipped."""
        coll = self.get(name)
        rows = self.store.select("SELECT path, reason FROM docs_files WHERE collection_id = ? AND status = 'skipped' "
                                "ORDER BY path", (coll.id,))
        return [(r["path"], r["reason"] or "") for r in rows]

    def set_state(self, coll: Collection, state: str, total: int | None = None, done: int | None = None) -> None:
        sets = ["state = ?", "heartbeat_at = ?"]
        params: list[str | int] = [state, now_iso()]
        if total is not None:
            sets.append("files_total = ?")
            params.append(total)
        if done is not None:
            sets.append("files_done = ?")
            params.append(done)
        if state == "ready":
            sets.append("indexed_at = ?")
            params.append(now_iso())
        self.store.transaction(lambda c: c.execute(f"UPDATE docs_collections SET {', '.join(sets)} WHERE id = ?",
                                              (*params, coll.id)))

    # Scanning --------------------------------------------------------------------------
    def scan(self, name: str, *, full: bool = False, progress: Progress | None = None,
             stop: Callable[[], bool] | None = None) -> ScanReport:
        """Bring the collection's files and chunks up to date with its folder.

        Args:
            name: the collection.
            full: read every file again (its hash still decides whether it is re-chunked).
            progress: called with ("reading", done, total).
            stop: checked between files; when it returns True the scan ends early.
        """
        started = time.perf_counter()
        coll = self.get(name)
        root = Path(coll.root)
        report = ScanReport(coll.name)
        if not root.is_dir():
            raise DocsError(f"the folder of '{coll.name}' ({root}) is gone", f"`assistant docs rm {coll.name}` removes it")
        limit = coll.max_bytes or MAX_FILE_BYTES
        known = {r["path"]: r for r in self.store.select(
            "SELECT id, path, size, mtime_ns, sha256, status FROM docs_files WHERE collection_id = ?", (coll.id,))}
        entries = list(walk(root, coll.globs, limit))
        self.set_state(coll, "indexing", total=len(entries), done=0)
        writer = _BatchWriter(self, coll)
        seen: set[str] = set()
        stopped = False
        for done, entry in enumerate(entries, 1):
            if stop is not None and stop():
                stopped = True
                break
            seen.add(entry.rel)
            self._scan_one(entry, known.get(entry.rel), root, limit, full, writer, report)
            if progress:
                progress("reading", done, len(entries))
            writer.maybe_flush(done)
        else:
            gone = [r["id"] for path, r in known.items() if path not in seen]
            report.removed = len(gone)
            writer.deletes += gone
        writer.flush(len(seen), "interrupted" if stopped else "ready")
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def _scan_one(self, entry: Entry, old: dict[str, Any] | None, root: Path, limit: int, full: bool,
                  writer: "_BatchWriter", report: ScanReport) -> None:
        if old is not None and not full and old["size"] == entry.size and old["mtime_ns"] == entry.mtime_ns:
            report.unchanged += 1  # an unchanged file that was skipped before stays skipped
            return
        if entry.skip is not None:
            report.skipped.append((entry.rel, entry.skip))
            writer.files.append((entry, None, None, None, entry.skip))
            return
        try:
            data = read_bytes(entry, root, limit)
            digest = hashlib.sha256(data).hexdigest()
            if old is not None and old["sha256"] == digest and old["status"] == "indexed":
                report.unchanged += 1
                writer.touches.append((entry.size, entry.mtime_ns, old["id"]))
                return
            doc = read_document(entry.rel, data)
        except Skip as skip:
            report.skipped.append((entry.rel, skip.reason))
            writer.files.append((entry, None, None, None, skip.reason))
            return
        chunks = chunk_blocks(doc.blocks)
        if old is None:
            report.added += 1
        else:
            report.changed += 1
        report.chunks += len(chunks)
        writer.files.append((entry, digest, doc.unit, chunks, None))

    # Embeddings ------------------------------------------------------------------------
    def missing_vectors(self, model: str, collection_ids: list[int] | None = None) -> list[int]:
        """Ids of chunks with no vector for ``model`` (in the given collections)."""
        where, params = self._in_collections(collection_ids)
        rows = self.store.select(
            "SELECT k.id FROM docs_chunks k JOIN docs_files f ON f.id = k.file_id LEFT JOIN docs_vectors v "
            f"ON v.chunk_id = k.id AND v.model = ? WHERE v.chunk_id IS NULL{where} ORDER BY k.id",
            (model, *params))
        return [r["id"] for r in rows]

    @staticmethod
    def _in_collections(ids: list[int] | None) -> tuple[str, tuple]:
        if ids is None:
            return "", ()
        return f" AND f.collection_id IN ({', '.join('?' * len(ids))})", tuple(ids)

    def embed_pending(self, embedder: "Embedder", collection_ids: list[int] | None = None, *,
                      batch: int = EMBED_BATCH, progress: Progress | None = None,
                      stop: Callable[[], bool] | None = None) -> int:
        """Embed every chunk that has no vector for ``embedder``, ``batch`` at a time; returns
        how many were embedded. A chunk deleted meanwhile is skipped, not an error."""
        ids = self.missing_vectors(embedder.name, collection_ids)
        done = 0
        for start in range(0, len(ids), batch):
            if stop is not None and stop():
                break
            part = ids[start:start + batch]
            rows = self.store.select(f"SELECT id, heading, text FROM docs_chunks WHERE id IN ({', '.join('?' * len(part))})",
                                    tuple(part))
            if rows:
                texts = [embed_text(r["heading"], r["text"]) for r in rows]
                vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
                values = [(r["id"], embedder.name, int(v.shape[0]), v.tobytes(), r["id"]) for r, v in zip(rows, vectors, strict=False)]

                def write(c: sqlite3.Connection, vals: list[tuple[Any, str, int, bytes, Any]] = values) -> None:
                    c.executemany("INSERT OR IGNORE INTO docs_vectors (chunk_id, model, dim, vector) SELECT ?, ?, ?, ? "
                                  "WHERE EXISTS (SELECT 1 FROM docs_chunks WHERE id = ?)", vals)

                self.store.transaction(write)
            done += len(part)
            if progress:
                progress("embedding", done, len(ids))
        return done


def embed_text(heading: str, text: str) -> str:
    """What is embedded for a chunk: its heading path, then its text."""
    return f"{heading}\n{text}" if heading else text


class _BatchWriter:
    """Collects a scan's results and writes them a batch at a time (one transaction each)."""

    def __init__(self, index: DocsIndex, coll: Collection) -> None:
        self.index, self.coll = index, coll
        self.files: list[tuple[Entry, str | None, str | None, list | None, str | None]] = []
        self.touches: list[tuple[int, int, int]] = []
        self.deletes: list[int] = []
        self.last = time.monotonic()

    def maybe_flush(self, done: int) -> None:
        if len(self.files) >= WRITE_EVERY_FILES or (self.files and time.monotonic() - self.last > WRITE_EVERY_S):
            self.flush(done, "indexing")

    def flush(self, done: int, state: str = "ready") -> None:
        files, touches, deletes = self.files, self.touches, self.deletes
        self.files, self.touches, self.deletes = [], [], []
        coll_id, at = self.coll.id, now_iso()

        def run(c) -> None:
            for entry, digest, unit, chunks, reason in files:
                _store_file(c, coll_id, entry, digest, unit, chunks, reason, at)
            c.executemany("UPDATE docs_files SET size = ?, mtime_ns = ? WHERE id = ?", touches)
            c.executemany("DELETE FROM docs_files WHERE id = ?", [(i,) for i in deletes])
            c.execute("UPDATE docs_collections SET files_done = ?, heartbeat_at = ?, state = ?, "
                      "indexed_at = CASE WHEN ? = 'ready' THEN ? ELSE indexed_at END WHERE id = ?",
                      (done, at, state, state, at, coll_id))

        self.index.store.transaction(run)
        self.last = time.monotonic()


def _store_file(c, coll_id: int, entry: Entry, digest: str | None, unit: str | None, chunks: list | None,
                reason: str | None, at: str) -> None:
    """Replace one file's row and chunks (old chunks, their FTS entries and vectors go)."""
    row = c.execute("SELECT id FROM docs_files WHERE collection_id = ? AND path = ?", (coll_id, entry.rel)).fetchone()
    status = "skipped" if reason else "indexed"
    values = (entry.size, entry.mtime_ns, digest, file_kind(entry.rel), unit, status, reason, len(chunks or ()), at)
    if row is None:
        cur = c.execute("INSERT INTO docs_files (size, mtime_ns, sha256, kind, unit, status, reason, chunks, "
                        "indexed_at, collection_id, path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (*values, coll_id, entry.rel))
        file_id = cur.lastrowid
    else:
        file_id = row[0]
        c.execute("DELETE FROM docs_chunks WHERE file_id = ?", (file_id,))
        c.execute("UPDATE docs_files SET size = ?, mtime_ns = ?, sha256 = ?, kind = ?, unit = ?, status = ?, "
                  "reason = ?, chunks = ?, indexed_at = ? WHERE id = ?", (*values, file_id))
    title = _title(entry.rel)
    c.executemany("INSERT INTO docs_chunks (file_id, ordinal, title, heading, text, page, line_start, line_end) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                  [(file_id, i, title, k.heading, k.text, k.page, k.start, k.end) for i, k in enumerate(chunks or ())])
