"""What a document reader returns: blocks of text with their location, or a reason to skip.

A leaf shared by the readers (:mod:`assistant.docs.readers`, :mod:`assistant.docs.office`),
the chunker and the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["heading", "text", "code", "row"]
Unit = Literal["line", "page", "row", "paragraph"]


class Skip(Exception):
    """This file is not indexed; ``reason`` says why (shown to the user)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Block:
    """A heading, paragraph, code block or table row, and where it is in its file.

    Attributes:
        text: the text (newlines kept inside paragraphs and code).
        kind: heading, text, code or row.
        level: a heading's level (1 = top).
        page: the page (PDF), 1-based.
        start: first line, row or paragraph number, 1-based (``None`` where unknown).
        end: last line, row or paragraph number.
    """

    text: str
    kind: Kind = "text"
    level: int = 0
    page: int | None = None
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class Document:
    """What a reader found in one file: its blocks and the unit its locations count."""

    blocks: list[Block]
    unit: Unit = "line"


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM dropped) or, failing that, Latin-1; text with NUL bytes is refused as binary."""
    if b"\x00" in data[:8192]:
        raise Skip("binary file (not text)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    # Latin-1 decodes anything: many control characters mean it was not text after all.
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 0.05 * max(1, min(len(text), 8192)):
        raise Skip("binary file (not text)")
    return text
