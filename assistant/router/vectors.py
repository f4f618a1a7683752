"""Vector helpers shared by every embedder: unit length, length-sorted batches, mean pooling.

A leaf: numpy only (``mean_pool`` works on the torch tensors it is handed, without importing torch).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def embed_by_length(texts: list[str], pooled: Callable[[list[str]], Any], batch: int = 64) -> np.ndarray:
    """Unit vectors of ``texts``, embedded in batches of similar length (little padding).

    ``pooled(list_of_texts)`` returns their un-normalised vectors as a numpy array; the
    rows come back in the order of ``texts``.
    """
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    parts = [np.asarray(pooled([texts[i] for i in order[s : s + batch]]), dtype=np.float32)
             for s in range(0, len(order), batch)]
    out = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
    out[order] = np.concatenate(parts)
    return l2_normalise(out)


def mean_pool(hidden: Any, mask: Any) -> Any:
    """Mean of token states over the attention mask (torch tensors; last two dims tokens x width)."""
    mask = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(-2) / mask.sum(-2).clamp(min=1)
