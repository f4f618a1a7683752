"""Recognising short follow-ups ("and in Celsius?", "make it shorter", "what about Texas?").

A follow-up leans on the previous turn: it is short and either starts with a continuation
cue or points back with an anaphor. These are properties of English conversation, not of
any one skill or data set.
"""

from __future__ import annotations

import re
from typing import Sequence

_WORD = re.compile(r"[a-z0-9']+")

# Openings that continue the previous request rather than start a new one.
_CUES = (
    "and", "also", "plus", "but", "or", "then", "now", "so", "ok", "okay",
    "what about", "how about", "what if", "same", "again", "instead", "make it", "make that",
    "do it", "do that", "do the same", "try", "in", "for", "with", "without", "only", "just",
    "more", "less", "shorter", "longer", "another", "not", "no", "yes", "too",
)
# Words that refer back to something said before.
_ANAPHORA = frozenset(
    "it its it's that this those these them they there one ones same again instead too "
    "another else more less shorter longer simpler".split()
)
MAX_FOLLOWUP_WORDS = 8


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return _WORD.findall(text.lower())


def looks_like_followup(text: str) -> bool:
    """True for a short message that continues the previous one.

    Very short fragments (three words or fewer) count too: "Texas?" or "in Celsius" only
    make sense with what came before.
    """
    toks = words(text)
    if not toks or len(toks) > MAX_FOLLOWUP_WORDS:
        return False
    if len(toks) <= 3:
        return True
    joined = " ".join(toks)
    if any(joined == cue or joined.startswith(cue + " ") for cue in _CUES):
        return True
    return any(t in _ANAPHORA for t in toks)


def recent_user_turns(history: Sequence[object] | None, text: str, turns: int) -> list[str]:
    """The last ``turns`` user messages before ``text`` (oldest first).

    ``history`` holds objects with ``role`` and ``content`` (``ChatMessage``); when its last
    user message is ``text`` itself (the caller already appended it), that one is skipped.
    """
    if not history or turns <= 0:
        return []
    users = [str(getattr(m, "content", "")) for m in history if getattr(m, "role", None) == "user"]
    if users and users[-1].strip() == text.strip():
        users = users[:-1]
    return [u for u in users[-turns:] if u.strip()]
