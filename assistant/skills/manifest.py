"""The skill manifest (``skill.toml``): a validated declaration of what a skill is and may do.

Every key is checked (``extra="forbid"``): a typo is an error naming the file, the key and,
where it can be found, the line. A manifest is all a prompt-only skill needs; Python code in
``skill.py`` is optional.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.errors import SkillError

NAME_RE = r"^[a-z][a-z0-9_-]{0,39}$"
DEFAULT_MODEL = "default"  # manifest value meaning "the configured default model"
MANIFEST_FILE = "skill.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Generation(_Strict):
    """Generation settings for the skill's requests; unset keys keep the model's defaults."""

    max_tokens: int | None = Field(default=None, ge=1, le=32768)
    temperature: float | None = Field(default=None, ge=0.0, le=5.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    repeat_penalty: float | None = Field(default=None, ge=0.0)
    seed: int | None = None
    stop: list[str] | None = None

    def as_kwargs(self) -> dict[str, Any]:
        """Only the keys the manifest set."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Permissions(_Strict):
    """What the skill's tools may touch. The tool dispatcher enforces it, not the model.

    ``read`` lists roots: paths (``~`` expanded) or the tokens ``"attachments"`` (files the
    user attached), ``"mentioned"`` (files named in the user's own message) and ``"scratch"``
    (the skill's own folder). ``write`` allows creating files inside those roots (never
    overwriting; deleting needs ``write`` too) and every side effect still needs the user's
    confirmation. ``network`` is never granted by default.
    """

    read: list[str] = Field(default_factory=list)
    write: bool = False
    network: bool = False


class EvalSpec(_Strict):
    """The skill's eval set: a JSON Lines file of inputs with expected outputs or checks."""

    file: str = "eval.jsonl"
    max_tokens: int | None = Field(default=None, ge=1)


class Manifest(_Strict):
    """A skill's declaration.

    Attributes:
        name: unique skill name (lower case, digits, ``-``/``_``); what the router returns.
        description: one line shown in lists and used as the skill's purpose.
        examples: utterances that should reach this skill (the router learns from them).
        negatives: similar utterances that must not reach it.
        model: a catalog model name, ``"default"`` for the configured default model, or
            omitted for a deterministic skill that needs no model.
        adapter: a LoRA adapter (GGUF) file for ``model``, relative to the skill folder.
        prompt: the system prompt: a file name (skill folder first, then ``prompts/``) or text.
        generation: generation settings for this skill's requests.
        output_schema: the answer's shape: an inline JSON schema table, a ``.json`` file, or
            the name of a pydantic model class defined in ``skill.py``.
        handler: the function in ``skill.py`` that answers (default ``respond``); a skill
            without code answers with its model and prompt.
        tools: names of the tools the skill may call.
        permissions: what those tools may touch.
        max_tool_calls: bound on tool calls in one turn.
        timeout_s: longest pause between two pieces of output before the skill counts as
            hung; default ``[skills] handler_timeout_s``.
        settings: free-form defaults for the skill's own options (handed to it in its context).
        eval: the eval set (a file name or a table with ``file`` and ``max_tokens``).
        train: training pairs for fine-tuning (used by ``assistant tune``).
    """

    name: str = Field(pattern=NAME_RE)
    description: str = Field(min_length=1, max_length=300)
    version: str = "0.1.0"
    examples: list[str] = Field(default_factory=list)
    negatives: list[str] = Field(default_factory=list)
    model: str | None = None
    adapter: str | None = None
    prompt: str | None = None
    generation: Generation = Field(default_factory=Generation)
    output_schema: dict[str, Any] | str | None = None
    handler: str | None = None
    tools: list[str] = Field(default_factory=list)
    permissions: Permissions = Field(default_factory=Permissions)
    max_tool_calls: int = Field(default=8, ge=0, le=100)
    timeout_s: float | None = Field(default=None, gt=0, le=3600)
    settings: dict[str, Any] = Field(default_factory=dict)
    eval: EvalSpec | str | None = None
    train: str | None = None

    @field_validator("examples", "negatives")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        out = [v.strip() for v in value]
        if any(not v for v in out):
            raise ValueError("examples must not be empty strings")
        return out

    @field_validator("handler")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not value.isidentifier():
            raise ValueError("handler must be a Python function name")
        return value

    @property
    def needs_model(self) -> bool:
        return self.model is not None

    @property
    def eval_spec(self) -> EvalSpec | None:
        if self.eval is None:
            return None
        return EvalSpec(file=self.eval) if isinstance(self.eval, str) else self.eval


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line of the innermost named key of ``loc`` in the TOML text."""
    keys = [str(k) for k in loc if not isinstance(k, int)]
    if not keys:
        return None
    key = re.escape(keys[-1])
    patterns = [rf'^\s*"?{key}"?\s*=', rf"^\s*\[+\s*([\w.\"-]+\.)?\"?{key}\"?\s*\]+", rf'[{{,]\s*"?{key}"?\s*=']
    for pattern in patterns:
        for number, line in enumerate(text.splitlines(), 1):
            if re.search(pattern, line):
                return number
    return None


def explain_validation(exc: ValidationError, path: Path, text: str) -> list[str]:
    """One ``file:line: key: problem`` string per validation error."""
    problems = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        loc = tuple(p for p in loc if p not in ("function-after[_clean(), list[str]]",))
        key = ".".join(str(p) for p in loc) or "(top level)"
        msg = "unknown key" if err.get("type") == "extra_forbidden" else err.get("msg", "invalid value")
        if err.get("type") == "missing":
            msg = "required key is missing"
        line = _line_of(text, loc) if err.get("type") != "missing" else None
        where = f"{path}:{line}" if line else str(path)
        problems.append(f"{where}: {key}: {msg}")
    return problems


def parse_manifest(text: str, path: Path) -> Manifest:
    """Validate manifest ``text`` read from ``path``.

    Raises:
        SkillError: invalid TOML or an invalid manifest; the message names file, key and line.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SkillError(f"{path}: invalid TOML: {exc}", "fix the syntax at that line") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        problems = explain_validation(exc, path, text)
        raise SkillError("invalid skill manifest: " + "; ".join(problems),
                         "fix the key named above; `assistant skills check PATH` lists every problem") from None


def load_manifest(path: Path) -> Manifest:
    """Read and validate a ``skill.toml`` file (or the one inside a folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SkillError(f"{path} does not exist", "a skill folder needs a skill.toml manifest") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SkillError(f"cannot read {path}: {exc}", "check the file's permissions and encoding") from None
    return parse_manifest(text, path)
