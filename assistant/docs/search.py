"""Ranking chunks for a question: FTS5 keywords, embedding cosine, or both fused.

The hybrid ranking is reciprocal rank fusion (each ranking adds ``weight / (k + rank)``) of
the BM25 order of chunks matching any of the query's content words and the cosine order of
chunk vectors. Vectors are held in memory, re-read only when ``docs_vectors`` changed (its
row count or its ever-growing ``seq``), so a query costs one FTS5 lookup, one query
embedding and one matrix product.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Callable, Literal

import numpy as np

from assistant.docs.hits import DocHit, content_words

if TYPE_CHECKING:
    from assistant.memory.store import Store
    from assistant.router.embedders import Embedder

log = logging.getLogger(__name__)
Mode = Literal["hybrid", "fts", "vector"]
# Fusion parameters, chosen by `benchmarks/docs_retrieval.py --sweep` on the DialogSum
# *validation* split (best MRR@10 of a k x weight grid; the surface is flat within 0.005
# around it), never on the XSum or DialogSum test figures that are reported.
RRF_K = 5
FTS_WEIGHT = 1.0
VECTOR_WEIGHT = 0.5
CANDIDATES = 50
BM25_WEIGHTS = (1.0, 0.5, 0.5)  # text, heading, file title
def fuse(rankings: list[tuple[list[int], float]], k: float = RRF_K) -> tuple[list[int], dict[int, float]]:
    """Reciprocal rank fusion: each (ranking, weight) adds ``weight / (k + rank)`` to an
    item's score (rank 1-based). Returns the fused order and the scores."""
    scores: dict[int, float] = {}
    for ranking, weight in rankings:
        for rank, item in enumerate(ranking, 1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda c: (-scores[c], c)), scores


class _VectorCache:
    """Every stored vector of one model as a matrix, with chunk and collection ids."""

    def __init__(self) -> None:
        self.key: tuple | None = None
        self.ids = np.zeros(0, dtype=np.int64)
        self.collections = np.zeros(0, dtype=np.int64)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.row: dict[int, int] = {}
        self.lock = threading.Lock()

    def get(self, store: "Store", model: str, dim: int) -> "_VectorCache":
        stamp = store.select("SELECT count(*) AS n, coalesce(max(seq), 0) AS s FROM docs_vectors")[0]
        key = (model, dim, stamp["n"], stamp["s"])
        with self.lock:
            if key != self.key:
                rows = store.select(
                    "SELECT v.chunk_id, v.vector, f.collection_id FROM docs_vectors v JOIN docs_chunks k "
                    "ON k.id = v.chunk_id JOIN docs_files f ON f.id = k.file_id WHERE v.model = ? AND v.dim = ? "
                    "ORDER BY v.chunk_id", (model, dim))
                self.ids = np.fromiter((r["chunk_id"] for r in rows), dtype=np.int64, count=len(rows))
                self.collections = np.fromiter((r["collection_id"] for r in rows), dtype=np.int64, count=len(rows))
                blob = b"".join(r["vector"] for r in rows)
                self.matrix = np.frombuffer(blob, dtype=np.float32).reshape(len(rows), dim) if rows \
                    else np.zeros((0, dim), dtype=np.float32)
                self.row = {int(c): i for i, c in enumerate(self.ids)}
                self.key = key
            return self


class DocsSearch:
    """Searches the document index.

    Args:
        store: the store holding the index.
        embedder: returns the embedder, or None (keywords only) while none is loaded.
        rrf_k, fts_weight, vector_weight, candidates: fusion parameters (see module docstring).
    """

    def __init__(self, store: "Store", embedder: Callable[[], "Embedder | None"] | None = None, *,
                 rrf_k: float = RRF_K, fts_weight: float = FTS_WEIGHT, vector_weight: float = VECTOR_WEIGHT,
                 candidates: int = CANDIDATES) -> None:
        self.store = store
        self._embedder = embedder or (lambda: None)
        self.rrf_k, self.fts_weight, self.vector_weight = rrf_k, fts_weight, vector_weight
        self.candidates = candidates
        self._cache = _VectorCache()

    def collection_ids(self, names: list[str] | None) -> list[int] | None:
        if names is None:
            return None
        rows = self.store.select("SELECT id, name FROM docs_collections")
        wanted = {n.strip().lower() for n in names}
        return [r["id"] for r in rows if r["name"] in wanted]

    def search(self, query: str, *, collections: list[str] | None = None, limit: int = 6,
               mode: Mode = "hybrid") -> list[DocHit]:
        """The best ``limit`` chunks for ``query``, best first.

        Args:
            query: a question or keywords.
            collections: names to search in (None: every collection).
            limit: how many chunks.
            mode: ``hybrid`` (fused), ``fts`` (keywords only) or ``vector`` (embeddings only).
        """
        ids = self.collection_ids(collections)
        if ids == []:
            return []
        depth = max(self.candidates, limit)
        keyword = self.keyword_ranking(query, ids, depth) if mode != "vector" else []
        semantic: list[int] = []
        similarity: Callable[[int], float | None] = lambda _chunk: None
        if mode != "fts":
            semantic, similarity = self.vector_ranking(query, ids, depth)
        if mode == "fts":
            order, scores = keyword, {c: 1.0 / (i + 1) for i, c in enumerate(keyword)}
        elif mode == "vector":
            order, scores = semantic, {c: similarity(c) or 0.0 for c in semantic}
        else:
            order, scores = fuse([(keyword, self.fts_weight), (semantic, self.vector_weight)], self.rrf_k)
        best = order[:limit]
        kw_rank = {c: i + 1 for i, c in enumerate(keyword)}
        vec_rank = {c: i + 1 for i, c in enumerate(semantic)}
        return self._hits(best, scores, similarity, kw_rank, vec_rank)

    def keyword_ranking(self, query: str, collection_ids: list[int] | None, depth: int) -> list[int]:
        """Chunk ids matching any content word of ``query``, by BM25."""
        words = content_words(query)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        where = "" if collection_ids is None else f" AND f.collection_id IN ({', '.join('?' * len(collection_ids))})"
        weights = ", ".join(str(w) for w in BM25_WEIGHTS)
        rows = self.store.select(
            f"SELECT k.id FROM docs_chunks_fts JOIN docs_chunks k ON k.id = docs_chunks_fts.rowid "
            f"JOIN docs_files f ON f.id = k.file_id WHERE docs_chunks_fts MATCH ?{where} "
            f"ORDER BY bm25(docs_chunks_fts, {weights}) LIMIT ?",
            (match, *(collection_ids or ()), depth))
        return [r["id"] for r in rows]

    def vector_ranking(self, query: str, collection_ids: list[int] | None,
                       depth: int) -> tuple[list[int], Callable[[int], float | None]]:
        """Chunk ids by cosine to ``query`` (top ``depth``), and a function giving the cosine
        of any chunk that has a vector (for similarity floors). Empty without an embedder."""
        nothing: Callable[[int], float | None] = lambda _chunk: None
        embedder = self._embedder()
        if embedder is None or not query.strip():
            return [], nothing
        try:
            qvec = np.asarray(embedder.encode([query]), dtype=np.float32)[0]
            cache = self._cache.get(self.store, embedder.name, int(qvec.shape[0]))
        except Exception:  # keywords still answer when the embedder fails
            log.exception("docs: embedding search failed; using keywords only")
            return [], nothing
        if not len(cache.ids):
            return [], nothing
        sims = cache.matrix @ qvec
        if collection_ids is not None:
            sims = np.where(np.isin(cache.collections, collection_ids), sims, -np.inf)
        n = min(depth, len(sims))
        top = np.argpartition(-sims, n - 1)[:n]
        top = top[np.argsort(-sims[top], kind="stable")]
        order = [int(cache.ids[i]) for i in top if np.isfinite(sims[i])]
        rows = cache.row

        def similarity(chunk: int) -> float | None:
            i = rows.get(chunk)
            return None if i is None or not np.isfinite(sims[i]) else float(sims[i])

        return order, similarity

    def _hits(self, best: list[int], scores: dict[int, float], similarity: Callable[[int], float | None],
              kw_rank: dict[int, int],
              vec_rank: dict[int, int]) -> list[DocHit]:
        if not best:
            return []
        rows = {r["id"]: r for r in self.store.select(
            "SELECT k.id, k.heading, k.text, k.page, k.line_start, k.line_end, f.path, f.unit, c.name "
            "FROM docs_chunks k JOIN docs_files f ON f.id = k.file_id JOIN docs_collections c "
            f"ON c.id = f.collection_id WHERE k.id IN ({', '.join('?' * len(best))})", tuple(best))}
        out = []
        for chunk in best:
            r = rows.get(chunk)
            if r is None:  # deleted since it was ranked
                continue
            sim = similarity(chunk)
            out.append(DocHit(chunk, r["name"], r["path"], r["unit"] or "line", r["heading"], r["text"], r["page"],
                              r["line_start"], r["line_end"], round(float(scores.get(chunk, 0.0)), 6),
                              None if sim is None else round(float(sim), 4), kw_rank.get(chunk), vec_rank.get(chunk)))
        return out
