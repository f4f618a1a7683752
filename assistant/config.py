"""Configuration: built-in catalog < repo config.toml < user config < ASSISTANT_* variables.

Everything is parsed into pydantic models with ``extra="forbid"``; every problem becomes a
:class:`~assistant.errors.ConfigError` that names the key path, where it came from and what
is allowed. ``load_settings()`` returns one :class:`Settings`; there is no global.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal, Mapping

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from assistant.backends.http_settings import RemoteSettings
from assistant.errors import ConfigError
from assistant.mcp.settings import McpSettings
from assistant.memory.settings import MemorySettings
from assistant.router.settings import RouterSettings
from assistant.server.settings import ServerSettings
from assistant.settings_base import Section
from assistant.skills.settings import SkillsSettings
from assistant.tui.settings import TuiSettings

APP_NAME = "assistant"
REPO_ROOT = Path(__file__).resolve().parent.parent
REPO_CONFIG = REPO_ROOT / "config.toml"
CATALOG_FILE = Path(__file__).resolve().parent / "models" / "catalog.toml"
MIN_CTX = 256


class GenerationSettings(Section):
    """Sampling settings; a model's defaults, overridable per skill and per request."""

    max_tokens: int = Field(default=512, ge=1, le=32768)
    temperature: float = Field(default=0.2, ge=0.0, le=5.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    top_k: int = Field(default=40, ge=0)
    repeat_penalty: float = Field(default=1.1, ge=0.0)
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)


class ModelSpec(Section):
    """One named model in the catalog."""

    description: str = ""
    good_for: list[str] = Field(default_factory=list)
    source: Literal["package", "path", "hf", "http"] = "path"
    file: str | None = None
    path: Path | None = None
    packages: list[str] = Field(default_factory=list)
    parts_glob: str | None = None
    hf_repo: str | None = None
    hf_file: str | None = None
    base_url: str | None = None
    api_model: str | None = None
    api_key_env: str | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    size_bytes: int | None = Field(default=None, ge=0)
    chat_format: str = "chatml"
    trained_ctx: int = Field(default=32768, ge=MIN_CTX)
    n_ctx: int = Field(default=4096)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)

    @model_validator(mode="after")
    def _check(self) -> "ModelSpec":
        if self.n_ctx < MIN_CTX or self.n_ctx > self.trained_ctx:
            raise ValueError(
                f"n_ctx must be between {MIN_CTX} and the model's trained context "
                f"({self.trained_ctx}); got {self.n_ctx}"
            )
        needs = {
            "package": ("packages", "parts_glob", "file"),
            "path": ("path",),
            "hf": ("hf_repo", "hf_file"),
            "http": ("base_url",),
        }[self.source]
        missing = [k for k in needs if not getattr(self, k)]
        if missing:
            raise ValueError(f"source '{self.source}' needs: {', '.join(missing)}")
        return self


class RuntimeSettings(Section):
    """How models run on this machine."""

    threads: int | None = Field(default=None, ge=1, le=512)
    memory_budget_mb: int = Field(default=4096, ge=256)
    max_loaded_models: int = Field(default=3, ge=1, le=16)
    verify_hashes: bool = True

    @property
    def n_threads(self) -> int:
        """Threads for inference: configured, or every core this process may use."""
        if self.threads:
            return self.threads
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """The whole configuration."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_nested_delimiter="__", extra="forbid", validate_assignment=True
    )

    home: Path | None = None
    models_dir: Path | None = None
    default_model: str = "qwen2.5-coder-0.5b"
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    models: dict[str, ModelSpec] = Field(default_factory=dict)
    router: RouterSettings = Field(default_factory=RouterSettings)
    skills: SkillsSettings = Field(default_factory=SkillsSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    tui: TuiSettings = Field(default_factory=TuiSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    remote: RemoteSettings = Field(default_factory=RemoteSettings)
    mcp: McpSettings = Field(default_factory=McpSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment variables win over the merged TOML files passed as init values.
        return (env_settings, init_settings)

    @field_validator("models")
    @classmethod
    def _names(cls, value: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
        bad = [n for n in value if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", n)]
        if bad:
            raise ValueError(f"model names may use letters, digits, '.', '_', '-': {bad}")
        return value

    @model_validator(mode="after")
    def _references(self) -> "Settings":
        known = sorted(self.models)
        if self.default_model not in self.models:
            raise ValueError(f"default_model '{self.default_model}' is not in the catalog; known: {known}")
        for skill, override in self.skills.overrides.items():
            if override.model and override.model not in self.models:
                raise ValueError(
                    f"skills.overrides.{skill}.model '{override.model}' is not in the catalog; known: {known}"
                )
        return self

    # Paths -----------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        """Where models, the database and caches live."""
        if self.home:
            return self.home.expanduser()
        from platformdirs import user_data_dir

        return Path(user_data_dir(APP_NAME, appauthor=False))

    @property
    def model_dir(self) -> Path:
        return (self.models_dir.expanduser() if self.models_dir else self.data_dir / "models")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "assistant.db"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def model(self, name: str) -> ModelSpec:
        """The catalog entry for ``name``, or a ConfigError listing the known names."""
        try:
            return self.models[name]
        except KeyError:
            raise ConfigError(
                f"unknown model '{name}'",
                f"known models: {', '.join(sorted(self.models))}; add one under [models.{name}] in config.toml",
            ) from None


def user_config_path() -> Path:
    """The user's config file: ``ASSISTANT_CONFIG`` or the platform config dir."""
    env = os.environ
    if env.get("ASSISTANT_CONFIG"):
        return Path(env["ASSISTANT_CONFIG"]).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def read_toml(path: Path, *, required: bool = False) -> dict[str, Any]:
    """Parse one TOML file, turning every failure into a ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist", "create it or unset ASSISTANT_CONFIG") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}", "check the file's permissions and encoding") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {path}: {exc}", "fix the syntax at that line") from None


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into a copy of ``base``; tables merge, other values replace."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _line_of(path: Path, loc: tuple[Any, ...]) -> int | None:
    """Best-effort line number of the last key of ``loc`` in a TOML file."""
    keys = [str(k) for k in loc if not isinstance(k, int)]
    if not keys or not path.is_file():
        return None
    pattern = re.compile(rf'^\s*"?{re.escape(keys[-1])}"?\s*=')
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if pattern.match(line):
            return number
    return None


def _explain(exc: ValidationError, files: list[Path]) -> ConfigError:
    problems = []
    for err in exc.errors()[:5]:
        loc = tuple(err.get("loc", ()))
        key = ".".join(str(p) for p in loc) or "(top level)"
        msg = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            msg = "unknown key"
        where = ""
        for f in reversed(files):
            line = _line_of(f, loc)
            if line:
                where = f" ({f}, line {line})"
                break
        problems.append(f"{key}: {msg}{where}")
    more = f" and {len(exc.errors()) - 5} more" if len(exc.errors()) > 5 else ""
    return ConfigError(
        "invalid configuration: " + "; ".join(problems) + more,
        "fix the key named above; config.toml in the project documents every key",
    )


def load_settings(
    config_path: Path | None = None,
    *,
    overrides: Mapping[str, Any] | None = None,
    repo_config: Path | None = REPO_CONFIG,
) -> Settings:
    """Load and validate the configuration.

    Args:
        config_path: the user config file; default ``ASSISTANT_CONFIG`` or the platform dir.
        overrides: values applied after the files (used by tests and command-line flags);
            ``ASSISTANT_*`` environment variables still win.
        repo_config: the documented defaults file; ``None`` skips it.

    Raises:
        ConfigError: the configuration is invalid; the message names the key path.
    """
    explicit = config_path is not None or bool(os.environ.get("ASSISTANT_CONFIG"))
    user = config_path or user_config_path()
    files = [CATALOG_FILE] + ([repo_config] if repo_config else []) + [user]
    merged: dict[str, Any] = {}
    for f in files:
        merged = deep_merge(merged, read_toml(f, required=(f == user and explicit)))
    if overrides:
        merged = deep_merge(merged, overrides)
    try:
        return Settings(**merged)
    except ValidationError as exc:
        raise _explain(exc, files) from None
    except (ValueError, TypeError) as exc:  # e.g. an environment value that is not valid JSON
        raise ConfigError(f"invalid configuration: {exc}", "check your ASSISTANT_* environment variables") from None
