"""Fitting the out-of-scope threshold from data.

With labelled validation data that includes out-of-scope requests, the threshold maximises
``in-scope accuracy + out-of-scope recall`` on it (both errors weigh the same, whatever the
class sizes). Without out-of-scope data we make some: *leave-routes-out* cross-validation
holds out whole routes, so their examples play requests that fit no remaining route, while a
slice of every other route's examples measures in-scope accuracy. Nothing here is hand-typed
except the prior used when there is no data at all (a single example).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from assistant.router.head import LR_WEIGHT, Negatives, fit_head

# Used only when there is nothing to calibrate on (one route with one example): the score of
# a request whose nearest example has cosine similarity 0.5 and whose classifier is certain.
PRIOR_THRESHOLD = LR_WEIGHT * 1.0 + (1 - LR_WEIGHT) * 0.75


@dataclass(frozen=True)
class Calibration:
    """A fitted threshold and the evidence behind it (stored with the router)."""

    threshold: float
    method: str
    in_scope_accuracy: float | None = None
    oos_recall: float | None = None
    n_in_scope: int = 0
    n_oos: int = 0
    # Median score of correctly routed in-scope requests: a follow-up leaves the previous
    # skill only when it scores like a typical in-scope request for another one.
    confident: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "threshold": self.threshold,
            "method": self.method,
            "in_scope_accuracy": self.in_scope_accuracy,
            "oos_recall": self.oos_recall,
            "n_in_scope": self.n_in_scope,
            "n_oos": self.n_oos,
            "confident": self.confident,
        }


def best_threshold(
    in_scores: np.ndarray, in_correct: np.ndarray, oos_scores: np.ndarray, method: str
) -> Calibration:
    """The threshold maximising ``accuracy(in-scope) + recall(out-of-scope)``.

    Args:
        in_scores: the winner's score for each in-scope request.
        in_correct: whether the winner was the right route.
        oos_scores: the winner's score for each out-of-scope request.
        method: recorded in the result.
    """
    in_scores = np.asarray(in_scores, dtype=np.float64)
    in_correct = np.asarray(in_correct, dtype=bool)
    oos_scores = np.asarray(oos_scores, dtype=np.float64)
    if len(in_scores) == 0:
        return Calibration(PRIOR_THRESHOLD, "prior (no in-scope data)", n_oos=len(oos_scores))
    # Candidate thresholds: every observed score (accept is score >= t), plus "accept all".
    cands = np.unique(np.concatenate([in_scores, oos_scores, [0.0]]))
    correct_sorted = np.sort(in_scores[in_correct])
    oos_sorted = np.sort(oos_scores)
    acc = (len(correct_sorted) - np.searchsorted(correct_sorted, cands, side="left")) / len(in_scores)
    if len(oos_scores):
        rec = np.searchsorted(oos_sorted, cands, side="left") / len(oos_scores)
    else:
        rec = np.zeros_like(acc)
    objective = acc + rec
    best = int(np.argmax(objective))
    # Put the threshold midway to the next lower score so it is not on a data point.
    lower = cands[best - 1] if best > 0 else 0.0
    threshold = float((cands[best] + lower) / 2) if best > 0 else 0.0
    return Calibration(
        threshold=threshold,
        method=method,
        in_scope_accuracy=float(acc[best]),
        oos_recall=float(rec[best]) if len(oos_scores) else None,
        n_in_scope=len(in_scores),
        n_oos=len(oos_scores),
        confident=float(np.median(correct_sorted)) if len(correct_sorted) else threshold,
    )


def leave_routes_out(
    x: np.ndarray, y: np.ndarray, classes: list[str], texts: list[str], folds: int = 5, seed: int = 0,
    reject: int | None = None, negatives: "Negatives | None" = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-validated scores: (in-scope scores, in-scope correct, pseudo out-of-scope scores).

    Each fold holds out a group of routes entirely (their examples act as out-of-scope) and a
    ``1/folds`` slice of every other route's examples (in-scope). ``reject`` (the fallback
    examples' class) is never held out as a route; its examples count as out-of-scope when sliced.
    The skills' ``negatives`` are in every fold's head (they lower only their own skill, so
    those of a held-out route change nothing) and are not scored: their right route is unknown.
    """
    rng = np.random.default_rng(seed)
    routes = np.array([c for c in range(len(classes)) if c != reject])
    folds = max(2, min(folds, len(routes)))
    route_fold = np.empty(len(classes), dtype=np.int64)
    route_fold[routes] = rng.permutation(len(routes)) % folds
    if reject is not None:
        route_fold[reject] = -1
    example_fold = rng.permutation(len(y)) % folds
    in_s, in_ok, oos_s = [], [], []
    for f in range(folds):
        held_route = route_fold[y] == f
        held_slice = (example_fold == f) & ~held_route
        train = ~held_route & ~held_slice
        if len(np.unique(y[train])) < 1 or not train.any():
            continue
        head = fit_head(x[train], y[train], classes, [texts[i] for i in np.flatnonzero(train)],
                        has_reject=reject is not None, negatives=negatives)
        for mask, is_oos in ((held_slice, False), (held_route, True)):
            if not mask.any():
                continue
            scores = head.scores(x[mask], [texts[i] for i in np.flatnonzero(mask)])
            win = scores.argmax(axis=1)
            top = scores.max(axis=1)
            if reject is not None:
                top[win == reject] = -1.0  # the reject class winning always falls back
            truth = y[mask]
            if is_oos:
                oos_s.append(top)
            else:
                neg = truth == reject if reject is not None else np.zeros(len(truth), bool)
                oos_s.append(top[neg])
                in_s.append(top[~neg])
                in_ok.append(win[~neg] == truth[~neg])
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
    return cat(in_s, np.float64), cat(in_ok, bool), cat(oos_s, np.float64)
