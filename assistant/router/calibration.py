"""Fitting the out-of-scope threshold from data.

With labelled validation data that includes out-of-scope requests, the threshold maximises
``in-scope accuracy + out-of-scope recall`` on it (both errors weigh the same, whatever the
class sizes). Without out-of-scope data we make some: *leave-routes-out* cross-validation
holds out whole routes, so their examples play requests that fit no remaining route, while a
slice of every other route's examples measures in-scope accuracy. That simulation overstates
how far real out-of-scope text sits (held-out training examples are closer to their siblings
than users' requests are), so there the threshold is also held to a target in-scope retention:
it keeps at least :data:`DEFAULT_KEEP_IN_SCOPE` (``[router] keep_in_scope``) of the requests
cross-validation routes right. Nothing here is hand-typed except that target and the prior used
when there is no data at all (a single example).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from assistant.router.head import LR_WEIGHT, Negatives, fit_head

# Used only when there is nothing to calibrate on (one route with one example): the score of
# a request whose nearest example has cosine similarity 0.5 and whose classifier is certain.
PRIOR_THRESHOLD = LR_WEIGHT * 1.0 + (1 - LR_WEIGHT) * 0.75


# Without out-of-scope validation data, the threshold keeps at least this share of the
# requests that cross-validation routes right ([router] keep_in_scope). Chosen on CLINC150
# *val* and SNIPS *valid* (never test), see docs/routing.md: cross-validation on a route's own
# examples overstates how far out-of-scope text sits, so maximising accuracy + recall there
# drops 8-12 % of real in-scope requests.
DEFAULT_KEEP_IN_SCOPE = 0.98
# The target is met with this confidence (one-sided normal bound on the share kept): with a
# few dozen examples the share cross-validation keeps is a rough estimate, so the threshold
# keeps more of them (every one, below about 130), with many it converges on the target.
KEEP_CONFIDENCE_Z = 1.645  # 95 %
# Retention levels at which the trade-off curve is reported.
CURVE_KEEPS = (1.0, 0.995, 0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.9, 0.85, 0.8)


@dataclass(frozen=True)
class Calibration:
    """A fitted threshold and the evidence behind it (stored with the router).

    ``in_scope_accuracy``, ``in_scope_retention`` and ``oos_recall`` are what the calibration
    data (validation set or cross-validation) expects at ``threshold``; ``curve`` lists the
    same at other thresholds, so the trade-off is visible.
    """

    threshold: float
    method: str
    in_scope_accuracy: float | None = None
    oos_recall: float | None = None
    n_in_scope: int = 0
    n_oos: int = 0
    # Median score of correctly routed in-scope requests: a follow-up leaves the previous
    # skill only when it scores like a typical in-scope request for another one.
    confident: float = 0.0
    # Share of the correctly routed in-scope requests the threshold keeps, and the target
    # it was held to (None: no target, the objective alone chose).
    in_scope_retention: float | None = None
    keep_in_scope: float | None = None
    curve: tuple[dict[str, float | None], ...] = ()

    def as_dict(self, curve: bool = True) -> dict[str, object]:
        out: dict[str, object] = {
            "threshold": self.threshold,
            "method": self.method,
            "in_scope_accuracy": self.in_scope_accuracy,
            "in_scope_retention": self.in_scope_retention,
            "oos_recall": self.oos_recall,
            "keep_in_scope": self.keep_in_scope,
            "n_in_scope": self.n_in_scope,
            "n_oos": self.n_oos,
            "confident": self.confident,
        }
        if curve:
            out["curve"] = [dict(point) for point in self.curve]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Calibration":
        """From :meth:`as_dict`'s JSON, as stored with the router (decoded, not validated)."""
        fields = dict(data)
        fields["curve"] = tuple(dict(p) for p in fields.get("curve") or ())
        return cls(**fields)


def rates_at(in_scores: np.ndarray, in_correct: np.ndarray, oos_scores: np.ndarray,
           thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """In-scope accuracy and out-of-scope recall at each threshold (accept is score >= t)."""
    correct_sorted = np.sort(in_scores[in_correct])
    acc = (len(correct_sorted) - np.searchsorted(correct_sorted, thresholds, side="left")) / len(in_scores)
    if len(oos_scores):
        rec = np.searchsorted(np.sort(oos_scores), thresholds, side="left") / len(oos_scores)
    else:
        rec = np.full(len(thresholds), np.nan)
    return acc, rec


def keep_threshold(in_scores: np.ndarray, in_correct: np.ndarray, keep: float) -> float:
    """The highest threshold that keeps at least ``keep`` of the correctly routed scores.

    It sits midway between the lowest kept score and the next lower in-scope score, so it is
    not on a data point.
    """
    ok = np.sort(np.asarray(in_scores, dtype=np.float64)[np.asarray(in_correct, dtype=bool)])
    if len(ok) == 0:
        return 0.0
    dropped = int(np.floor((1.0 - keep) * len(ok) + 1e-9))
    lowest_kept = ok[min(dropped, len(ok) - 1)]
    below = np.asarray(in_scores, dtype=np.float64)
    below = below[below < lowest_kept]
    return float((lowest_kept + below.max()) / 2) if len(below) else float(lowest_kept) * 0.999


def confident_keep(keep: float, n: int) -> float:
    """The share of ``n`` cross-validated requests to keep so that ``keep`` holds with 95 % confidence."""
    if n <= 0:
        return keep
    return float(min(1.0, keep + KEEP_CONFIDENCE_Z * np.sqrt(keep * (1.0 - keep) / n)))


def best_threshold(
    in_scores: np.ndarray, in_correct: np.ndarray, oos_scores: np.ndarray, method: str,
    keep: float | None = None,
) -> Calibration:
    """The threshold maximising ``accuracy(in-scope) + recall(out-of-scope)``.

    Args:
        in_scores: the winner's score for each in-scope request.
        in_correct: whether the winner was the right route.
        oos_scores: the winner's score for each out-of-scope request.
        method: recorded in the result.
        keep: if given, the threshold is lowered where needed so that it keeps at least this
            share of the correctly routed in-scope requests (:func:`keep_threshold`).
    """
    in_scores = np.asarray(in_scores, dtype=np.float64)
    in_correct = np.asarray(in_correct, dtype=bool)
    oos_scores = np.asarray(oos_scores, dtype=np.float64)
    if len(in_scores) == 0:
        return Calibration(PRIOR_THRESHOLD, "prior (no in-scope data)", n_oos=len(oos_scores))
    # Candidate thresholds: every observed score (accept is score >= t), plus "accept all".
    cands = np.unique(np.concatenate([in_scores, oos_scores, [0.0]]))
    acc, rec = rates_at(in_scores, in_correct, oos_scores, cands)
    objective = acc + np.nan_to_num(rec)
    best = int(np.argmax(objective))
    # Put the threshold midway to the next lower score so it is not on a data point.
    lower = cands[best - 1] if best > 0 else 0.0
    threshold = float((cands[best] + lower) / 2) if best > 0 else 0.0
    n_ok = int(in_correct.sum())
    if keep is not None:
        target = confident_keep(keep, n_ok)
        capped = keep_threshold(in_scores, in_correct, target)
        if capped < threshold:
            threshold = capped
            method += (f", lowered to keep {keep:.1%} of in-scope requests (95% confidence over "
                       f"{n_ok} cross-validated ones: keeps {target:.1%} of them)")
    levels = np.array([keep_threshold(in_scores, in_correct, level) if n_ok else 0.0 for level in CURVE_KEEPS])
    acc_c, rec_c = rates_at(in_scores, in_correct, oos_scores, np.append(levels, threshold))
    acc_t, rec_t = float(acc_c[-1]), float(rec_c[-1])
    curve = [{"keep": level, "threshold": round(float(t), 4), "in_scope_accuracy": round(float(a), 4),
              "oos_recall": None if np.isnan(r) else round(float(r), 4)}
             for level, t, a, r in zip(CURVE_KEEPS, levels, acc_c, rec_c, strict=False)]
    ok_scores = np.sort(in_scores[in_correct])
    return Calibration(
        threshold=threshold,
        method=method,
        in_scope_accuracy=acc_t,
        oos_recall=None if np.isnan(rec_t) else rec_t,
        n_in_scope=len(in_scores),
        n_oos=len(oos_scores),
        confident=float(np.median(ok_scores)) if len(ok_scores) else threshold,
        in_scope_retention=acc_t * len(in_scores) / n_ok if n_ok else None,
        keep_in_scope=keep,
        curve=tuple(curve),
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
    cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)
    return cat(in_s, np.float64), cat(in_ok, bool), cat(oos_s, np.float64)
