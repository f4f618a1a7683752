"""A cheap title for a new conversation, from its first user message.

No model is involved (it runs after the first reply, on the UI's time); the pipeline may
later replace it with a model-written one through ``Store.rename``.
"""

from __future__ import annotations

import re

DEFAULT_TITLE = "New conversation"
_FENCE = re.compile(r"```.*?(```|$)", re.DOTALL)
_MARKUP = re.compile(r"[`*_#>~\[\]]+")
_FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|ok|okay|so|please|pls|um|uh)\b[\s,!.:-]*|"
    r"(?:can|could|would|will) you(?: please)?\s+|i (?:want|need|would like) (?:you )?to\s+)+",
    re.IGNORECASE,
)


def title_from_text(text: str, max_len: int = 48) -> str:
    """A short title: the first meaningful line, without code, markup or filler words,
    cut at a word boundary.

    Args:
        text: the first user message.
        max_len: the longest title, in characters (an ellipsis is added when cut).
    """
    body = _FENCE.sub(" ", text or "")
    line = next((ln for ln in (raw.strip() for raw in body.splitlines()) if _MARKUP.sub("", ln).strip()), "")
    line = " ".join(_MARKUP.sub(" ", line).split())
    line = "".join(ch for ch in line if ch.isprintable())
    line = _FILLER.sub("", line).strip(" ,.:;!-")
    if not line:
        return DEFAULT_TITLE
    if len(line) > max_len:
        cut = line[:max_len].rsplit(" ", 1)[0] if " " in line[:max_len] else line[:max_len]
        line = cut.rstrip(" ,.:;!-") + "…"
    return line[0].upper() + line[1:]
