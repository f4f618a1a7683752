"""A short piece of a long text around the words a reader asked about (for cited sources).

A leaf (standard library only), shared by recall over past conversations and by skills that
quote documents (``assistant.skills`` re-exports it for skill authors).
"""

from __future__ import annotations

SNIPPET_CHARS = 220


def snippet(text: str, words: list[str], width: int = SNIPPET_CHARS) -> str:
    """About ``width`` characters of ``text`` around the first query word found."""
    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    low = flat.lower()
    at = min((i for i in (low.find(w) for w in words) if i >= 0), default=0)
    start = max(0, at - width // 3)
    piece = flat[start:start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")
