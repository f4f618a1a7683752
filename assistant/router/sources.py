"""Where routes come from: the installed skills, plus the user's saved corrections.

``routes_from_skills`` is the single place that talks to the skills registry, so wiring the
registry in (or changing its API) touches only this module.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from assistant.errors import RouterError
from assistant.router.types import RouteSpec
from assistant.skills.registry import load_skills

if TYPE_CHECKING:
    from assistant.config import Settings

log = logging.getLogger(__name__)


def routes_from_skill_objects(skills: Iterable[object]) -> list[RouteSpec]:
    """Routes from skill objects with ``name``, ``examples`` and optional ``negatives``.

    Skills whose ``status`` is set and not ``"ok"`` (failed or disabled) are skipped.
    """
    routes = []
    for skill in skills:
        if getattr(skill, "status", "ok") not in ("ok", None):
            continue
        name = getattr(skill, "name", None)
        if not name:
            continue
        examples = list(getattr(skill, "examples", None) or [])
        negatives = list(getattr(skill, "negatives", None) or [])
        routes.append(RouteSpec(str(name), [str(e) for e in examples], [str(n) for n in negatives]))
    return routes


def routes_from_skills(settings: "Settings") -> list[RouteSpec]:
    """The routes of the installed skills (each exposing ``name``, ``examples``, ``negatives``)."""
    return routes_from_skill_objects(load_skills(settings))


class Corrections:
    """User corrections ("this should have gone to X"), kept as JSON Lines.

    Args:
        path: the file, normally ``settings.data_dir / "router" / "corrections.jsonl"``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def add(self, skill: str, text: str) -> None:
        """Append one correction (flushed and fsynced: a correction is user data)."""
        import os

        text = text.strip()
        if not skill or not text:
            raise RouterError("a correction needs a skill name and a non-empty text", "pass both")
        line = json.dumps({"text": text, "label": skill}, ensure_ascii=False)
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as exc:
                raise RouterError(f"cannot save the correction to {self.path}: {exc}",
                                  "check that the data folder is writable") from None

    def load(self) -> list[tuple[str, str]]:
        """(skill, text) pairs; unreadable lines are skipped with a log line, not fatal."""
        if not self.path.is_file():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                out.append((str(obj["label"]), str(obj["text"])))
            except (ValueError, KeyError, TypeError):
                log.warning("%s line %d: not a correction, skipped", self.path, number)
        return out

    def apply(self, routes: list[RouteSpec], fallback: str) -> list[RouteSpec]:
        """``routes`` with corrections added as examples (or, for the fallback, as fallback examples).

        A correction to the fallback skill is a request that must fall back whatever skill it
        resembles: it goes to the router's global reject set (``fallback_examples``), not to
        any skill's negatives, which would only push it away from that one skill.
        """
        extra: dict[str, list[str]] = {}
        to_fallback: list[str] = []
        for skill, text in self.load():
            (to_fallback if skill == fallback else extra.setdefault(skill, [])).append(text)
        out = [RouteSpec(r.name, r.examples + extra.pop(r.name, []), r.negatives, r.fallback_examples)
               for r in routes]
        for skill in extra:
            log.warning("corrections for unknown skill %s ignored", skill)
        if to_fallback and out:
            first = out[0]
            out[0] = RouteSpec(first.name, first.examples, first.negatives, first.fallback_examples + to_fallback)
        return out
