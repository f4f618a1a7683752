"""Ranking chunks for a question: FTS5 keywords, embedding cosine, or both fused.

The hybrid ranking is reciprocal rank fusion (each ranking adds ``weight / (k + rank)``) of
the BM25 order of chunks matching any of the query's content words and the cosine order of
chunk vectors. Vectors are held in memory, re-read only when ``docs_vectors`` changed (its
row count or its ever-growing ``seq``), so a query costs one FTS5 lookup, one query
embedding and one matrix product.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

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
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 32
SEMANTIC_ONLY_MARGIN = 0.15
STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before being below between "
    "both but by can could did do does doing down during each few for from further had has have having he her "
    "here hers him his how i if in into is it its itself just me more most my myself no nor not now of off on "
    "once only or other our ours out over own same she should so some such than that the their theirs them "
    "then there these they this those through to too under until up very was we were what when where which "
    "while who whom why will with would you your yours tell please say says said according document documents "
    "doc docs file files folder collection mention mentioned find show give".split())


def content_words(text: str) -> list[str]:
    """The query's words that carry meaning, lower case, each once, in order."""
    words = [w.lower() for w in _WORD.findall(text or "")]
    return [w for w in dict.fromkeys(words) if (len(w) > 1 or w.isdigit()) and w not in STOPWORDS][:MAX_TERMS]


@dataclass(frozen=True)
class DocHit:
    """A retrieved chunk and where it comes from.

    Attributes:
        chunk_id: the chunk's id.
        collection: its collection's name.
        path: the file, relative to the collection's folder.
        unit: what ``start``/``end`` count: line, page, row or paragraph.
        heading: the heading path above the chunk.
        text: the chunk's text.
        page: its page (PDF).
        start: first line, row or paragraph; end: the last.
        score: the ranking's score (fused, BM25 or cosine; higher is better).
        similarity: cosine to the query, when the chunk has a vector.
        keyword_rank / vector_rank: 1-based rank in each ranking, if it was in it.
    """

    chunk_id: int
    collection: str
    path: str
    unit: str
    heading: str
    text: str
    page: int | None
    start: int | None
    end: int | None
    score: float
    similarity: float | None = None
    keyword_rank: int | None = None
    vector_rank: int | None = None

    def location(self) -> str:
        """``p. 2``, ``lines 4-9``, ``row 12``, ``paragraphs 3-4`` (or "" when unknown)."""
        if self.page is not None:
            return f"p. {self.page}"
        if self.start is None:
            return ""
        word = {"line": "line", "row": "row", "paragraph": "paragraph"}.get(self.unit, "line")
        if self.end is None or self.end == self.start:
            return f"{word} {self.start}"
        return f"{word}s {self.start}-{self.end}"

    def citation(self) -> str:
        """How an answer cites it: file, then page/lines, then section."""
        parts = [self.path, self.location()]
        if self.heading and self.unit == "row":
            parts.append(self.heading.split(" > ")[0])  # the sheet of a spreadsheet
        elif self.heading:
            parts.append(f"section \"{self.heading.split(' > ')[-1]}\"")
        return ", ".join(p for p in parts if p)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "citation": self.citation()}


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


def keyword_coverage(query: str, text: str) -> float:
    """Share of the query's content words found in ``text`` (prefix match, so plurals count)."""
    words = content_words(query)
    if not words:
        return 0.0
    low = {w.lower() for w in _WORD.findall(text)}
    found = sum(1 for w in words if any(t.startswith(w[:max(4, len(w) - 2)]) for t in low))
    return found / len(words)


def relevant(hit: DocHit, query: str, floor: float) -> bool:
    """Whether ``hit`` is about ``query``.

    A chunk sharing a content word with the query must clear the cosine ``floor``; one
    sharing none must clear it by ``SEMANTIC_ONLY_MARGIN`` (a paraphrase is close in meaning;
    a question merely phrased like the text is not). A chunk with no vector yet (still being
    embedded) must hold at least half of the query's content words.
    """
    coverage = keyword_coverage(query, hit.text + " " + hit.heading)
    if hit.similarity is None:
        return coverage >= 0.5
    return hit.similarity >= (floor if coverage > 0 else floor + SEMANTIC_ONLY_MARGIN)
