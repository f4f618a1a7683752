"""Recall skill: what was said in other conversations and in notes, shown as cited sources.

It searches through ``ctx.recall`` (keywords plus, when the embedder is loaded, embedding
similarity; see :mod:`assistant.memory.recall`), lists the best snippets with their
conversation title, date and id, and, with ``answer = true``, asks the skill's model to
answer the question from those snippets only.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Iterator

from assistant.skills import ChatMessage, HandOff, SkillContext

# Phrases that narrow the search to recent messages, and how far back they reach.
_WINDOWS = (
    (re.compile(r"\b(?:today|this morning)\b", re.I), timedelta(days=1)),
    (re.compile(r"\byesterday\b", re.I), timedelta(days=2)),
    (re.compile(r"\b(?:last|this|past) week\b", re.I), timedelta(days=14)),
    (re.compile(r"\b(?:last|this|past) month\b", re.I), timedelta(days=45)),
)


# A request about the user's own past says so: a person ("what did *we* say", "*my* notes")
# or the record itself ("the earlier conversation"). "when did the nfl adopt a salary cap" has
# neither: it is a question for the chat skill, however much it reads like "when did I ask...".
_PERSONAL = re.compile(
    r"\b(?:i|me|my|mine|myself|we|us|our|ours|you|your|yours|remember|mentioned|discussed|talked|"
    r"earlier|previous(?:ly)?|last time|conversations?|chats?|notes?)\b", re.I)


def about_the_user(text: str) -> bool:
    """Whether ``text`` refers to the user's own conversations or notes at all."""
    return _PERSONAL.search(text) is not None


def time_window(ctx: SkillContext, text: str) -> tuple[str, object]:
    """(text without the time phrase, the earliest time to search from or None)."""
    for pattern, span in _WINDOWS:
        if pattern.search(text):
            return pattern.sub(" ", text).strip(), ctx.clock() - span
    return text, None


def sources(hits) -> str:
    return "\n".join(f"[{i}] {h.snippet}\n    — {h.role}, {h.citation()}" for i, h in enumerate(hits, 1))


def respond(ctx: SkillContext) -> Iterator[str]:
    """Search the user's other conversations and notes and answer from what is found.

    Raises:
        HandOff: the router sent a request that does not refer to the user's own past at all
            (a general question); the chat skill answers it.
    """
    if not ctx.chosen and not about_the_user(ctx.text):
        raise HandOff("the request is not about your conversations or notes", "the chat skill answers it instead")
    if ctx.recall is None:
        yield "I cannot search your past conversations here (no recall access was given to this skill)."
        return
    query, since = time_window(ctx, ctx.text)
    limit = int(ctx.settings.get("limit", 5))
    hits = ctx.recall.search(query, limit=limit, since=since)
    if not hits:
        when = " in that period" if since is not None else ""
        yield f"I found nothing about that in your other conversations or notes{when}."
        return
    if not ctx.settings.get("answer", True) or ctx.models is None:
        yield "Here is what I found in your other conversations and notes:\n\n" + sources(hits)
        return
    excerpts = "\n\n".join(f"[{i}] ({h.role}, {h.citation()}) {h.snippet}" for i, h in enumerate(hits, 1))
    messages = [ChatMessage("system", ctx.prompt or "Answer from the excerpts only; cite them as [n]."),
                ChatMessage("user", f"Excerpts from earlier conversations and notes:\n\n{excerpts}\n\n"
                                    f"Question: {ctx.text}")]
    yield from ctx.generate(messages)
    yield "\n\nSources:\n" + sources(hits)
