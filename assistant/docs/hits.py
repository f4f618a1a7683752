"""What a document search returns, and how a hit is judged relevant to a question.

A leaf (standard library only): the search and the service produce these, and a skill that
answers from documents reads them (``assistant.skills`` re-exports them for skill authors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class DocsResult:
    """Search results and what the skill should tell the user about them.

    Attributes:
        hits: chunks, best first.
        floor: the cosine a hit must reach to count as relevant.
        note: e.g. "still indexing ...; this answer uses what is indexed so far", or None.
    """

    hits: list[DocHit] = field(default_factory=list)
    floor: float = 0.0
    note: str | None = None


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
