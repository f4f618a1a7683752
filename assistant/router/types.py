"""The router's input (:class:`RouteSpec`) and its one result type (:class:`RouteChoice`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RouteSpec:
    """One routable skill, as a skill declares it.

    Args:
        name: the skill's name (what :attr:`RouteChoice.skill` will hold).
        examples: utterances that should reach this skill.
        negatives: utterances that look similar but must NOT reach it. They lower this
            skill's score for a request closer to them than to its examples, and nothing
            else: another skill (or the fallback, when none clears the threshold) still gets it.
        fallback_examples: utterances that must fall back to general chat whatever skill
            they resemble (the user's corrections to the fallback skill, ``oos`` training
            lines). Every route's are pooled into the router's one reject class, so which
            route carries them does not matter.
    """

    name: str
    examples: list[str] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    fallback_examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RouteChoice:
    """The router's decision and why. One type, always: ``skill=None`` means fall back.

    Attributes:
        skill: the chosen route, or ``None`` for the fallback (general chat).
        score: the winner's calibrated score in [0, 1] (what the threshold is compared with).
        runner_up: the second-best route.
        runner_up_score: its score.
        margin: ``score - runner_up_score``.
        threshold: the acceptance threshold in force.
        reason: one sentence saying why this route won (or why we fell back).
        candidates: the top routes with their scores, best first.
        followup: ``True`` when the previous turn's skill was kept for a follow-up.
        best: the best-scoring route even when it was rejected (for explanations).
        forced: ``True`` when the user chose the skill (``/skill``, ``/route``, ``--skill``);
            the score is then 1 and no threshold applied.
        instruction: when the request carried its own text ("summarize: <memo>"), the
            instruction part that was scored on its own and decided the route.
        known_example: ``True`` when the request all but repeats one of the route's
            examples (or a saved correction).

    The pipeline hands the same type to front ends in its events, with ``skill`` resolved
    (the fallback skill's name instead of ``None``).
    """

    skill: str | None
    score: float
    runner_up: str | None
    runner_up_score: float | None
    margin: float | None
    threshold: float
    reason: str
    candidates: list[tuple[str, float]] = field(default_factory=list)
    followup: bool = False
    best: str | None = None
    forced: bool = False
    instruction: str | None = None
    known_example: bool = False

    def skill_or(self, fallback: str) -> str:
        """The chosen skill, or ``fallback`` when the router fell back."""
        return self.skill if self.skill is not None else fallback

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view (used by ``assistant route --json``)."""
        return {
            "skill": self.skill,
            "score": round(self.score, 4),
            "runner_up": self.runner_up,
            "runner_up_score": None if self.runner_up_score is None else round(self.runner_up_score, 4),
            "margin": None if self.margin is None else round(self.margin, 4),
            "threshold": round(self.threshold, 4),
            "reason": self.reason,
            "followup": self.followup,
            "forced": self.forced,
            "instruction": self.instruction,
            "known_example": self.known_example,
            "best": self.best,
            "candidates": [[name, round(s, 4)] for name, s in self.candidates],
        }
