"""Which document collections a message names (for the docs skill and for routing)."""

from __future__ import annotations

import re

_SCOPE_PHRASE = r"(?:(?:in|from|search|ask|check)\s+(?:my|the)?\s*)?{name}(?:\s+(?:collection|docs|documents|folder|files))?\s*[:,]?"
_DOCS_WORD = r"\s+(?:collection|docs|documents|folder|files)"


def _spelled(name: str) -> str:
    """A collection name as people type it: ``work-notes`` also as ``work notes`` or ``work_notes``."""
    return r"[\s_-]+".join(re.escape(p) for p in re.split(r"[-_]", name))


def scope(text: str, names: list[str]) -> tuple[str, list[str] | None]:
    """(the question without the collection it names, those collections or None for all).

    A collection is named by its name as a word (``handbook``), ``@handbook`` or, for
    ``work-notes``, also ``work notes``.
    """
    chosen: list[str] = []
    query = text
    for name in sorted(names, key=len, reverse=True):
        pattern = re.compile(r"(?<![\w-])@?" + _SCOPE_PHRASE.format(name=f"(?:{_spelled(name)})") + r"(?![\w-])", re.I)
        if pattern.search(query):
            chosen.append(name)
            query = pattern.sub(" ", query, count=1)
    query = " ".join(query.split()) or text
    return query, (chosen or None)


def named_collection(text: str, names: list[str]) -> str | None:
    """The collection a message addresses explicitly (``@handbook``, ``the handbook docs``), or None.

    Stricter than :func:`scope`: a bare word is not enough here, so "buy a house" does not go to
    a collection called ``house``.
    """
    for name in sorted(names, key=len, reverse=True):
        spelled = _spelled(name)
        if re.search(rf"(?<![\w-])(?:@{spelled}|{spelled}{_DOCS_WORD})(?![\w-])", text, re.I):
            return name
    return None
