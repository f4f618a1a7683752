"""Loading one skill folder: ``skill.toml`` + optional ``skill.py``, prompt, schema, adapter.

Every failure is turned into a :class:`SkillError` whose message names the file; the
registry records it on a failed :class:`Skill` and carries on with the other skills.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from assistant.errors import SkillError
from assistant.skills.manifest import DEFAULT_MODEL, MANIFEST_FILE, Manifest, load_manifest
from assistant.skills.prompts import PROMPTS_DIR, REPO_ROOT, resolve_file
from assistant.skills.skill import Skill

if TYPE_CHECKING:
    from assistant.config import Settings

BUILTIN_SKILLS_DIR = REPO_ROOT / "skills"
CODE_FILE = "skill.py"


def import_code(path: Path, skill: str) -> ModuleType:
    """Import a skill's ``skill.py`` under a private module name.

    Raises:
        SkillError: anything the import raises (syntax errors included), naming the file.
    """
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    module_name = f"assistant_skill_{skill.replace('-', '_')}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SkillError(f"{path}: cannot be imported", "it must be a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # pydantic models in the file resolve their own names
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - any error in a skill's code marks that skill failed, with its line
        sys.modules.pop(module_name, None)
        line = getattr(exc, "lineno", None) or _traceback_line(exc, path)
        where = f"{path}:{line}" if line else str(path)
        raise SkillError(f"{where}: importing the skill failed: {type(exc).__name__}: {exc}",
                         "fix the skill's code, or remove the skill folder") from None
    return module


def _traceback_line(exc: BaseException, path: Path) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename) == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _schema(manifest: Manifest, folder: Path, module: ModuleType | None) -> Any:
    value = manifest.output_schema
    if value is None or isinstance(value, dict):
        return value
    if value.endswith(".json"):
        path = resolve_file(folder, value)
        if path is None:
            raise SkillError(f"{folder / MANIFEST_FILE}: output_schema file {value} not found", f"put it in {folder}")
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SkillError(f"{path}: invalid JSON schema: {exc}", "fix the JSON") from None
    from pydantic import BaseModel

    found = getattr(module, value, None) if module else None
    if not (isinstance(found, type) and issubclass(found, BaseModel)):
        raise SkillError(f"{folder / MANIFEST_FILE}: output_schema '{value}' is not a pydantic model in {CODE_FILE}",
                         "name a BaseModel class defined in skill.py, a .json file, or write the schema inline")
    return found


def _prompt(manifest: Manifest, folder: Path) -> str:
    if not manifest.prompt:
        return ""
    if "\n" in manifest.prompt or not manifest.prompt.endswith((".txt", ".md")):
        return manifest.prompt.strip()  # an inline prompt
    path = resolve_file(folder, manifest.prompt)
    if path is None:
        raise SkillError(f"{folder / MANIFEST_FILE}: prompt file {manifest.prompt} not found",
                         f"put it in {folder} or {PROMPTS_DIR}")
    return path.read_text(encoding="utf-8").strip()


def check_model(manifest: Manifest, folder: Path | None, settings: "Settings") -> None:
    """The model must be in the catalog and the adapter file must exist.

    Raises:
        SkillError: naming the manifest and the fix.
    """
    where = folder / MANIFEST_FILE if folder else f"skill {manifest.name}"
    override = settings.skills.overrides.get(manifest.name)
    model = (override.model if override and override.model else None) or manifest.model
    if model and model != DEFAULT_MODEL and model not in settings.models:
        raise SkillError(f"{where}: model '{model}' is not in the catalog",
                         f"known models: {', '.join(sorted(settings.models))}")
    if manifest.adapter and folder is not None and not (override and (override.adapter or override.model)):
        if not (folder / manifest.adapter).is_file():
            raise SkillError(f"{where}: adapter {manifest.adapter} not found in {folder}",
                             f"train it with `assistant tune {manifest.name}`, or remove the adapter key")


def load_folder(folder: Path, settings: "Settings", *, source: str, manifest: Manifest | None = None) -> Skill:
    """Load the skill in ``folder``.

    Raises:
        SkillError: a bad manifest, code that fails to import, a missing prompt, schema,
            model or adapter. The message names the file (and line where known).
    """
    manifest = manifest or load_manifest(folder / MANIFEST_FILE)
    code = folder / CODE_FILE
    module = import_code(code, manifest.name) if code.is_file() else None
    handler = None
    if module is not None:
        handler = getattr(module, manifest.handler or "respond", None)
        if handler is None and (manifest.handler or not manifest.needs_model):
            raise SkillError(f"{code}: no function '{manifest.handler or 'respond'}'", "define it, or set handler = NAME in skill.toml")
    elif manifest.handler:
        raise SkillError(f"{folder / MANIFEST_FILE}: handler '{manifest.handler}' set but {CODE_FILE} is missing", "")
    if handler is None and not manifest.needs_model:
        raise SkillError(f"{folder / MANIFEST_FILE}: a skill without {CODE_FILE} needs a model and a prompt",
                         'set model = "default" and prompt = "FILE.txt", or add skill.py with respond(ctx)')
    if handler is not None and not callable(handler):
        raise SkillError(f"{code}: '{manifest.handler or 'respond'}' is not a function", "")
    check_model(manifest, folder, settings)
    tools = getattr(module, "TOOLS", ()) if module else ()
    return Skill(
        name=manifest.name, manifest=manifest, source=source, origin=str(folder), handler=handler, folder=folder,
        prompt_template=_prompt(manifest, folder), output_schema=_schema(manifest, folder, module),
        tools={t.name: t for t in tools},
        timeout_s=manifest.timeout_s or settings.skills.handler_timeout_s,
    )
