"""Training files from public data sets, built by the skill's own recipe.

A skill may define ``training_pairs(rows, prompt, rng, count)`` in its ``skill.py``: it turns
rows of a public set into ``{"input", "output", "system"?}`` pairs whose messages are exactly
the ones the skill sends at run time, with the request's parameters (field names, label sets)
varied so one adapter serves requests it has not seen. This module reads the sources, calls the
recipe and writes the file ``assistant tune --data`` reads.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import SkillError
from assistant.tuning.data import read_jsonl, write_jsonl


def build_pairs(settings: Settings, skill: str, sources: list[Path], count: int, seed: int, out: Path) -> list[dict[str, Any]]:
    """Run ``skill``'s recipe over ``sources`` (rows tagged with ``_source``) and write ``out``.

    Raises:
        SkillError: the skill has no recipe, or it produced no pairs.
        DataFileError: a source file is missing or has a bad line.
    """
    from assistant.skills.loader import import_code
    from assistant.tuning.task import load_task

    task = load_task(settings, skill)
    code = task.folder / "skill.py"
    recipe = getattr(import_code(code, task.name), "training_pairs", None) if code.is_file() else None
    if recipe is None:
        raise SkillError(f"skill '{task.name}' has no training recipe",
                         "define training_pairs(rows, prompt, rng, count) in its skill.py, or write the pairs yourself")
    rows: list[dict[str, Any]] = []
    for source in sources:
        rows += [dict(row, _source=source.stem) for row in read_jsonl(source, kind="source")]
    pairs = recipe(rows, task.prompt, random.Random(seed), count)
    if not pairs:
        raise SkillError(f"the recipe of '{task.name}' made no pairs from {', '.join(map(str, sources))}",
                         "check that the rows have the fields the recipe reads")
    write_jsonl(out, pairs)
    return pairs
