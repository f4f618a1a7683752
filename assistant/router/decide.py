"""Turning route scores into a :class:`RouteChoice`, with follow-up awareness and a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from assistant.router.calibration import Calibration
from assistant.router.followup import looks_like_followup, recent_user_turns
from assistant.router.head import Head, OneScore
from assistant.router.types import RouteChoice

TOP_N = 5
KNOWN_EXAMPLE_SIM = 0.95  # cosine at which a request is taken to be a known example (or a saved correction)


def no_routes(threshold: float) -> RouteChoice:
    """The choice when no skill contributed any example."""
    return RouteChoice(None, 0.0, None, None, None, threshold, "no skill has routing examples; falling back")


def _pushed_note(head: Head, one: OneScore, best_score: float, th: float) -> str:
    """Why a skill that would have scored higher was lowered by its negatives ("" when none mattered).

    Named only when it changed something: without the negative it would have beaten the
    winner or cleared the threshold.
    """
    notes = []
    for c, p in sorted(one.pushed.items(), key=lambda item: -item[1].before):
        if p.before < best_score and p.before < th:
            continue
        notes.append(
            f"'{head.classes[c]}' was lowered from {p.before:.2f} to {p.after:.2f}: the request is closer "
            f"to its negative example '{p.negative}' ({p.negative_sim:.2f}) than to its own examples "
            f"({p.example_sim:.2f})"
        )
        if len(notes) == 2:
            break
    return "; ".join(notes)


def choose(head: Head, vec: np.ndarray, text: str, cal: Calibration, reject: str) -> RouteChoice:
    """Score one request (``text``, embedded as ``vec``) and accept the winner if it clears the threshold.

    A skill's negatives have already lowered that skill's score (:meth:`Head.score_one_explained`);
    only the global reject class (corrections to the fallback, out-of-scope lines) vetoes.
    """
    one = head.score_one_explained(vec, text)
    scores, nearest_class, nearest_sim = one.scores, one.nearest_class, one.nearest_sim
    # Only the best few are reported (and the reject class may be one of them): rank those.
    keep = min(len(scores), TOP_N + 2)
    top_k = np.argpartition(-scores, keep - 1)[:keep] if keep < len(scores) else np.arange(len(scores))
    order = top_k[np.argsort(-scores[top_k], kind="stable")]
    ranked = [(head.classes[i], float(scores[i])) for i in order]
    top = ranked[0]
    routes = [(n, s) for n, s in ranked if n != reject]
    best, best_score = routes[0] if routes else (None, 0.0)
    runner = routes[1] if len(routes) > 1 else (None, None)
    margin = best_score - runner[1] if runner[1] is not None else None
    th = cal.threshold

    def ranked_choice(skill: str | None, why: str) -> RouteChoice:
        return RouteChoice(skill, best_score, runner_up=runner[0], runner_up_score=runner[1], margin=margin,
                           threshold=th, reason=why, candidates=routes[:TOP_N], best=best)

    nearest = head.classes[nearest_class] if nearest_class >= 0 else reject
    if nearest_sim >= KNOWN_EXAMPLE_SIM and nearest != reject and nearest_class not in one.pushed:
        # The request all but repeats a known example (or a saved correction) of a route.
        name, sim = nearest, nearest_sim
        score = float(scores[nearest_class])
        other = next(((n, s) for n, s in routes if n != name), (None, None))
        return RouteChoice(
            name, score, other[0], other[1], score - other[1] if other[1] is not None else None, th,
            f"matches a known example of '{name}' (similarity {sim:.2f})", routes[:TOP_N], best=name,
            known_example=True,
        )
    pushed = _pushed_note(head, one, best_score, th)
    tail = f"; {pushed}" if pushed else ""
    if top[0] == reject:
        why = (f"closest to requests marked for general chat (corrections or out-of-scope examples, "
               f"score {top[1]:.2f}){tail}; falling back")
        return ranked_choice(None, why)
    if best_score < th:
        why = f"best match '{best}' scored {best_score:.2f}, below the threshold {th:.2f}{tail}; falling back"
        return ranked_choice(None, why)
    gap = f"{margin:.2f} ahead of '{runner[0]}'" if margin is not None else "the only skill"
    why = f"'{best}' scored {best_score:.2f} (threshold {th:.2f}), {gap}{tail}"
    return ranked_choice(best, why)


@dataclass(frozen=True)
class Followups:
    """What follow-up routing needs of a router.

    Attributes:
        score: decides for one text on its own (embedding it first; no follow-up logic).
        fallback: the name of the general-chat route.
        turns: how many recent user turns may be joined to an unclear message.
        confident: a score at which a message clearly belongs to its skill, follow-up or not.
    """

    score: Callable[[str], RouteChoice]
    fallback: str
    turns: int
    confident: float


def _stay(alone: RouteChoice, previous: str, fallback: str, why: str) -> RouteChoice:
    """Keep ``previous`` for a follow-up, reporting its own score and the best other route."""
    skill = None if previous == fallback else previous
    scores = dict(alone.candidates)
    score = scores.get(previous, alone.score)
    other = next(((n, s) for n, s in alone.candidates if n != previous), (alone.runner_up, alone.runner_up_score))
    margin = score - other[1] if other[1] is not None else None
    return RouteChoice(
        skill, score, other[0], other[1], margin, alone.threshold,
        why, alone.candidates, followup=True, best=alone.best,
    )


def route_with_context(rules: Followups, text: str, history: Sequence[object] | None,
                       previous: str | None) -> RouteChoice:
    """Route ``text``, keeping ``previous`` for follow-ups unless the text clearly belongs elsewhere.

    * A follow-up-looking message ("and in Celsius?") stays, unless on its own it scores like
      a typical in-scope request for another skill (``calibration.confident``).
    * Any other message that is accepted on its own goes where it scores best.
    * A message rejected on its own is tried again with the recent user turns prepended;
      if that lands on the previous skill, it stays there.
    """
    alone = rules.score(text)
    if not previous:
        return alone
    prev_label = "general chat" if previous == rules.fallback else f"'{previous}'"
    if looks_like_followup(text):
        if alone.skill is not None and alone.skill != previous and alone.score >= rules.confident:
            return RouteChoice(
                alone.skill, alone.score, alone.runner_up, alone.runner_up_score, alone.margin,
                alone.threshold, alone.reason + f"; clearly not a follow-up of {prev_label}",
                alone.candidates, best=alone.best,
            )
        return _stay(alone, previous, rules.fallback, f"short follow-up: kept with {prev_label} from the previous turn")
    if alone.skill is not None or alone.best is None:
        return alone
    turns = recent_user_turns(history, text, rules.turns)
    if not turns:
        return alone
    joined = " ".join(turns[-2:] + [text])
    ctx = rules.score(joined)
    if ctx.skill == previous or (ctx.skill is None and previous == rules.fallback):
        return _stay(alone, previous, rules.fallback,
                     f"unclear on its own; with the recent turns it continues {prev_label}")
    return alone
