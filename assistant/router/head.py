"""The decision head over frozen embeddings: logistic regression blended with kNN.

Logistic regression (over the embedding plus TF-IDF word features, see ``lexical``) is the
better classifier of the two; the cosine similarity to the closest
training examples is the better out-of-scope signal (a request far from every example of
every route is probably not for any of them). The score of a route is a blend of both, so one
threshold on it trades in-scope accuracy against out-of-scope recall.

A skill's negative examples (requests that look like its own but are not) only lower that
skill's score: when a request is closer to one of them than to any of the skill's examples,
the skill's kNN similarity is lowered by the difference (see :meth:`Head.negative_penalty`).
They are not a class of the classifier, so they never take score from another skill.

Only numpy runs at query time; scikit-learn is used to fit and imported lazily. Parameters
are plain arrays so they can be cached with ``np.save`` (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from assistant.router.lexical import Lexicon

# Blend weight, kNN and regularisation settings: the best of a small generic grid
# (C in 3/10/30, k in 1/3/5, weight in 0.2-0.5) by in-scope accuracy + out-of-scope recall on
# CLINC150 *val* (never test). The kNN part carries most of the out-of-scope signal, so it
# gets the larger weight.
LR_WEIGHT = 0.2
KNN_K = 3
LR_C = 10.0
# Single queries against a large head score kNN only for the classifier's top classes.
SHORTLIST = 10
SHORTLIST_MIN_EXAMPLES = 2048


def _top_k_mean(grid: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the ``min(KNN_K, count)`` largest values along the last axis of ``grid``, and the largest.

    ``grid`` holds each class's similarities in one row padded with -inf; ``counts`` (one per
    row, all >= 1) says how many are real, so a class with fewer than k examples averages
    only its own. Returns ``(mean, max)``, each of ``grid``'s shape less its last axis.
    """
    width = grid.shape[-1]
    k = min(KNN_K, width)
    top = np.partition(grid, width - k, axis=-1)[..., width - k :]
    if counts.min() >= KNN_K:  # every class has k examples: no padding among the top k
        return top.sum(axis=-1) / k, top.max(axis=-1)
    top = -np.sort(-top, axis=-1)
    csum = np.cumsum(np.where(np.isfinite(top), top, 0.0), axis=-1)
    kc = np.minimum(counts, KNN_K)
    mean = np.take_along_axis(csum, np.broadcast_to(kc - 1, csum.shape[:-1])[..., None], axis=-1)[..., 0] / kc
    return mean, top[..., 0]


@dataclass(frozen=True)
class Negatives:
    """Skills' negative examples: unit vectors ``x``, the class index each belongs to, texts."""

    x: np.ndarray
    owner: np.ndarray
    texts: list[str]

    @classmethod
    def empty(cls, dim: int) -> "Negatives":
        return cls(np.zeros((0, dim), np.float32), np.zeros(0, np.int64), [])


@dataclass(frozen=True)
class Pushed:
    """A class lowered by one of its negatives: scores before/after, and the evidence."""

    before: float
    after: float
    negative: str  # the nearest negative's text
    negative_sim: float  # the request's cosine to it
    example_sim: float  # the request's cosine to the class's nearest own example


@dataclass(frozen=True)
class OneScore:
    """One request's scores (one per class), its nearest example, and the classes its negatives lowered."""

    scores: np.ndarray
    nearest_class: int
    nearest_sim: float
    pushed: dict[int, Pushed]


@dataclass
class Head:
    """Fitted parameters. ``classes`` includes a reject class when ``has_reject``."""

    classes: list[str]
    weights: np.ndarray  # (n_classes, dim); zeros when only one class
    bias: np.ndarray  # (n_classes,)
    examples: np.ndarray  # (n_examples, dim) unit vectors
    example_class: np.ndarray  # (n_examples,) int index into classes
    has_reject: bool = False
    # Word features: vocabulary and the classifier's weights over it, (n_classes, vocab), stored
    # column-major so a query's few words gather contiguous columns (Lexicon.logits).
    lexicon: Lexicon = field(default_factory=lambda: Lexicon([], np.zeros(0)))
    lex_weights: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    # Per-skill negatives: unit vectors, the class each pushes away from, and their texts.
    neg_examples: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    neg_class: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    neg_texts: list[str] = field(default_factory=list)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def negative_penalty(self, q: np.ndarray, nearest_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """How far each class's negatives pull it down, for queries ``q`` ``(n, dim)``.

        ``nearest_pos`` ``(n, n_classes)`` is each class's nearest-example similarity. Returns
        ``(penalty, nearest_neg, nearest_neg_index)``, each ``(n, n_classes)``: the penalty is
        ``max(0, nearest negative - nearest example)`` (0 for a class without negatives),
        subtracted from the class's kNN similarity; ``nearest_neg_index`` indexes
        :attr:`neg_texts` (-1 where the class has none).
        """
        n = q.shape[0]
        penalty = np.zeros((n, self.n_classes), dtype=np.float32)
        nearest = np.full((n, self.n_classes), -np.inf, dtype=np.float32)
        where = np.full((n, self.n_classes), -1, dtype=np.int64)
        if len(self.neg_class) == 0:
            return penalty, nearest, where
        sims = q @ self.neg_examples.T
        for c in np.unique(self.neg_class):
            cols = np.flatnonzero(self.neg_class == c)
            best = np.argmax(sims[:, cols], axis=1)
            nearest[:, c] = sims[np.arange(n), cols[best]]
            where[:, c] = cols[best]
        has = np.isfinite(nearest) & np.isfinite(nearest_pos)
        penalty[has] = np.maximum(0.0, nearest[has] - nearest_pos[has])
        return penalty, nearest, where

    def lr_proba(self, q: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Softmax of the logistic-regression logits, shape ``(n_queries, n_classes)``."""
        if self.n_classes == 1:
            return np.ones((q.shape[0], 1), dtype=np.float32)
        logits = q @ self.weights.T + self.bias
        if self.lex_weights.shape[0] == self.n_classes:
            logits += self.lexicon.logits(self.lex_weights, texts)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def knn_sim(self, q: np.ndarray) -> np.ndarray:
        """Per class, the mean of the top-k cosine similarities, ``(n_queries, n_classes)``.

        Vectorised over classes (a Python loop over 150 classes cost more than the maths):
        each class's examples are gathered into one padded row, so one partition picks
        every class's top k at once. A class's negatives lower it (:meth:`negative_penalty`).
        """
        index, valid, counts = self._layout()
        out = np.full((q.shape[0], self.n_classes), -1.0, dtype=np.float32)
        if index.shape[1] == 0:
            return out
        has = counts > 0
        with_neg = len(self.neg_class) > 0
        nearest = np.full(out.shape, -np.inf, dtype=np.float32) if with_neg else None
        for start in range(0, q.shape[0], 256):  # bounded memory for large batches
            sims = q[start : start + 256] @ self.examples.T
            grouped = np.where(valid[has], sims[:, index[has]], -np.inf)
            mean, best = _top_k_mean(grouped, counts[has])
            out[start : start + 256, has] = mean
            if nearest is not None:
                nearest[start : start + 256, has] = best
        if nearest is not None:
            penalty = self.negative_penalty(q, nearest)[0]
            out = np.maximum(out - penalty, -1.0)
        return out

    def score_one(self, vec: np.ndarray, text: str) -> tuple[np.ndarray, int, float]:
        """Scores of one request, plus the class and similarity of its nearest example."""
        one = self.score_one_explained(vec, text)
        return one.scores, one.nearest_class, one.nearest_sim

    def score_one_explained(self, vec: np.ndarray, text: str) -> "OneScore":
        """Scores of one request with what went into them (see :class:`OneScore`).

        With many examples, only the :data:`SHORTLIST` classes the classifier ranks highest
        get the kNN part (one pass over every stored example costs more than the rest of
        routing); the others keep their classifier part only, which cannot win against a
        shortlisted class with any similarity.
        """
        q = np.asarray(vec, dtype=np.float32).reshape(1, -1)
        p = self.lr_proba(q, [text])[0]
        counts = self._layout()[2]
        shortlisted = self.examples.shape[0] > SHORTLIST_MIN_EXAMPLES and self.n_classes > SHORTLIST
        if shortlisted:
            classes = np.argpartition(-p, SHORTLIST)[:SHORTLIST]
        else:
            classes = np.arange(self.n_classes)
        classes = classes[counts[classes] > 0]
        sim = np.full(self.n_classes, -1.0, dtype=np.float32)
        nearest_pos = np.full(self.n_classes, -np.inf, dtype=np.float32)
        nearest_class, nearest_sim = -1, -1.0
        if len(classes):
            grid = self._class_sims(q[0], classes, shortlisted)
            i = int(np.argmax(grid))
            nearest_class, nearest_sim = int(classes[i // grid.shape[1]]), float(grid.flat[i])
            sim[classes], nearest_pos[classes] = _top_k_mean(grid, counts[classes])
        unpenalised = LR_WEIGHT * p + (1.0 - LR_WEIGHT) * (sim + 1.0) / 2.0
        if len(self.neg_class) == 0:
            return OneScore(unpenalised, nearest_class, nearest_sim, {})
        penalty, neg_sim, neg_index = (a[0] for a in self.negative_penalty(q, nearest_pos[None, :]))
        scores = LR_WEIGHT * p + (1.0 - LR_WEIGHT) * (np.maximum(sim - penalty, -1.0) + 1.0) / 2.0
        pushed = {
            int(c): Pushed(float(unpenalised[c]), float(scores[c]), self.neg_texts[int(neg_index[c])],
                           float(neg_sim[c]), float(nearest_pos[c]))
            for c in np.flatnonzero(penalty > 0)
        }
        return OneScore(scores, nearest_class, nearest_sim, pushed)

    def _class_sims(self, q: np.ndarray, classes: np.ndarray, shortlisted: bool) -> np.ndarray:
        """The cosine of ``q`` to each example of ``classes``: one row per class, padded with -inf.

        Padded rows let the top k of every class come from one partition instead of a loop
        over classes. A shortlist's classes are each one slice of :attr:`examples` (stored
        sorted by class), each multiplied straight into its row: no copy of the examples.
        """
        index, valid, counts = self._layout()
        if not shortlisted:
            return np.where(valid[classes], (self.examples @ q)[index[classes]], -np.inf)
        grid = np.full((len(classes), index.shape[1]), -np.inf, dtype=np.float32)
        for row, c in enumerate(classes):
            start, n = index[c, 0], counts[c]
            np.dot(self.examples[start : start + n], q, out=grid[row, :n])
        return grid

    def _layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index, valid, counts): each class's example rows, padded to the largest class."""
        cached = getattr(self, "_layout_cache", None)
        if cached is not None:
            return cached
        counts = np.bincount(self.example_class, minlength=self.n_classes)[: self.n_classes]
        width = int(counts.max()) if len(counts) else 0
        index = np.zeros((self.n_classes, width), dtype=np.int64)
        valid = np.zeros((self.n_classes, width), dtype=bool)
        # Examples are stored sorted by class (see fit_head), so each class is one slice.
        bounds = np.searchsorted(self.example_class, np.arange(self.n_classes + 1))
        for c in range(self.n_classes):
            n = int(bounds[c + 1] - bounds[c])
            index[c, :n] = np.arange(bounds[c], bounds[c + 1])
            valid[c, :n] = True
        self._layout_cache = (index, valid, counts)
        return self._layout_cache

    def scores(self, q: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """Route scores in [0, 1], ``(n_queries, n_classes)``, for embeddings ``q`` of ``texts``.

        ``LR_WEIGHT * p_lr + (1 - LR_WEIGHT) * sim`` where ``sim`` is the kNN similarity
        mapped from [-1, 1] to [0, 1]; both parts are high only for an in-scope request.
        """
        q = np.atleast_2d(np.asarray(q, dtype=np.float32))
        sim = (self.knn_sim(q) + 1.0) / 2.0
        if len(texts) != q.shape[0]:
            raise ValueError("one text per embedding is needed")
        return LR_WEIGHT * self.lr_proba(q, texts) + (1.0 - LR_WEIGHT) * sim

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez`` (loaded back with :meth:`from_arrays`)."""
        return {
            "classes": np.array(self.classes, dtype=str),
            "weights": self.weights,
            "bias": self.bias,
            "examples": self.examples,
            "example_class": self.example_class,
            "has_reject": np.array([self.has_reject]),
            "lex_vocab": np.array(self.lexicon.vocab, dtype=str),
            "lex_idf": self.lexicon.idf,
            "lex_weights": self.lex_weights,
            "neg_examples": self.neg_examples,
            "neg_class": self.neg_class,
            "neg_texts": np.array(self.neg_texts, dtype=str),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "Head":
        return cls(
            classes=[str(c) for c in arrays["classes"]],
            weights=arrays["weights"].astype(np.float32),
            bias=arrays["bias"].astype(np.float32),
            examples=arrays["examples"].astype(np.float32),
            example_class=arrays["example_class"].astype(np.int64),
            has_reject=bool(arrays["has_reject"][0]),
            lexicon=Lexicon([str(t) for t in arrays["lex_vocab"]], arrays["lex_idf"]),
            lex_weights=np.asfortranarray(arrays["lex_weights"], dtype=np.float32),
            neg_examples=arrays["neg_examples"].astype(np.float32),
            neg_class=arrays["neg_class"].astype(np.int64),
            neg_texts=[str(t) for t in arrays["neg_texts"]],
        )


def fit_head(x: np.ndarray, y: np.ndarray, classes: list[str], texts: Sequence[str],
             has_reject: bool = False, negatives: "Negatives | None" = None) -> Head:
    """Fit the head on unit vectors ``x`` of ``texts`` with integer labels ``y`` indexing ``classes``.

    ``negatives``: the skills' negative examples, kept for scoring only (not classifier classes).
    """
    order = np.argsort(np.asarray(y, dtype=np.int64), kind="stable")
    x = np.asarray(x, dtype=np.float32)[order]
    y = np.asarray(y, dtype=np.int64)[order]
    texts = [texts[i] for i in order]
    dim = x.shape[1] if x.ndim == 2 else 0
    weights = np.zeros((len(classes), dim), dtype=np.float32)
    bias = np.zeros(len(classes), dtype=np.float32)
    present = np.unique(y)
    lexicon = Lexicon([], np.zeros(0))
    lex_weights = np.zeros((0, 0), np.float32)
    if len(present) >= 2:
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        lexicon = Lexicon.fit(texts)
        features = sparse.hstack([sparse.csr_matrix(x), lexicon.matrix(texts)]).tocsr()
        # Class-balanced so a route with few examples is not drowned by a large one.
        clf = LogisticRegression(C=LR_C, max_iter=500, class_weight="balanced")
        clf.fit(features, y)
        coef, icpt = clf.coef_, clf.intercept_
        if coef.shape[0] == 1:  # sklearn's binary case has one row: expand to two
            coef, icpt = np.vstack([-coef / 2, coef / 2]), np.array([-icpt[0] / 2, icpt[0] / 2])
        weights[present] = coef[:, :dim]
        lex_weights = np.zeros((len(classes), len(lexicon)), dtype=np.float32)
        lex_weights[present] = coef[:, dim:]
        # Classes absent from the training set can never win.
        bias[:] = -1e4
        bias[present] = icpt
    neg = negatives or Negatives.empty(dim)
    return Head(classes, weights, bias, x, y, has_reject, lexicon, np.asfortranarray(lex_weights),
                np.asarray(neg.x, dtype=np.float32).reshape(-1, dim), np.asarray(neg.owner, dtype=np.int64),
                list(neg.texts))
