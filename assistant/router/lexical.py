"""Word features beside the sentence embedding: TF-IDF over word unigrams and bigrams.

A frozen sentence embedding blurs words that decide between close intents ("balance" vs
"transactions", "freeze" vs "report lost"); the classifier sees both the embedding and
these sparse word features. Everything is plain arrays (vocabulary and idf), so a fitted
head is stored without pickle, and scoring a query needs no scikit-learn.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Sequence

import numpy as np

_TOKEN = re.compile(r"\b\w\w+\b")


def terms(text: str) -> list[str]:
    """Lower-cased words of two or more characters, and each adjacent pair of them."""
    words = _TOKEN.findall(text.casefold())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]


class Lexicon:
    """A fitted vocabulary with inverse document frequencies.

    Args:
        vocab: the terms, in column order.
        idf: smoothed inverse document frequency per term.
    """

    def __init__(self, vocab: Sequence[str], idf: np.ndarray) -> None:
        self.vocab = list(vocab)
        self.idf = np.asarray(idf, dtype=np.float32)
        self.index = {t: i for i, t in enumerate(self.vocab)}

    @classmethod
    def fit(cls, texts: Sequence[str]) -> "Lexicon":
        """Learn the vocabulary and idf from the training texts."""
        df: Counter[str] = Counter()
        for text in texts:
            df.update(set(terms(text)))
        vocab = sorted(df)
        n = len(texts)
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in vocab], dtype=np.float32)
        return cls(vocab, idf)

    def __len__(self) -> int:
        return len(self.vocab)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of the L2-normalised, sublinear TF-IDF vector of ``text``."""
        counts = Counter(t for t in terms(text) if t in self.index)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        cols = np.fromiter((self.index[t] for t in counts), dtype=np.int64, count=len(counts))
        vals = np.fromiter((1.0 + math.log(c) for c in counts.values()), dtype=np.float32, count=len(counts))
        vals *= self.idf[cols]
        vals /= max(float(np.linalg.norm(vals)), 1e-12)
        return cols, vals

    def matrix(self, texts: Sequence[str]):  # -> scipy.sparse.csr_matrix (scipy comes with scikit-learn)
        """The sparse TF-IDF matrix of ``texts``, for fitting."""
        from scipy import sparse

        indptr, indices, data = [0], [], []
        for text in texts:
            cols, vals = self.row(text)
            indices.append(cols)
            data.append(vals)
            indptr.append(indptr[-1] + len(cols))
        cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)
        return sparse.csr_matrix(
            (cat(data, np.float32), cat(indices, np.int64), np.array(indptr)), shape=(len(texts), len(self))
        )

    def logits(self, weights: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """``tfidf(texts) @ weights.T`` without building a matrix: ``(len(texts), n_classes)``."""
        out = np.zeros((len(texts), weights.shape[0]), dtype=np.float32)
        if weights.shape[1] == 0:
            return out
        for i, text in enumerate(texts):
            cols, vals = self.row(text)
            if len(cols):
                out[i] = weights[:, cols] @ vals
        return out
