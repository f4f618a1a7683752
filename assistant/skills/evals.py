"""Skill eval sets: JSON Lines of inputs with expected outputs or checks, and running them.

One item per line::

    {"input": "...", "expected": "...", "check": "exact" | "contains" | "label" | "json"}
    {"input": "...", "keywords": ["...", "..."]}

Optional keys: ``now`` (ISO time for the skill's clock), ``settings`` (the skill's settings),
``files`` (``{name: content}`` written to a temporary folder and attached), and ``replies``
(scripted model replies, used when an eval runs on the fake backend to test skill logic).
The ``assistant eval`` command scores the same files on real models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.errors import SkillError

CHECKS = ("exact", "contains", "label", "json", "keywords", "similarity")


@dataclass(frozen=True)
class EvalItem:
    """One eval case and where it came from."""

    data: dict[str, Any]
    line: int

    @property
    def input(self) -> str:
        return str(self.data["input"])

    @property
    def check(self) -> str:
        if "check" in self.data:
            return str(self.data["check"])
        if "keywords" in self.data and "expected" not in self.data:
            return "keywords"
        return "json" if isinstance(self.data.get("expected"), dict) else "exact"


def load_eval(path: Path) -> list[EvalItem]:
    """Parse an eval file.

    Raises:
        SkillError: naming the file and line of the first problem.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillError(f"cannot read eval set {path}: {exc}", "check the file") from None
    items = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise SkillError(f"{path}:{number}: not valid JSON: {exc}", "one JSON object per line") from None
        problem = _problem(data)
        if problem:
            raise SkillError(f"{path}:{number}: {problem}", "see assistant/skills/evals.py for the format")
        items.append(EvalItem(data, number))
    if not items:
        raise SkillError(f"{path}: the eval set is empty", "add at least one case")
    return items


def _problem(data: Any) -> str | None:
    if not isinstance(data, dict):
        return "each line must be a JSON object"
    if not isinstance(data.get("input"), str) or not data["input"].strip():
        return "'input' must be a non-empty string"
    if "expected" not in data and "keywords" not in data:
        return "give 'expected' or 'keywords'"
    if "check" in data and data["check"] not in CHECKS:
        return f"'check' must be one of {', '.join(CHECKS)}"
    if "now" in data:
        try:
            datetime.fromisoformat(data["now"])
        except (TypeError, ValueError):
            return "'now' must be an ISO date-time"
    return None


def passes(item: EvalItem, output: str) -> tuple[bool, str]:
    """Whether ``output`` satisfies the item, and a short reason when it does not."""
    want = item.data.get("expected")
    check = item.check
    if check == "exact":
        return output.strip() == str(want).strip(), f"expected {want!r}, got {output.strip()[:120]!r}"
    if check == "contains":
        return str(want) in output, f"{want!r} not in {output[:120]!r}"
    if check == "label":
        return output.strip().lower().strip(".\"'") == str(want).lower(), f"expected label {want!r}, got {output.strip()[:40]!r}"
    if check == "keywords":
        missing = [k for k in item.data.get("keywords", []) if k.lower() not in output.lower()]
        return not missing, f"missing {missing}"
    if check == "json":
        from assistant.skills.structured import parse_json

        try:
            got = parse_json(output)
        except ValueError:
            return False, "not JSON"
        if isinstance(want, dict) and isinstance(got, dict):
            wrong = [k for k, v in want.items() if got.get(k) != v]
            return not wrong, f"fields differ: {wrong}"
        return got == want, f"expected {want!r}, got {got!r}"
    from assistant.skills.structured import match_label  # similarity: the cheap version

    words = set(str(want).lower().split())
    share = len(words & set(output.lower().split())) / max(1, len(words))
    return share >= 0.5 or match_label(output, [want]) is not None, f"overlap {share:.2f}"


def run_items(registry: Any, skill: Any, items: list[EvalItem], models: Any = None) -> list[tuple[EvalItem, str, bool, str]]:
    """Each item through ``skill``'s own handler (its ``now``, ``settings`` and ``files`` applied).

    Every item starts from an empty scratch folder of its own (so items never see each other's
    state, and an eval never touches the user's notes or files); the item's ``before`` messages
    run first in that folder. Returns (item, output, passed, reason) per item; a skill error
    counts as a failed item.
    """
    import tempfile

    from assistant.errors import AssistantError

    out = []
    for item in items:
        with tempfile.TemporaryDirectory(prefix="assistant-eval-") as folder:
            attachments = []
            for name, content in (item.data.get("files") or {}).items():
                path = Path(folder) / Path(name).name
                path.write_text(str(content), encoding="utf-8")
                attachments.append(path)
            try:
                for earlier in item.data.get("before") or []:
                    _answer(registry, skill, models, item, str(earlier), [], Path(folder))
                output = _answer(registry, skill, models, item, item.input, attachments, Path(folder))
            except AssistantError as exc:
                out.append((item, "", False, exc.message))
                continue
        ok, why = passes(item, output)
        out.append((item, output, ok, "" if ok else why))
    return out


def _answer(registry: Any, skill: Any, models: Any, item: EvalItem, text: str, attachments: list[Path],
            folder: Path) -> str:
    """``skill``'s reply to ``text`` with ``item``'s clock and settings, its scratch in ``folder``."""
    extra: dict[str, Any] = {}
    if "now" in item.data:
        moment = datetime.fromisoformat(item.data["now"])
        extra["clock"] = lambda: moment
    ctx = registry.context(skill, text=text, attachments=attachments, models=models, **extra)
    ctx.scratch = folder / "scratch"
    if item.data.get("settings"):
        ctx.settings = {**ctx.settings, **item.data["settings"]}
    return "".join(p for p in registry.run(skill, ctx) if isinstance(p, str))
