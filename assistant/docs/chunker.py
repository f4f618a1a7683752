"""Blocks into chunks: heading- and paragraph-aware, each with its page or line range.

A chunk gathers whole paragraphs (or rows) under one heading until it holds about
``target`` words; a heading always starts a new chunk, and a chunk never spans two pages,
so every citation is exact. A paragraph longer than ``limit`` words is cut at line, then
sentence, then word boundaries. Each chunk knows its heading path (``Setup > Linux``),
which is searched with it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.docs.document import Block

TARGET_WORDS = 100
LIMIT_WORDS = 160
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of a document.

    Attributes:
        text: the chunk's text.
        heading: the heading path above it ("" when none).
        page: its page (PDF), else None.
        start: its first line, row or paragraph.
        end: its last line, row or paragraph.
    """

    text: str
    heading: str = ""
    page: int | None = None
    start: int | None = None
    end: int | None = None


def _words(text: str) -> int:
    return len(text.split())


def _pieces(text: str, limit: int) -> list[str]:
    """``text`` cut into parts of at most ``limit`` words, at sentence ends where possible."""
    out: list[str] = []
    current: list[str] = []
    for sentence in _SENTENCE.split(text):
        words = sentence.split()
        while len(words) > limit:  # one enormous sentence (a minified line, a table dump)
            if current:
                out.append(" ".join(current))
                current = []
            out.append(" ".join(words[:limit]))
            words = words[limit:]
        if current and len(current) + len(words) > limit:
            out.append(" ".join(current))
            current = []
        current += words
    if current:
        out.append(" ".join(current))
    return out


def split_block(block: Block, limit: int = LIMIT_WORDS) -> list[Block]:
    """A block within ``limit`` words as is; a longer one as several, each with the lines it
    covers (lines are kept whole when they fit)."""
    if _words(block.text) <= limit:
        return [block]
    lines = block.text.split("\n")
    first = block.start
    out: list[Block] = []
    run: list[str] = []
    run_start = 0
    for i, line in enumerate(lines):
        if run and _words("\n".join(run)) + _words(line) > limit:
            out.append(_sub(block, "\n".join(run), first, run_start, i - 1))
            run = []
        if not run:
            run_start = i
        if _words(line) > limit:
            out += [_sub(block, part, first, i, i) for part in _pieces(line, limit)]
            continue
        run.append(line)
    if run:
        out.append(_sub(block, "\n".join(run), first, run_start, len(lines) - 1))
    if len(out) == 1 and len(lines) == 1:  # one long paragraph on one line
        out = [_sub(block, part, first, 0, 0) for part in _pieces(block.text, limit)]
    return out


def _sub(block: Block, text: str, first: int | None, i: int, j: int) -> Block:
    if first is None or block.kind == "row" or block.start == block.end:
        return Block(text, block.kind, block.level, block.page, block.start, block.end)
    return Block(text, block.kind, block.level, block.page, first + i, first + j)


def chunk_blocks(blocks: list[Block], target: int = TARGET_WORDS, limit: int = LIMIT_WORDS) -> list[Chunk]:
    """Group ``blocks`` (in document order) into chunks; see the module docstring."""
    out: list[Chunk] = []
    path: list[tuple[int, str]] = []  # (level, text) of the headings above
    body: list[Block] = []

    def flush() -> None:
        if body:
            heading = " > ".join(t for _, t in path)
            starts = [b.start for b in body if b.start is not None]
            ends = [b.end for b in body if b.end is not None]
            out.append(Chunk("\n\n".join(b.text for b in body), heading, body[0].page,
                             min(starts) if starts else None, max(ends) if ends else None))
            body.clear()

    for block in blocks:
        if not block.text.strip():
            continue
        if block.kind == "heading":
            flush()
            level = max(1, block.level)
            path[:] = [(lv, t) for lv, t in path if lv < level] + [(level, " ".join(block.text.split())[:200])]
            continue
        for part in split_block(block, limit):
            size = sum(_words(b.text) for b in body)
            grown = size + _words(part.text)
            # A short run still takes the next paragraph (up to ``limit``): no tiny chunks.
            if body and (part.page != body[0].page or grown > limit or (grown > target and size >= target // 2)):
                flush()
            body.append(part)
    flush()
    if not out and path:  # a file of headings only is still findable
        out.append(Chunk(" > ".join(t for _, t in path), "", None, 1, 1))
    return out
