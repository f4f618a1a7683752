"""Turning what a user typed into a safe FTS5 query."""

from __future__ import annotations

import re

# Words as FTS5's unicode61 tokenizer sees them: letters, digits (any script), and
# characters it treats as part of a token.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 16


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression that finds messages containing every word of ``text``.

    Each word becomes a quoted string, so FTS syntax (``AND``, ``NEAR``, ``*``, ``"``,
    ``:``, parentheses) typed by a user is matched literally and never raises. Returns None
    when ``text`` holds no word at all.
    """
    words = _WORD.findall(text or "")[:MAX_TERMS]
    if not words:
        return None
    return " ".join(f'"{w}"' for w in words)
