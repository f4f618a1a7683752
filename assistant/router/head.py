"""The decision head over frozen embeddings: logistic regression blended with kNN.

Logistic regression is the better classifier of the two; the cosine similarity to the closest
training examples is the better out-of-scope signal (a request far from every example of
every route is probably not for any of them). The score of a route is a blend of both, so one
threshold on it trades in-scope accuracy against out-of-scope recall.

Only numpy runs at query time; scikit-learn is used to fit and imported lazily. Parameters
are plain arrays so they can be cached with ``np.save`` (no pickle).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Blend weight and kNN settings, chosen on CLINC150 *val* among a small generic grid
# (C in 1/3/10, k in 1/3/5, weight in 0.2/0.3/0.5); the kNN part carries most of the
# out-of-scope signal, so it gets the larger weight.
LR_WEIGHT = 0.3
KNN_K = 3
KNN_TEMPERATURE = 0.05
LR_C = 10.0


@dataclass
class Head:
    """Fitted parameters. ``classes`` includes a reject class when ``has_reject``."""

    classes: list[str]
    weights: np.ndarray  # (n_classes, dim); zeros when only one class
    bias: np.ndarray  # (n_classes,)
    examples: np.ndarray  # (n_examples, dim) unit vectors
    example_class: np.ndarray  # (n_examples,) int index into classes
    has_reject: bool = False

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def lr_proba(self, q: np.ndarray) -> np.ndarray:
        """Softmax of the logistic-regression logits, shape ``(n_queries, n_classes)``."""
        if self.n_classes == 1:
            return np.ones((q.shape[0], 1), dtype=np.float32)
        logits = q @ self.weights.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def knn_sim(self, q: np.ndarray) -> np.ndarray:
        """Per class, the mean of the top-k cosine similarities, ``(n_queries, n_classes)``."""
        sims = q @ self.examples.T
        out = np.full((q.shape[0], self.n_classes), -1.0, dtype=np.float32)
        # Examples are stored sorted by class (see fit_head), so each class is one slice.
        bounds = np.searchsorted(self.example_class, np.arange(self.n_classes + 1))
        for c in range(self.n_classes):
            cs = sims[:, bounds[c] : bounds[c + 1]]
            n = cs.shape[1]
            if n == 0:
                continue
            k = min(KNN_K, n)
            top = np.partition(cs, n - k, axis=1)[:, n - k :] if k < n else cs
            out[:, c] = top.mean(axis=1)
        return out

    def scores(self, q: np.ndarray) -> np.ndarray:
        """Route scores in [0, 1], ``(n_queries, n_classes)``.

        ``LR_WEIGHT * p_lr + (1 - LR_WEIGHT) * sim`` where ``sim`` is the kNN similarity
        mapped from [-1, 1] to [0, 1]; both parts are high only for an in-scope request.
        """
        q = np.atleast_2d(np.asarray(q, dtype=np.float32))
        sim = (self.knn_sim(q) + 1.0) / 2.0
        return LR_WEIGHT * self.lr_proba(q) + (1.0 - LR_WEIGHT) * sim

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays for ``np.savez`` (loaded back with :meth:`from_arrays`)."""
        return {
            "classes": np.array(self.classes, dtype=str),
            "weights": self.weights,
            "bias": self.bias,
            "examples": self.examples,
            "example_class": self.example_class,
            "has_reject": np.array([self.has_reject]),
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
        )


def fit_head(x: np.ndarray, y: np.ndarray, classes: list[str], has_reject: bool = False) -> Head:
    """Fit the head on unit vectors ``x`` with integer labels ``y`` indexing ``classes``."""
    order = np.argsort(np.asarray(y, dtype=np.int64), kind="stable")
    x = np.asarray(x, dtype=np.float32)[order]
    y = np.asarray(y, dtype=np.int64)[order]
    n, dim = x.shape[0], x.shape[1] if x.ndim == 2 else 0
    weights = np.zeros((len(classes), dim), dtype=np.float32)
    bias = np.zeros(len(classes), dtype=np.float32)
    present = np.unique(y)
    if len(present) >= 2:
        from sklearn.linear_model import LogisticRegression

        # Class-balanced so a route with few examples is not drowned by a large one.
        clf = LogisticRegression(C=LR_C, max_iter=300, class_weight="balanced")
        clf.fit(x, y)
        coef, icpt = clf.coef_, clf.intercept_
        if coef.shape[0] == 1:  # sklearn's binary case has one row: expand to two
            coef, icpt = np.vstack([-coef / 2, coef / 2]), np.array([-icpt[0] / 2, icpt[0] / 2])
        weights[present] = coef
        # Classes absent from the training set can never win.
        bias[:] = -1e4
        bias[present] = icpt
    return Head(classes, weights, bias, x, y, has_reject)
