"""Examples of one skill that another skill's examples all but repeat (for ``skills check``).

Two skills whose examples sit at cosine > :data:`CLOSE_SIMILARITY` cannot be told apart by the
router: requests like them land on either skill by a hair, and the cross-validated threshold
learns from examples that contradict each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from assistant.router.cache import EmbeddingCache
from assistant.router.embedders import Embedder
from assistant.router.types import RouteSpec

CLOSE_SIMILARITY = 0.9
MIN_EXAMPLES = 5


@dataclass(frozen=True)
class CloseExample:
    """``example`` of the checked skill is ``similarity`` (cosine) from ``other_example`` of ``other``."""

    example: str
    other: str
    other_example: str
    similarity: float


def close_examples(examples: Sequence[str], others: Sequence[RouteSpec], embedder: Embedder,
                   cache_dir: Path | None = None, limit: float = CLOSE_SIMILARITY) -> list[CloseExample]:
    """For each of ``examples``, the nearest example of another skill when its cosine exceeds ``limit``.

    Most similar first. ``others`` are the other skills' routes (their negatives are ignored);
    embeddings go through the router's cache when ``cache_dir`` is given.
    """
    own = list(dict.fromkeys(t.strip() for t in examples if t and t.strip()))
    pairs = [(r.name, t.strip()) for r in others for t in r.examples if t and t.strip()]
    if not own or not pairs:
        return []
    cache = EmbeddingCache(cache_dir)
    encode = lambda texts: cache.get_or_compute(embedder.name, embedder.dim, texts, embedder.encode)
    sims = encode(own) @ encode([t for _, t in pairs]).T
    best = sims.argmax(axis=1)
    out = [CloseExample(text, pairs[j][0], pairs[j][1], float(sims[i, j]))
           for i, (text, j) in enumerate(zip(own, best, strict=False)) if sims[i, j] > limit]
    return sorted(out, key=lambda c: -c.similarity)


def example_warnings(name: str, examples: Sequence[str], others: Sequence[RouteSpec], embedder: Embedder | None,
                     cache_dir: Path | None = None, where: str = "", shown: int = 3) -> list[str]:
    """``skills check`` warnings: too few examples, or examples another skill all but repeats.

    ``embedder=None`` checks the count only (the callers then pass no ``others``).
    """
    prefix = f"{where}: " if where else ""
    out = []
    if len(examples) < MIN_EXAMPLES:
        out.append(f"{prefix}only {len(examples)} examples; the router needs at least {MIN_EXAMPLES} "
                   f"(about 10 routes well) for a stable threshold")
    close = [] if embedder is None else close_examples(examples, [r for r in others if r.name != name], embedder,
                                                       cache_dir)
    for c in close[:shown]:
        out.append(f"{prefix}example '{c.example}' is very close to '{c.other_example}' of skill '{c.other}' "
                   f"(cosine {c.similarity:.2f} > {CLOSE_SIMILARITY}); the router may not tell them apart: "
                   f"reword one, or add it to the other skill's negatives")
    if len(close) > shown:
        out.append(f"{prefix}{len(close) - shown} more examples are as close to another skill's")
    return out

