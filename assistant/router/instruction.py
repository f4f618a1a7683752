"""The instruction part of a request that carries its own text ("summarize: <a long memo>").

A sentence embedding is a mean over every token, so a long pasted text outweighs the few
words that say what to do with it: "summarize: <a dialogue about a meeting>" lands near the
skills that talk about meetings and dates. When a request has the shape
``INSTRUCTION: TEXT`` (or ``INSTRUCTION? TEXT``, or the instruction on its first line), the
router scores the instruction on its own first and keeps that decision when it is clear
(see :meth:`assistant.router.router.Router.route`).
"""

from __future__ import annotations

import re

# Where an instruction ends: a colon or question mark before whitespace, or a line break.
_END = re.compile(r"[:?](?=\s)|\n")
MAX_WORDS = 30  # a longer "instruction" is a text of its own, not a request about one


def instruction_of(text: str) -> str | None:
    """The instruction before the text it applies to, or ``None`` when there is no such split.

    >>> instruction_of("summarize this:\\n\\nAlice: hi Bob ...")
    'summarize this'
    >>> instruction_of("is this positive or negative? the soup was cold")
    'is this positive or negative'
    >>> instruction_of("what is 6 times 7") is None
    True
    """
    m = _END.search(text)
    if m is None:
        return None
    head, rest = text[: m.start()].strip(), text[m.end() :].strip()
    if not head or not rest or len(head.split()) > MAX_WORDS:
        return None
    return head
