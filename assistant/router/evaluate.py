"""``assistant router eval``: build from TRAIN, calibrate on VAL, route TEST one at a time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import numpy as np

from assistant.router.data import OOS_LABEL, read_jsonl, routes_from_examples, sample_per_label
from assistant.router.embedders import Embedder
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
) -> dict[str, object]:
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
    )
    build_s = time.perf_counter() - started
    latencies = np.empty(len(test_ex))
    chosen: list[str | None] = []
    best: list[str | None] = []
    for i, ex in enumerate(test_ex):
        t0 = time.perf_counter()
        choice = router.route(ex.text)
        latencies[i] = (time.perf_counter() - t0) * 1000
        chosen.append(choice.skill)
        best.append(choice.best)
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
        "embedder": router.embedder.name,
        "adapted": router.embedder is not embedder,
        "build_s": round(build_s, 2),
        "per_label": per_label,
        "seed": seed if per_label else None,
    }
