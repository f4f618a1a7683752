"""Running a skill's eval set against candidate models and measuring quality, speed, memory.

A candidate is a catalog model, optionally with a LoRA adapter: ``gemma-3-270m``,
``gemma-3-270m+adapter`` (the skill's own adapter) or ``gemma-3-270m+/path/to/x.gguf``.
Generation is greedy (temperature 0, fixed seed) so runs are comparable.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable

from assistant.backends.base import Backend, GenerationRequest
from assistant.errors import SkillError
from assistant.tuning import memory
from assistant.tuning.checks import eval_labels, score_item
from assistant.tuning.task import SkillTask


@dataclass(frozen=True)
class Candidate:
    """One model (+ adapter) to evaluate; ``label`` is how tables and charts name it."""

    label: str
    model: str
    adapter: Path | None = None


def parse_candidates(text: str | None, task: SkillTask, default_model: str) -> list[Candidate]:
    """Candidates from ``--models a,b+adapter,...``; default: the skill's model with and without its adapter.

    Raises:
        SkillError: ``+adapter`` for a skill without one, or an adapter file that does not exist.
    """
    if not text:
        model = task.model or default_model
        names = [f"{model}+adapter", model] if task.adapter else [model]
    else:
        names = [n.strip() for n in text.split(",") if n.strip()]
    out = []
    for name in names:
        model, _, adapter = name.partition("+")
        path: Path | None = None
        if adapter == "adapter":
            if task.adapter is None:
                raise SkillError(f"skill '{task.name}' has no adapter for '{name}'", "train one with `assistant tune` or name a file: MODEL+/path/to/adapter.gguf")
            path = task.adapter
        elif adapter:
            path = Path(adapter).expanduser()
        if path is not None and not path.is_file():
            raise SkillError(f"adapter file {path} does not exist", "re-run `assistant tune` or fix the path")
        out.append(Candidate(name, model, path))
    return out


@dataclass
class ItemResult:
    """One eval item's answer and score."""

    input: str
    expected: Any
    output: str
    score: float
    passed: bool
    valid: bool
    detail: str
    fields: dict[str, bool] = field(default_factory=dict)
    ttft_ms: float | None = None
    duration_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tokens_per_s: float | None = None


@dataclass
class CandidateReport:
    """A candidate's figures over the eval set."""

    label: str
    model: str
    adapter: str | None
    n: int
    accuracy: float
    pass_rate: float
    valid_rate: float
    field_accuracy: dict[str, float]
    ttft_ms_p50: float | None
    decode_tok_s_p50: float | None
    throughput_tok_s: float
    ms_per_token: float
    ms_per_item_p50: float
    load_s: float
    peak_rss_mb: float
    error: str = ""
    items: list[ItemResult] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The report without per-item detail (what the results store keeps per run)."""
        data = asdict(self)
        data.pop("items")
        return data


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def summarize(candidate: Candidate, items: list[ItemResult], load_s: float, peak_rss_mb: float) -> CandidateReport:
    """Aggregate item results into a :class:`CandidateReport`."""
    n = len(items) or 1
    tokens = sum(i.prompt_tokens + i.completion_tokens for i in items)
    spent_ms = sum(i.duration_ms for i in items)
    fields: dict[str, list[bool]] = {}
    for item in items:
        for key, ok in item.fields.items():
            fields.setdefault(key, []).append(ok)
    return CandidateReport(
        label=candidate.label,
        model=candidate.model,
        adapter=str(candidate.adapter) if candidate.adapter else None,
        n=len(items),
        accuracy=round(sum(i.score for i in items) / n, 4),
        pass_rate=round(sum(i.passed for i in items) / n, 4),
        valid_rate=round(sum(i.valid for i in items) / n, 4),
        field_accuracy={k: round(sum(v) / len(v), 4) for k, v in fields.items()},
        ttft_ms_p50=_median([i.ttft_ms for i in items if i.ttft_ms is not None]),
        decode_tok_s_p50=_median([i.tokens_per_s for i in items if i.tokens_per_s]),
        throughput_tok_s=round(tokens / (spent_ms / 1000), 1) if spent_ms > 0 else 0.0,
        ms_per_token=round(spent_ms / tokens, 3) if tokens else 0.0,
        ms_per_item_p50=_median([i.duration_ms for i in items]) or 0.0,
        load_s=round(load_s, 3),
        peak_rss_mb=round(peak_rss_mb, 1),
        items=items,
    )


def run_item(backend: Backend, task: SkillTask, item: dict[str, Any]) -> ItemResult:
    """Ask ``backend`` one eval item with the skill's prompt and schema; score the answer."""
    request = GenerationRequest(
        messages=task.messages(item["input"]), max_tokens=task.max_tokens, temperature=0.0,
        top_k=1, seed=0, json_schema=task.json_schema,
    )
    generation = backend.stream(request)
    text = generation.text()
    return scored(task, item, text, [generation.result] if generation.result else [])


def scored(task: SkillTask, item: dict[str, Any], text: str, results: list[Any], error: str = "") -> ItemResult:
    """``text`` (the answer to ``item``) scored, with the speed of its first generation and the
    tokens of all of them (``results``: GenerationResult; a skill may generate more than once)."""
    score = score_item(text, item, task.output_schema)
    first = results[0] if results else None
    return ItemResult(
        input=item["input"], expected=item.get("expected", item.get("keywords")), output=text,
        score=round(score.score, 4), passed=score.passed, valid=score.valid,
        detail=error or score.detail, fields=score.fields, ttft_ms=first.ttft_ms if first else None,
        duration_ms=sum(r.duration_ms for r in results),
        prompt_tokens=sum(r.prompt_tokens for r in results),
        completion_tokens=sum(r.completion_tokens for r in results),
        tokens_per_s=first.tokens_per_s if first else None,
    )


@dataclass
class EvalRun:
    """One ``assistant eval`` run."""

    skill: str
    started: str
    items: int
    reports: list[CandidateReport]

    def winner(self) -> CandidateReport | None:
        """Most accurate candidate; ties go to the cheaper one per token."""
        ok = [r for r in self.reports if not r.error]
        return min(ok, key=lambda r: (-r.accuracy, r.ms_per_token)) if ok else None

    def as_dict(self, with_items: bool = True) -> dict[str, Any]:
        reports = [asdict(r) if with_items else r.summary() for r in self.reports]
        best = self.winner()
        return {"skill": self.skill, "started": self.started, "items": self.items,
                "winner": best.label if best else None, "reports": reports}


Loader = Callable[[Candidate], Backend]
Releaser = Callable[[Candidate, Backend], None]


def evaluate(
    task: SkillTask,
    items: list[dict[str, Any]],
    candidates: list[Candidate],
    load: Loader,
    release: Releaser | None = None,
    on_item: Callable[[Candidate, int, ItemResult], None] | None = None,
    answer: Callable[[Candidate, dict[str, Any]], ItemResult] | None = None,
) -> EvalRun:
    """Run every item on every candidate, one candidate loaded at a time.

    ``answer`` answers and scores one item for a loaded candidate (a skill with code of its own
    runs through it); without it each item goes to the backend with the skill's prompt and
    schema (:func:`run_item`). A candidate that fails to load is reported with its error; the
    others still run.
    """
    started = datetime.now(UTC).isoformat(timespec="seconds")
    labels = eval_labels(items, task.output_schema)
    # Without a label schema, a label item is matched against every label the set uses.
    items = [dict(item, labels=item.get("labels", labels)) if item.get("check") == "label" else item for item in items]
    reports = []
    for candidate in candidates:
        base_mb = memory.rss_mb()
        memory.reset_peak()
        t0 = time.perf_counter()
        try:
            backend = load(candidate)
        except Exception as exc:  # noqa: BLE001 - a broken candidate must not stop the comparison
            message = getattr(exc, "message", str(exc))
            reports.append(CandidateReport(candidate.label, candidate.model, str(candidate.adapter) if candidate.adapter else None,
                                           0, 0.0, 0.0, 0.0, {}, None, None, 0.0, 0.0, 0.0, 0.0, 0.0, error=message))
            continue
        load_s = time.perf_counter() - t0
        results = []
        try:
            for index, item in enumerate(items):
                results.append(answer(candidate, item) if answer else run_item(backend, task, item))
                if on_item:
                    on_item(candidate, index, results[-1])
        finally:
            peak = max(0.0, memory.peak_mb() - base_mb)
            if release:
                release(candidate, backend)
        reports.append(summarize(candidate, results, load_s, peak))
    return EvalRun(task.name, started, len(items), reports)
