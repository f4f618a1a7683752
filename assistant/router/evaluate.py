"""``assistant router eval``: build from TRAIN, calibrate on VAL, route TEST one at a time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from assistant.router.calibration import DEFAULT_KEEP_IN_SCOPE, rates_at
from assistant.router.data import OOS_LABEL, read_jsonl, routes_from_examples, sample_per_label
from assistant.router.embedders import Embedder
from assistant.router.int8 import Int8Embedder
from assistant.router.router import Router

Progress = Callable[[str, int, int], None]


def run_eval(
    embedder: Embedder,
    train: Path | list[Path],
    test: Path,
    val: Path | None = None,
    *,
    cache_dir: Path | None = None,
    per_label: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    adapt: bool = True,
    keep_in_scope: float | None = DEFAULT_KEEP_IN_SCOPE,
    int8: bool = False,
) -> dict[str, Any]:
    """Evaluate the router on labelled JSONL files and return the figures.

    ``train`` may be several files (e.g. in-scope examples and out-of-scope negatives).
    Test labels are read only to score the answers, after routing; thresholds come from
    ``val`` or, without it, from cross-validation on ``train``.

    Raises:
        RouterError: a file is missing, empty or malformed (naming file and line).
    """
    train_ex = [ex for path in ([train] if isinstance(train, Path) else train) for ex in read_jsonl(path)]
    test_ex = read_jsonl(test)  # read (and validated) up front so a bad file fails fast
    val_ex = read_jsonl(val) if val else None
    if per_label:
        train_ex = sample_per_label(train_ex, per_label, seed)
    routes = routes_from_examples(train_ex)
    started = time.perf_counter()
    router = Router.build(
        routes, embedder, cache_dir, val=val_ex,
        progress=(lambda d, t: progress("embedding", d, t)) if progress else None,
        adapt=adapt, tune_progress=(lambda d, t: progress("tuning", d, t)) if progress else None,
        keep_in_scope=keep_in_scope, int8=int8,
    )
    build_s = time.perf_counter() - started
    latencies = np.empty(len(test_ex))
    chosen: list[str | None] = []
    best: list[str | None] = []
    scores = np.empty(len(test_ex))
    for i, ex in enumerate(test_ex):
        t0 = time.perf_counter()
        choice = router.route(ex.text)
        latencies[i] = (time.perf_counter() - t0) * 1000
        chosen.append(choice.skill)
        best.append(choice.best)
        scores[i] = choice.score
        if progress and (i % 50 == 0 or i == len(test_ex) - 1):
            progress("routing", i + 1, len(test_ex))
    ins = [i for i, ex in enumerate(test_ex) if ex.label != OOS_LABEL]
    oos = [i for i, ex in enumerate(test_ex) if ex.label == OOS_LABEL]
    acc = sum(chosen[i] == test_ex[i].label for i in ins) / len(ins) if ins else None
    acc_nofb = sum(best[i] == test_ex[i].label for i in ins) / len(ins) if ins else None
    oos_recall = sum(chosen[i] is None for i in oos) / len(oos) if oos else None
    cal = router.calibration
    return {
        "accuracy": acc,
        "oos_recall": oos_recall,
        "accuracy_without_fallback": acc_nofb,
        "latency_ms_p50": float(np.percentile(latencies, 50)),
        "latency_ms_p95": float(np.percentile(latencies, 95)),
        "n_train": len(train_ex),
        "n_val": len(val_ex) if val_ex else 0,
        "n_test": len(test_ex),
        "n_routes": len(router.routes),
        "threshold": cal.threshold,
        "calibration": cal.as_dict(),
        "test_curve": _test_curve(cal, test_ex, chosen, best, scores),
        "embedder": router.embedder.name,
        "adapted": getattr(router.embedder, "inner", router.embedder) is not embedder,
        "int8": isinstance(router.embedder, Int8Embedder),
        "build_s": round(build_s, 2),
        "per_label": per_label,
        "seed": seed if per_label else None,
    }


def _test_curve(cal, test_ex, chosen, best, scores) -> list[dict[str, object]]:
    """In-scope accuracy and out-of-scope recall measured on TEST at the calibration curve's thresholds.

    A request the router sent to the fallback although its score cleared the threshold (it
    was closest to fallback examples) stays a fallback at every threshold.
    """
    labels = np.array([ex.label for ex in test_ex])
    right = np.array([b == ex.label for b, ex in zip(best, test_ex, strict=False)])
    vetoed = np.array([c is None for c in chosen]) & (scores >= cal.threshold)
    scores = np.where(vetoed, -np.inf, scores)
    ins, oos = labels != OOS_LABEL, labels == OOS_LABEL
    thresholds = np.array([float(point["threshold"]) for point in cal.curve])
    acc = rates_at(scores[ins], right[ins], scores[oos], thresholds)[0] if ins.any() else [None] * len(thresholds)
    rec = rates_at(scores, right, scores[oos], thresholds)[1]  # recall needs only the OOS scores
    return [{"keep": point["keep"], "threshold": float(t),
             "accuracy": None if a is None else round(float(a), 4),
             "oos_recall": None if np.isnan(r) else round(float(r), 4)}
            for point, t, a, r in zip(cal.curve, thresholds, acc, rec, strict=False)]
