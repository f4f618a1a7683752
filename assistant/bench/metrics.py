"""The standard metrics of the benchmarks, and bootstrap intervals for any of them.

Library code where a maintained one exists: scikit-learn for accuracy and macro-F1,
``rouge-score`` (Google's reference implementation) for ROUGE. Slot micro-F1 counts
(name, value) pairs, as SNIPS papers do; answer normalisation follows the SQuAD/NQ convention
(lower case, no punctuation or articles, single spaces).
"""

from __future__ import annotations

import re
import string
from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation: lower case, punctuation and articles removed, spaces collapsed."""
    return " ".join(_ARTICLES.sub(" ", str(text).lower().translate(_PUNCT)).split())


def normalize_value(text: Any) -> str:
    """A slot value compared exactly: lower case, spaces collapsed, outer quotes/punctuation dropped."""
    return " ".join(str(text).lower().split()).strip(" \"'.,;:!?")


def micro_f1(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall and F1 from pooled counts (0 where undefined)."""
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def label_metrics(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1 over ``labels`` (a prediction outside them counts as wrong)."""
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(gold, predicted)),
            "macro_f1": float(f1_score(gold, predicted, labels=list(labels), average="macro", zero_division=0))}


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(reference: str, reply: str) -> dict[str, float]:
    """ROUGE-1/2/L F1 of ``reply`` against ``reference`` (Porter stemming, as the papers report)."""
    scores = _rouge_scorer().score(reference, reply)
    return {"rouge1": scores["rouge1"].fmeasure, "rouge2": scores["rouge2"].fmeasure, "rougeL": scores["rougeL"].fmeasure}


def bootstrap(scores: list[dict[str, Any]], aggregate: Callable[[list[dict[str, Any]]], dict[str, float]],
              rounds: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of every metric ``aggregate`` computes, resampling items."""
    if len(scores) < 2:
        return {}
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {}
    for _ in range(rounds):
        picked = rng.integers(0, len(scores), len(scores))
        for key, value in aggregate([scores[i] for i in picked]).items():
            samples.setdefault(key, []).append(value)
    low, high = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {k: (float(np.percentile(v, low)), float(np.percentile(v, high))) for k, v in samples.items()}
