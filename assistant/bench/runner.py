"""Run a benchmark through a skill, the way a chat turn runs it, on each candidate model.

Each item is one turn: the skill's context from the registry (its prompt, schema, tools,
permissions and settings), the app's own model access (:class:`ModelAccessForTurn`: catalog
defaults, window fitting), and the skill's handler under its timeout. Only two things differ
from chat: decoding is greedy (temperature 0, fixed seed) so runs are comparable, and the
candidate's model stands in for the skill's. ``raw=True`` instead sends the request text alone
straight to the model (no skill, no system prompt): the baseline that shows what the skill
adds or costs.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Callable, Iterator

from assistant.backends.base import ChatMessage, GenerationRequest, GenerationResult
from assistant.bench.base import BenchItem, Benchmark
from assistant.bench.metrics import bootstrap
from assistant.errors import AssistantError
from assistant.skills.skill import SkillTimeout
from assistant.tuning import memory
from assistant.tuning.runner import Candidate

GREEDY: dict[str, Any] = {"temperature": 0.0, "top_k": 1, "seed": 0}  # GenerationRequest fields
# What a runner does with one item: the reply and the generations behind it.
Answer = Callable[[Candidate, BenchItem], tuple[str, list[GenerationResult]]]


@dataclass
class ItemRun:
    """One item's reply, scores and measurements."""

    id: str
    reply: str
    scores: dict[str, Any]
    ms: float
    ttft_ms: float | None = None
    tokens_per_s: float | None = None
    completion_tokens: int = 0
    error: str = ""


@dataclass
class ModelReport:
    """One candidate's figures on the benchmark."""

    label: str
    model: str
    adapter: str | None
    n: int
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    ttft_ms_p50: float | None
    tokens_per_s_p50: float | None
    ms_per_item_p50: float | None
    peak_rss_mb: float
    load_s: float
    errors: int = 0
    error: str = ""
    items: list[ItemRun] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("items")
        return data


@dataclass
class BenchRun:
    """One ``assistant eval SKILL --bench FILE`` run."""

    skill: str
    bench: str
    file: str
    metric: str
    mode: str  # "skill" or "raw"
    seed: int
    started: str
    items: int
    reports: list[ModelReport]
    published: dict[str, float] = field(default_factory=dict)

    def as_dict(self, with_items: bool = True) -> dict[str, Any]:
        data = asdict(self)
        data["reports"] = [asdict(r) if with_items else r.summary() for r in self.reports]
        best = self.winner()
        data["winner"] = best.label if best else None
        return data

    def winner(self) -> ModelReport | None:
        ok = [r for r in self.reports if not r.error]
        return min(ok, key=lambda r: (-r.metrics.get(self.metric, 0.0), r.ms_per_item_p50 or 0.0)) if ok else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def greedy_access(manager: Any, settings: Any, candidate: Candidate) -> Any:
    """The app's model access (a ``ModelAccessForTurn``) for one scored item on ``candidate``'s
    model and adapter, decoding greedily so a rerun gives the same answer."""
    from assistant.skills.model_access import ModelAccessForTurn

    return ModelAccessForTurn(manager, settings, candidate.model, candidate.adapter, None,
                              threading.Event(), dict(GREEDY))


@contextmanager
def revived_after_timeout(skill: Any) -> Iterator[None]:
    """Run one item; a skill that timed out is enabled again before the timeout propagates.

    The app disables a hung skill until it restarts; a benchmark or eval scores each item on
    its own, so that item counts as an error and the skill runs again for the next one.
    """
    try:
        yield
    except SkillTimeout:
        skill.status, skill.error = "ok", ""
        raise


class _SkillRunner:
    """Answers items through the registry's skill with the app's model access."""

    def __init__(self, settings: Any, manager: Any, skill_name: str, bench: Benchmark) -> None:
        from assistant.skills.registry import load_skills

        self.settings, self.manager, self.bench = settings, manager, bench
        self.registry = load_skills(settings)
        skill = self.registry.get(skill_name)
        if skill is None or not skill.ok:
            why = "is not installed" if skill is None else f"failed to load: {skill.error}"
            raise AssistantError(f"skill '{skill_name}' {why}", "see `assistant skills list`")
        self.skill = skill

    def __call__(self, candidate: Candidate, item: BenchItem) -> tuple[str, list[GenerationResult]]:
        access = greedy_access(self.manager, self.settings, candidate)
        ctx = self.registry.context(self.skill, text=item.text, models=access)
        ctx.model, ctx.adapter = candidate.model, candidate.adapter
        if self.bench.max_tokens:
            ctx.generation = {**ctx.generation, "max_tokens": min(int(ctx.generation.get("max_tokens") or 10**6),
                                                                  self.bench.max_tokens)}
        with revived_after_timeout(self.skill):
            reply = "".join(p for p in self.registry.run(self.skill, ctx) if isinstance(p, str))
        return reply, access.results


class _RawRunner:
    """Sends the request text alone to the model: no skill, no system prompt."""

    def __init__(self, manager: Any, max_tokens: int) -> None:
        self.manager, self.max_tokens = manager, max_tokens

    def __call__(self, candidate: Candidate, item: BenchItem) -> tuple[str, list[GenerationResult]]:
        backend = self.manager.get(candidate.model, candidate.adapter)
        request = GenerationRequest(messages=[ChatMessage("user", item.text)], max_tokens=self.max_tokens, **GREEDY)
        generation = backend.stream(request)
        text = generation.text()
        return text, [generation.result] if generation.result else []


def _one(answer: Answer, bench: Benchmark, candidate: Candidate, item: BenchItem) -> ItemRun:
    t0 = time.perf_counter()
    error = ""
    try:
        reply, results = answer(candidate, item)
    except AssistantError as exc:  # the skill refused or failed: an empty reply, scored as such
        reply, results, error = "", [], exc.message
    ms = (time.perf_counter() - t0) * 1000
    first = results[0] if results else None
    rates = [r.tokens_per_s for r in results if r.tokens_per_s]
    return ItemRun(item.id, reply, bench.score(reply, item), round(ms, 1),
                   round(first.ttft_ms, 1) if first and first.ttft_ms is not None else None,
                   round(statistics.median(rates), 2) if rates else None,
                   sum(r.completion_tokens for r in results), error)


def _progress(total: int, label: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="item", file=sys.stderr, disable=not enabled, leave=True)


def run_benchmark(settings: Any, bench: Benchmark, items: list[BenchItem], candidates: list[Candidate], *,
                  skill: str | None = None, raw: bool = False, seed: int = 0, file: str = "",
                  progress: bool = True, manager: Any = None) -> BenchRun:
    """Every item on every candidate (one model loaded at a time), scored, with intervals.

    A candidate that fails to load is reported with its error; the others still run.
    """
    from assistant.backends.manager import ModelManager

    own = manager is None
    manager = manager or ModelManager(settings)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    reports = []
    try:
        answer = _RawRunner(manager, bench.max_tokens or 512) if raw else _SkillRunner(settings, manager, skill or bench.skill, bench)
        for candidate in candidates:
            reports.append(_run_candidate(manager, answer, bench, items, candidate, seed, progress))
    finally:
        if own:
            manager.close()
    return BenchRun(skill or bench.skill, bench.name, file, bench.metric, "raw" if raw else "skill", seed, started,
                    len(items), reports, dict(bench.published))


def _run_candidate(manager: Any, answer: Answer, bench: Benchmark, items: list[BenchItem], candidate: Candidate,
                   seed: int, progress: bool) -> ModelReport:
    adapter = str(candidate.adapter) if candidate.adapter else None
    memory.reset_peak()  # the peak below is this process's while this model ran
    t0 = time.perf_counter()
    try:
        manager.get(candidate.model, candidate.adapter)
    except Exception as exc:  # noqa: BLE001 - a broken candidate must not stop the comparison
        return ModelReport(candidate.label, candidate.model, adapter, 0, {}, {}, None, None, None, 0.0, 0.0,
                           error=getattr(exc, "message", str(exc)))
    load_s = time.perf_counter() - t0
    runs: list[ItemRun] = []
    bar = _progress(len(items), candidate.label, progress)
    try:
        for item in items:
            runs.append(_one(answer, bench, candidate, item))
            bar.update(1)
    finally:
        bar.close()
        manager.unload(manager.key(candidate.model, candidate.adapter))
    scores = [r.scores for r in runs]
    metrics = {k: round(v, 4) for k, v in bench.aggregate(scores).items()}
    intervals = {k: (round(lo, 4), round(hi, 4)) for k, (lo, hi) in bootstrap(scores, bench.aggregate, seed=seed).items()}
    return ModelReport(
        candidate.label, candidate.model, adapter, len(runs), metrics, intervals,
        _median([r.ttft_ms for r in runs if r.ttft_ms is not None]),
        _median([r.tokens_per_s for r in runs if r.tokens_per_s]),
        _median([r.ms for r in runs]), round(memory.peak_mb(), 1), round(load_s, 3),
        errors=sum(1 for r in runs if r.error), items=runs,
    )
