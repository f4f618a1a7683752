"""Recall: find what was said in other conversations (and in notes), hybrid search.

Two rankings are fused (reciprocal rank fusion): FTS5 keyword hits (any of the query's
content words) and, when the router's embedder is loaded, cosine similarity of sentence
embeddings. Message embeddings are a cache in ``message_embeddings`` (migration m005), keyed
by message id and embedder name, computed lazily: each query first embeds up to
``[memory] recall_max_embed_per_query`` messages that have none yet, newest first, in
batches. Without an embedder recall still works on keywords alone.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

import numpy as np

from assistant.snippets import snippet

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.memory.store import Store
    from assistant.router.embedders import Embedder

log = logging.getLogger(__name__)
RRF_K = 60
CANDIDATES = 50
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
STOPWORDS = frozenset(
    "a an and are about as at be but by did do does for from had has have he her his how i if in is it its "
    "last me mention mentioned my of on or our remind said say says she so talk talked tell that the their "
    "them then there they this to told us was we week were what when where which who why with you your "
    "yesterday today decide decided discuss discussed find where earlier before ago".split())


# Recall's own earlier answers quote other messages with their sources: found again, they
# bury what was actually said under copies of it ("[1] Sources: [1] ...").
NOT_RECALLS = "(m.skill IS NULL OR m.skill != 'recall')"


@dataclass(frozen=True)
class RecallHit:
    """A retrieved snippet and where it comes from.

    Attributes:
        source: "conversation" or "note".
        conversation_id: the conversation (None for a note).
        message_id: the message id, or ``note:N``.
        title: the conversation's title, or ``note N``.
        role: who said it (user, assistant, or note).
        created_at: ISO 8601 time.
        snippet: the text around the match.
        score: fused score (higher is better).
    """

    source: Literal["conversation", "note"]
    conversation_id: str | None
    message_id: str
    title: str
    role: str
    created_at: str
    snippet: str
    score: float

    def citation(self) -> str:
        """How a reply cites it: title, date, id."""
        day = self.created_at[:10]
        if self.source == "note":
            return f"{self.title}, {day}"
        return f"\"{self.title or 'untitled'}\", {day}, conversation {(self.conversation_id or '')[:8]}"


def content_words(text: str) -> list[str]:
    """The query's words that carry meaning (stopwords and one-letter words dropped)."""
    words = [w.lower() for w in _WORD.findall(text or "")]
    return [w for w in dict.fromkeys(words) if len(w) > 1 and w not in STOPWORDS][:16]


class Recall:
    """Hybrid search over stored messages and notes.

    Args:
        store: the conversation store.
        embedder: returns the embedder to use, or None while none is loaded.
        settings: for ``[memory] recall_*`` limits (defaults when None).
        notes_file: the notes skill's ``notes.json`` (read only), if any.
    """

    def __init__(self, store: "Store", embedder: Callable[[], "Embedder | None"] | None = None,
                 settings: "Settings | None" = None, notes_file: Path | None = None) -> None:
        self.store = store
        self._embedder = embedder or (lambda: None)
        self.batch = settings.memory.recall_embed_batch if settings else 64
        self.max_embed = settings.memory.recall_max_embed_per_query if settings else 512
        # Without a floor the nearest messages are returned however unrelated they are, and
        # "what did we say about X" cites junk instead of saying nothing was found.
        self.min_sim = settings.memory.recall_min_similarity if settings else None
        self.notes_file = notes_file
        self._note_vectors: dict[tuple[str, str], np.ndarray] = {}

    def for_conversation(self, conversation_id: str | None) -> "ScopedRecall":
        """A view that leaves ``conversation_id`` out (what a skill gets)."""
        return ScopedRecall(self, conversation_id)

    # Embedding cache --------------------------------------------------------------------------
    def embed_missing(self, embedder: "Embedder", limit: int | None = None) -> int:
        """Embed up to ``limit`` stored messages that have no vector for ``embedder``, newest
        first, in batches; returns how many were embedded."""
        limit = self.max_embed if limit is None else limit
        if limit <= 0:
            return 0
        rows = self.store.select(
            "SELECT m.id, m.content FROM messages m LEFT JOIN message_embeddings e "
            "ON e.message_id = m.id AND e.model = ? WHERE e.message_id IS NULL AND m.content != '' "
            "AND m.role IN ('user', 'assistant') AND m.status != 'streaming' ORDER BY m.seq DESC LIMIT ?",
            (embedder.name, limit))
        done = 0
        for i in range(0, len(rows), self.batch):
            part = rows[i:i + self.batch]
            vectors = np.asarray(embedder.encode([r["content"] for r in part]), dtype=np.float32)
            values = [(r["id"], embedder.name, int(v.shape[0]), v.tobytes()) for r, v in zip(part, vectors, strict=False)]

            def write(c: sqlite3.Connection, vals: list[tuple[Any, str, int, bytes]] = values) -> None:
                # A message deleted meanwhile is skipped (EXISTS) rather than failing the foreign key.
                for v in vals:
                    c.execute("INSERT OR REPLACE INTO message_embeddings (message_id, model, dim, vector) "
                              "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?)", (*v, v[0]))

            self.store.transaction(write)
            done += len(part)
        return done

    def embedded_count(self, model: str) -> int:
        return int(self.store.select("SELECT count(*) AS n FROM message_embeddings WHERE model = ?", (model,))[0]["n"])

    # Search -----------------------------------------------------------------------------------
    def search(self, query: str, *, exclude_conversation: str | None = None, limit: int = 6,
               since: str | None = None) -> list[RecallHit]:
        """The best ``limit`` snippets for ``query`` from other conversations and notes.

        Args:
            query: what to look for (a topic or a whole question).
            exclude_conversation: a conversation to leave out (the current one).
            limit: how many hits.
            since: only messages created at or after this ISO time.
        """
        words = content_words(query)
        ranked: list[list[str]] = []
        rows: dict[str, dict[str, Any]] = {}
        keyword = self._keyword(words, exclude_conversation, since)
        ranked.append([r["id"] for r in keyword])
        rows.update({r["id"]: r for r in keyword})
        embedder = self._embedder()
        query_vec = None
        if embedder is not None and query.strip():
            try:
                self.embed_missing(embedder)
                query_vec = np.asarray(embedder.encode([query]), dtype=np.float32)[0]
                semantic = self._semantic(embedder, query_vec, exclude_conversation, since)
                ranked.append([r["id"] for r in semantic])
                rows.update({r["id"]: r for r in semantic})
            except Exception:
                log.exception("recall: embedding search failed; using keywords only")
                query_vec = None
        notes = self._notes(words, embedder if query_vec is not None else None, query_vec)
        for ranking in notes:
            ranked.append([r["id"] for r in ranking])
            rows.update({r["id"]: r for r in ranking})
        scores: dict[str, float] = {}
        for ids in ranked:
            for rank, key in enumerate(ids):
                scores[key] = scores.get(key, 0.0) + 1.0 / (RRF_K + rank + 1)
        # The same question asked before (in another conversation) is not an answer to it.
        asked = " ".join(query.casefold().split())
        kept = [k for k in scores if " ".join(str(rows[k].get("content", "")).casefold().split()) != asked]
        best = sorted(kept, key=lambda k: (-scores[k], k))[:limit]
        return [self._hit(rows[k], scores[k], words) for k in best]

    def _keyword(self, words: list[str], exclude: str | None, since: str | None) -> list[dict[str, Any]]:
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        return self.store.select(
            "SELECT m.id, m.conversation_id, m.role, m.content, m.created_at, c.title FROM "
            "(SELECT rowid, rank FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?) f "
            "JOIN messages m ON m.seq = f.rowid JOIN conversations c ON c.id = m.conversation_id "
            "WHERE m.conversation_id != ? AND m.status != 'error' AND m.role IN ('user', 'assistant') "
            f"AND {NOT_RECALLS} AND m.created_at >= ? ORDER BY f.rank LIMIT ?",
            (match, CANDIDATES * 4, exclude or "", since or "", CANDIDATES))

    def _floor(self, embedder: "Embedder") -> float:
        """The least cosine that counts as related: configured, else the embedder's own scale."""
        if self.min_sim is not None:
            return self.min_sim
        return float(getattr(embedder, "related_similarity", 0.0))

    def _semantic(self, embedder: "Embedder", query_vec: np.ndarray, exclude: str | None,
                  since: str | None) -> list[dict[str, Any]]:
        rows = self.store.select(
            "SELECT e.message_id, e.vector FROM message_embeddings e JOIN messages m ON m.id = e.message_id "
            f"WHERE e.model = ? AND e.dim = ? AND m.conversation_id != ? AND m.status != 'error' AND {NOT_RECALLS} "
            "AND m.created_at >= ?", (embedder.name, int(query_vec.shape[0]), exclude or "", since or ""))
        if not rows:
            return []
        matrix = np.frombuffer(b"".join(r["vector"] for r in rows), dtype=np.float32).reshape(len(rows), -1)
        sims = matrix @ query_vec
        floor = self._floor(embedder)
        top = [i for i in np.argsort(-sims)[:CANDIDATES] if sims[i] >= floor]
        ids = [rows[i]["message_id"] for i in top]
        marks = ", ".join("?" * len(ids))
        found = {r["id"]: r for r in self.store.select(
            "SELECT m.id, m.conversation_id, m.role, m.content, m.created_at, c.title FROM messages m "
            f"JOIN conversations c ON c.id = m.conversation_id WHERE m.id IN ({marks})", tuple(ids))}
        return [found[i] for i in ids if i in found]

    def _notes(self, words: list[str], embedder: "Embedder | None",
               query_vec: np.ndarray | None) -> list[list[dict[str, Any]]]:
        items = self._read_notes()
        if not items:
            return []
        rankings = []
        scored = [(sum(w in i["content"].lower() for w in words), i) for i in items]
        rankings.append([i for n, i in sorted(scored, key=lambda s: -s[0]) if n > 0])
        if embedder is not None and query_vec is not None:
            missing = [i["content"] for i in items if (embedder.name, i["content"]) not in self._note_vectors]
            if missing:
                for text, vec in zip(missing, np.asarray(embedder.encode(missing), dtype=np.float32), strict=False):
                    self._note_vectors[(embedder.name, text)] = vec
            sims = [(float(self._note_vectors[(embedder.name, i["content"])] @ query_vec), i) for i in items]
            floor = self._floor(embedder)
            rankings.append([i for s, i in sorted(sims, key=lambda s: -s[0]) if s >= floor])
        return rankings

    def _read_notes(self) -> list[dict[str, Any]]:
        if self.notes_file is None or not self.notes_file.is_file():
            return []
        try:
            data = json.loads(self.notes_file.read_text(encoding="utf-8"))
            return [{"id": f"note:{n['id']}", "conversation_id": None, "role": "note", "content": str(n["text"]),
                     "created_at": str(n.get("created", "")), "title": f"{n.get('kind', 'note')} {n['id']}"}
                    for n in data.get("items", [])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("recall: cannot read %s; notes left out", self.notes_file)
            return []

    @staticmethod
    def _hit(row: dict[str, Any], score: float, words: list[str]) -> RecallHit:
        return RecallHit(source="note" if row["role"] == "note" else "conversation",
                         conversation_id=row["conversation_id"], message_id=row["id"], title=row["title"] or "",
                         role=row["role"], created_at=row["created_at"] or "",
                         snippet=snippet(row["content"], words), score=round(score, 5))


class ScopedRecall:
    """:class:`Recall` for one turn: the current conversation is left out."""

    def __init__(self, recall: Recall, conversation_id: str | None) -> None:
        self._recall = recall
        self.conversation_id = conversation_id

    def search(self, query: str, limit: int = 6, since: datetime | str | None = None) -> list[RecallHit]:
        """See :meth:`Recall.search`; ``since`` may be a datetime."""
        if isinstance(since, datetime):
            since = since.astimezone(UTC).isoformat(timespec="microseconds")
        return self._recall.search(query, exclude_conversation=self.conversation_id, limit=limit, since=since)
