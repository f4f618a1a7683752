"""Indexing in the background, and the read-only access a skill is handed.

:class:`DocsService` belongs to the pipeline: the first time a skill that declares the
``docs`` tool runs (and again when the last refresh is older than ``refresh_every_s``), it
re-scans every collection and embeds new chunks in a daemon thread, so the chat never waits
for an index. :class:`DocsAccess` is what the skill sees: search, the collections and their
state, and a short wait for a refresh that is nearly done. A search while indexing answers
from what is indexed so far, and its :class:`DocsResult` says so.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

from assistant.docs.hits import DocsResult
from assistant.docs.index import Collection, DocsIndex
from assistant.docs.search import DocsSearch

if TYPE_CHECKING:
    from assistant.memory.store import Store
    from assistant.router.embedders import Embedder

log = logging.getLogger(__name__)
REFRESH_EVERY_S = 60.0


@dataclass
class _Progress:
    collection: str = ""
    stage: str = ""
    done: int = 0
    total: int = 0


class DocsService:
    """Owns background indexing of the user's collections.

    Args:
        store: the conversation store (holds the index).
        embedder: returns the embedder (the router's), or None while it is loading.
        min_similarity: the relevance floor; None: the embedder's own ``related_similarity``.
        refresh_every_s: how old the last refresh may be before a skill's turn starts another.
    """

    def __init__(self, store: "Store", embedder: Callable[[], "Embedder | None"] | None = None, *,
                 min_similarity: float | None = None, refresh_every_s: float = REFRESH_EVERY_S) -> None:
        self.index = DocsIndex(store)
        self._embedder = embedder or (lambda: None)
        self.search = DocsSearch(store, self._embedder)
        self.min_similarity = min_similarity
        self.refresh_every_s = refresh_every_s
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._finished_at: float | None = None
        self.progress = _Progress()
        self.errors: list[str] = []

    # Background refresh ------------------------------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        """Start a background re-scan and embedding of every collection, unless one is
        running or the last one is recent (``force`` ignores recency). True if started."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            recent = self._finished_at is not None and time.monotonic() - self._finished_at < self.refresh_every_s
            if recent and not force:
                return False
            self._thread = threading.Thread(target=self._run, name="docs-index", daemon=True)
            self._thread.start()
            return True

    @property
    def busy(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a running refresh; True when none is running."""
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, timeout))
        return not self.busy

    def close(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self.wait(timeout)

    def _run(self) -> None:
        try:
            for coll in self.index.collections():
                if self._stop.is_set():
                    return
                self._refresh_one(coll)
        except Exception as exc:  # noqa: BLE001 - a background failure is reported, never raised into the chat
            log.warning("docs: background indexing failed: %s", exc)
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self._finished_at = time.monotonic()
            self.progress = _Progress()

    def _refresh_one(self, coll: Collection) -> None:
        def report(stage: str, done: int, total: int) -> None:
            self.progress = _Progress(coll.name, stage, done, total)

        try:
            self.index.scan(coll.name, progress=report, stop=self._stop.is_set)
        except Exception as exc:  # noqa: BLE001 - one broken collection (its folder gone) must not stop the rest
            log.warning("docs: could not re-scan %s: %s", coll.name, exc)
            self.errors.append(f"{coll.name}: {exc}")
            return
        embedder = self._embedder()
        if embedder is not None:
            self.index.embed_pending(embedder, [coll.id], progress=report, stop=self._stop.is_set)

    def access(self) -> "DocsAccess":
        """What one skill turn gets (starts a refresh when the last one is old)."""
        self.refresh()
        return DocsAccess(self)


class DocsAccess:
    """Read-only document search for a skill that declares the ``docs`` tool."""

    def __init__(self, service: DocsService) -> None:
        self._service = service

    def _model(self) -> str | None:
        embedder = self._service._embedder()
        return embedder.name if embedder is not None else None

    def collections(self) -> list[Collection]:
        """Every collection, with its counts and state."""
        return self._service.index.collections(self._model())

    def wait_ready(self, timeout: float) -> Iterator[tuple[str, float | None]]:
        """Wait up to ``timeout`` seconds for a running refresh, yielding (message, fraction)
        about every half second so the skill can show progress."""
        service = self._service
        deadline = time.monotonic() + max(0.0, timeout)
        while service.busy and time.monotonic() < deadline:
            p = service.progress
            if p.total:
                yield f"indexing {p.collection}: {p.stage} {p.done}/{p.total}", p.done / p.total
            service.wait(min(0.5, max(0.0, deadline - time.monotonic())))

    def search(self, query: str, collections: list[str] | None = None, limit: int = 6) -> DocsResult:
        """The best chunks for ``query`` (in the named collections), the relevance floor,
        and a note when the index is incomplete."""
        service = self._service
        hits = service.search.search(query, collections=collections, limit=limit)
        embedder = service._embedder()
        if service.min_similarity is not None:
            floor = service.min_similarity
        else:
            floor = float(getattr(embedder, "related_similarity", 0.0)) if embedder is not None else 0.0
        return DocsResult(hits, floor, self._note(collections, embedder))

    def _note(self, names: list[str] | None, embedder: "Embedder | None") -> str | None:
        cols = [c for c in self.collections() if names is None or c.name in names]
        parts = []
        for c in (c for c in cols if c.state == "indexing"):
            parts.append(f"'{c.name}' is still being indexed ({c.files_done} of {c.files_total} files read)")
        if embedder is None:
            parts.append("the embedding model is still loading, so only keywords were matched")
        else:
            behind = sum(max(0, c.chunks - c.embedded) for c in cols)
            if behind:
                parts.append(f"{behind} passages are not embedded yet")
        interrupted = [c.name for c in cols if c.state == "interrupted"]
        if interrupted:
            parts.append(f"indexing of {', '.join(interrupted)} was interrupted (`assistant docs reindex`)")
        if not parts:
            return None
        return "; ".join(parts) + ". This answer uses what is indexed so far."
