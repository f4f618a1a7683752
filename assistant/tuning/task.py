"""What eval and tune need from a skill, behind one small interface.

:class:`SkillTask` is the narrow seam between the skills framework and tuning: a name, the
prompt (system text), the output schema, the eval and training files, the model and adapter.
:func:`load_task` takes it from the skills registry (:func:`assistant.skills.registry.load_skills`),
so model, adapter and user overrides resolve exactly as when the skill runs; a folder passed
explicitly is read directly from its ``skill.toml``.
"""

from __future__ import annotations

import json
import string
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.backends.base import ChatMessage
from assistant.config import REPO_ROOT, Settings
from assistant.errors import SkillError

BUILTIN_SKILLS = REPO_ROOT / "skills"
PROMPTS_DIR = REPO_ROOT / "prompts"


@dataclass
class SkillTask:
    """A skill as eval and tune see it.

    Attributes:
        name: the skill's name.
        folder: the skill folder (relative paths in the manifest resolve against it).
        prompt: the system prompt text.
        output_schema: JSON schema of the answer (a string enum makes it a label task).
        model: the catalog model the skill runs on.
        adapter: the LoRA adapter file applied to ``model``, if any.
        eval_file: the held-out eval set (JSONL).
        train_file: the training pairs (JSONL), if the skill ships them.
        max_tokens: answer budget used in eval.
    """

    name: str
    folder: Path
    prompt: str
    output_schema: dict[str, Any] | None = None
    model: str | None = None
    adapter: Path | None = None
    eval_file: Path | None = None
    train_file: Path | None = None
    max_tokens: int = 64
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)

    def messages(self, text: str, system: str | None = None) -> list[ChatMessage]:
        """The chat a model sees for one input: the skill prompt (or ``system``), then the input."""
        system = self.prompt if system is None else system
        out = [ChatMessage("system", system)] if system else []
        return out + [ChatMessage("user", text)]

    @property
    def json_schema(self) -> dict[str, Any] | None:
        """The grammar to constrain answers with: only structured (object) schemas.

        A string-enum schema is scored as a label; constraining a one-word answer to a JSON
        string would change the prompt contract the skill's prompt describes.
        """
        if self.output_schema and self.output_schema.get("type") == "object":
            return self.output_schema
        return None


def skill_folders(settings: Settings) -> list[Path]:
    """Folders searched for skills: the user's skills folder first, then the built-in ones."""
    roots = []
    if settings.skills.user_dir:
        roots.append(Path(settings.skills.user_dir).expanduser())
    roots.append(BUILTIN_SKILLS)
    return roots


def find_skill(settings: Settings, name: str) -> Path:
    """The folder of skill ``name``.

    Raises:
        SkillError: no such skill, listing the known ones.
    """
    known: list[str] = []
    for root in skill_folders(settings):
        if (root / name / "skill.toml").is_file():
            return root / name
        if root.is_dir():
            known += [p.parent.name for p in root.glob("*/skill.toml")]
    raise SkillError(f"unknown skill '{name}'", f"known skills with a manifest: {', '.join(sorted(set(known))) or 'none'}")


def _resolve(folder: Path, value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    for base in (folder, PROMPTS_DIR):
        if (base / path).exists():
            return base / path
    return folder / path


def _prompt_text(folder: Path, value: str) -> str:
    if value.endswith(".txt"):
        path = _resolve(folder, value)
        if path is None or not path.is_file():
            raise SkillError(f"skill prompt file {value} not found", f"put it in {folder} or {PROMPTS_DIR}")
        return path.read_text(encoding="utf-8").strip()
    return value.strip()


def _schema(folder: Path, value: Any) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    path = _resolve(folder, str(value))
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError) as exc:
        raise SkillError(f"cannot read output schema {value}: {exc}", "it must be a JSON file or an inline table") from None


def _fill(template: str, name: str) -> str:
    """Fill ``$today``/``$now``/``$skill`` as the skill runtime does (no code runs in prompts)."""
    now = datetime.now()
    return string.Template(template).safe_substitute(
        today=now.date().isoformat(), now=now.isoformat(timespec="minutes"), skill=name)


def task_from_skill(skill: Any, settings: Settings) -> SkillTask:
    """A :class:`SkillTask` from a registry ``Skill`` (assistant.skills.skill.Skill)."""
    from assistant.skills.structured import schema_of

    manifest = skill.manifest
    folder = Path(skill.folder) if skill.folder else BUILTIN_SKILLS / skill.name
    spec = manifest.eval_spec if manifest is not None else None
    train = manifest.train if manifest is not None else None
    max_tokens = (spec.max_tokens if spec else None) or (manifest.generation.max_tokens if manifest else None) or 64
    return SkillTask(
        name=skill.name,
        folder=folder,
        prompt=_fill(skill.prompt_template or "", skill.name),
        output_schema=schema_of(skill.output_schema) if skill.output_schema is not None else None,
        model=skill.model_name(settings),
        adapter=skill.adapter_path(settings),
        eval_file=folder / (spec.file if spec else "eval.jsonl"),
        train_file=folder / (train or "train.jsonl"),
        max_tokens=int(max_tokens),
        manifest=manifest.model_dump() if manifest is not None else {},
    )


def _from_registry(settings: Settings, name: str) -> SkillTask | None:
    from assistant.skills.registry import load_skills

    skill = load_skills(settings).get(name)
    if skill is None:
        return None
    if not skill.ok:
        raise SkillError(f"skill '{name}' is not available: {skill.error}", "see `assistant skills list`")
    return task_from_skill(skill, settings)


def load_task(settings: Settings, name: str, folder: Path | None = None) -> SkillTask:
    """Skill ``name`` as eval/tune need it: from the skills registry, or from ``folder``.

    ``[skills.overrides.NAME]`` in the user's config (model, adapter) wins over the manifest:
    that is where ``assistant eval --write`` and ``assistant tune`` record their results.

    Raises:
        SkillError: no such skill, or it failed to load (with the reason).
    """
    if folder is None:
        task = _from_registry(settings, name)
        if task is not None:
            return task
    return read_task_folder(settings, name, folder)


def read_task_folder(settings: Settings, name: str, folder: Path | None = None) -> SkillTask:
    """Read a skill folder's ``skill.toml`` directly (skills outside the registry)."""
    folder = folder or find_skill(settings, name)
    manifest_path = folder / "skill.toml"
    try:
        manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SkillError(f"cannot read {manifest_path}: {exc}", "fix the manifest syntax") from None
    evals = manifest.get("eval") or {}
    generation = manifest.get("generation") or {}
    model = manifest.get("model")
    task = SkillTask(
        name=manifest.get("name", name),
        folder=folder,
        prompt=_fill(_prompt_text(folder, str(manifest.get("prompt", ""))), name),
        output_schema=_schema(folder, manifest.get("output_schema")),
        model=settings.default_model if model == "default" else model,
        adapter=_resolve(folder, manifest.get("adapter")),
        eval_file=_resolve(folder, evals.get("file") if isinstance(evals, dict) else str(evals)) or _resolve(folder, "eval.jsonl"),
        train_file=_resolve(folder, manifest.get("train")) or _resolve(folder, "train.jsonl"),
        max_tokens=int((evals.get("max_tokens") if isinstance(evals, dict) else None) or generation.get("max_tokens") or 64),
        manifest=manifest,
    )
    override = settings.skills.overrides.get(task.name)
    if override is not None:
        if override.model and override.model != task.model:
            task.model = override.model
            task.adapter = None  # an adapter belongs to the model it was trained on
        if override.adapter:
            task.adapter = Path(override.adapter).expanduser()
    return task
