"""Discovering skills through one pluggy manager, and the registry the pipeline uses.

Three sources, in this order (the first skill with a name wins; a later one is marked failed):
the repo's ``skills/`` folder (built-ins), the user's skills folder, and the
``assistant.skills`` entry-point group. The two folders are scanned by :class:`FolderSource`
plugins, so built-ins register exactly like third-party skills. Safe mode skips everything
but the built-ins; an allowlist admits only the third-party skills it names. Whatever fails
(import, manifest, hook) is recorded on a failed :class:`Skill`; loading always completes.
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import pluggy

from assistant.backends.base import ChatMessage
from assistant.errors import SkillError
from assistant.events import Progress
from assistant.router.types import RouteSpec
from assistant.skills import hookspecs
from assistant.skills.context import ModelAccess, SkillContext
from assistant.skills.hookspecs import ENTRY_POINT_GROUP, hookimpl
from assistant.skills.loader import BUILTIN_SKILLS_DIR, load_folder
from assistant.skills.manifest import MANIFEST_FILE, load_manifest
from assistant.skills.skill import DEFAULT_TIMEOUT_S, Skill
from assistant.skills.tools import Roots, ToolDispatcher, mentioned_paths

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.pipeline_api import SkillInfo

log = logging.getLogger(__name__)
Confirm = Callable[[str], bool]


def user_skills_dir(settings: "Settings") -> Path:
    """``[skills] user_dir``, or ``skills/`` beside the user's config file."""
    if settings.skills.user_dir:
        return Path(settings.skills.user_dir).expanduser()
    from assistant.config import user_config_path

    return user_config_path().parent / "skills"


class FolderSource:
    """A plugin that registers every ``*/skill.toml`` folder under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @hookimpl
    def register_skills(self, register: Callable[..., Any]) -> None:
        if not self.root.is_dir():
            return
        for folder in sorted(p.parent for p in self.root.glob(f"*/{MANIFEST_FILE}")):
            register(folder)


class _Collector:
    """The ``register`` callback handed to one plugin: loads what it is given, records failures."""

    def __init__(self, builder: "_Builder", source: str, origin: str) -> None:
        self.builder, self.source, self.origin = builder, source, origin

    def __call__(self, item: Skill | Path | str) -> None:
        b = self.builder
        if isinstance(item, Skill):
            item.source, item.origin = self.source, item.origin or self.origin
            item.timeout_s = item.manifest.timeout_s if item.manifest and item.manifest.timeout_s else b.timeout
            b.add(self._checked(item))
            return
        folder = Path(item)
        try:
            manifest = load_manifest(folder / MANIFEST_FILE)
        except SkillError as exc:
            b.add(Skill(name=folder.name, source=self.source, origin=str(folder), status="failed", error=exc.message))
            return
        if not b.admits(manifest.name, self.source):
            b.add(Skill(name=manifest.name, manifest=manifest, source=self.source, origin=str(folder),
                        status="disabled", error=b.why_disabled(), folder=folder))
            return
        try:
            b.add(load_folder(folder, b.settings, source=self.source, manifest=manifest))
        except SkillError as exc:
            b.add(Skill(name=manifest.name, manifest=manifest, source=self.source, origin=str(folder),
                        status="failed", error=exc.message, folder=folder))

    def _checked(self, skill: Skill) -> Skill:
        from assistant.skills.loader import check_model

        if not self.builder.admits(skill.name, self.source):
            skill.status, skill.error = "disabled", self.builder.why_disabled()
        elif skill.manifest is not None:
            try:
                check_model(skill.manifest, skill.folder, self.builder.settings)
            except SkillError as exc:
                skill.fail(exc.message)
        return skill


class _Builder:
    def __init__(self, settings: "Settings") -> None:
        self.settings = settings
        self.skills: dict[str, Skill] = {}
        self.timeout = getattr(settings.skills, "handler_timeout_s", DEFAULT_TIMEOUT_S)

    def admits(self, name: str, source: str) -> bool:
        if source == "builtin":
            return True
        if self.settings.skills.safe_mode:
            return False
        allow = self.settings.skills.allow
        return allow is None or name in allow

    def why_disabled(self) -> str:
        if self.settings.skills.safe_mode:
            return "safe mode: third-party skills are off"
        return "not in [skills] allow"

    def add(self, skill: Skill) -> None:
        first = self.skills.get(skill.name)
        if first is None:
            self.skills[skill.name] = skill
            return
        if not first.ok and skill.ok and first.source == skill.source == "builtin":
            return
        key = f"{skill.name}@{skill.origin or skill.source}"
        skill.fail(f"another skill named '{skill.name}' was loaded first ({first.source}: {first.origin})")
        self.skills[key] = skill


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)


def discover(settings: "Settings", *, builtin_dir: Path | None = None, user_dir: Path | None = None,
             entry_points: Callable[[], Iterable[Any]] | None = _entry_points) -> list[Skill]:
    """Every skill from the three sources, ok or not (see the module docstring)."""
    builder = _Builder(settings)
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    sources: dict[str, tuple[str, str]] = {}
    builtin = builtin_dir or BUILTIN_SKILLS_DIR
    pm.register(FolderSource(builtin), name="builtin")
    sources["builtin"] = ("builtin", str(builtin))
    user = user_dir or user_skills_dir(settings)
    if settings.skills.safe_mode:
        _disable_folder(builder, user)
    else:
        pm.register(FolderSource(user), name="user")
        sources["user"] = ("user", str(user))
    for ep in (entry_points() if entry_points else ()):
        origin = f"entry point {ep.name} = {ep.value}"
        if not builder.admits(ep.name, "entrypoint"):
            builder.add(Skill(name=ep.name, source="entrypoint", origin=origin, status="disabled", error=builder.why_disabled()))
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=f"entrypoint:{ep.name}")
            sources[f"entrypoint:{ep.name}"] = ("entrypoint", origin)
            if not pm.get_hookcallers(plugin):
                raise SkillError("it defines no register_skills hook", "decorate it with assistant.skills.hookimpl")
        except SkillError as exc:
            builder.add(Skill(name=ep.name, source="entrypoint", origin=origin, status="failed",
                              error=f"{origin}: {exc.message} ({exc.hint})"))
        except Exception as exc:  # noqa: BLE001 - one broken plugin must not stop the app (simonw/llm#1280)
            log.warning("skill plugin %s failed to load: %s", ep.name, exc)
            builder.add(Skill(name=ep.name, source="entrypoint", origin=origin, status="failed",
                              error=f"{origin}: loading the plugin failed: {type(exc).__name__}: {exc}"))
    # Each plugin is called on its own, so one that raises loses only its own skills.
    for impl in pm.hook.register_skills.get_hookimpls():  # registration order
        source, origin = sources.get(impl.plugin_name, ("entrypoint", impl.plugin_name))
        try:
            impl.function(register=_Collector(builder, source, origin))
        except Exception as exc:  # noqa: BLE001 - one plugin's failing register_skills loses only its own skills
            name = impl.plugin_name.split(":", 1)[-1]
            builder.add(Skill(name=name, source=source, origin=origin, status="failed",
                              error=f"{origin}: register_skills raised {type(exc).__name__}: {exc}"))
    _add_mcp_servers(builder)
    return list(builder.skills.values())


def _add_mcp_servers(builder: _Builder) -> None:
    """One skill per configured MCP server ([mcp.servers]); nothing is imported without one."""
    if not builder.settings.mcp.servers:
        return
    collect = _Collector(builder, "mcp", "[mcp.servers]")
    try:
        from assistant.mcp.skill import mcp_skills

        skills = mcp_skills(builder.settings)
    except Exception as exc:  # noqa: BLE001 - a broken MCP set-up must not stop the other skills
        builder.add(Skill(name="mcp", source="mcp", origin="[mcp.servers]", status="failed",
                          error=f"MCP servers could not be set up: {type(exc).__name__}: {exc}"))
        return
    for skill in skills:
        collect(skill)


def _disable_folder(builder: _Builder, root: Path) -> None:
    """List the user's skills as disabled without reading their code."""
    if root.is_dir():
        for folder in sorted(p.parent for p in root.glob(f"*/{MANIFEST_FILE}")):
            builder.add(Skill(name=folder.name, source="user", origin=str(folder), status="disabled",
                              error=builder.why_disabled()))


class SkillRegistry:
    """The loaded skills, including failed and disabled ones, and how to run them.

    Args:
        settings: the configuration (for models, data dir and overrides).
        skills: the skills, in discovery order.
    """

    def __init__(self, settings: "Settings", skills: Sequence[Skill]) -> None:
        self.settings = settings
        self._skills = list(skills)
        self._by_name: dict[str, Skill] = {}
        for skill in self._skills:  # the first of a name wins; a later duplicate is listed as failed
            self._by_name.setdefault(skill.name, skill)
        self.fallback: str = settings.router.fallback_skill
        self._lock = threading.Lock()

    def __iter__(self) -> Iterator[Skill]:
        return iter(self.all())

    def __len__(self) -> int:
        return len(self._skills)

    def get(self, name: str) -> Skill | None:
        """The skill called ``name`` (whatever its status), or ``None``."""
        return self._by_name.get(name)

    def all(self) -> list[Skill]:
        """Every skill, failed and disabled ones included (each with ``status`` and ``error``)."""
        return list(self._skills)

    def failures(self) -> list[Skill]:
        return [s for s in self._skills if s.status == "failed"]

    def routes(self) -> list[RouteSpec]:
        """What the router learns from: one RouteSpec per working skill with examples."""
        return [RouteSpec(s.name, s.examples, s.negatives) for s in self._skills if s.ok and s.examples]

    def info(self, skill: Skill) -> "SkillInfo":
        """The skill as front ends list it."""
        from assistant.pipeline_api import SkillInfo

        server = ""
        hub = _hub_of(skill)
        if hub is not None:
            state, detail = hub.report(skill.name)
            server = f"{state}: {detail}" if detail else state
        return SkillInfo(name=skill.name, description=skill.description, model=skill.model_name(self.settings),
                         status=skill.status, error=skill.error, examples=len(skill.examples), server=server)

    def server_states(self) -> list[tuple[str, str, str]]:
        """``(skill, state, detail)`` of every MCP server behind a skill (see ``McpHub.report``)."""
        return [(s.name, *hub.report(s.name)) for s in self._skills if (hub := _hub_of(s)) is not None]

    def scratch_dir(self, skill: Skill) -> Path:
        return self.settings.data_dir / "skills" / skill.name

    def context(self, skill: Skill, *, text: str, history: Sequence[ChatMessage] = (), attachments: Sequence[Path] = (),
                models: ModelAccess | None = None, confirm: Confirm | None = None,
                cancel: threading.Event | None = None, **extra: Any) -> SkillContext:
        """The narrow context for one turn of ``skill`` (with its tool dispatcher).

        ``extra`` sets other :class:`SkillContext` fields (``clock`` in tests).
        """
        manifest = skill.manifest
        scratch = self.scratch_dir(skill)
        attachments = tuple(Path(a).expanduser() for a in attachments)
        confirm = confirm or (lambda _prompt: False)
        dispatcher = None
        if manifest is not None:
            roots = Roots.build(manifest.permissions, attachments=attachments, mentioned=mentioned_paths(text),
                                scratch=scratch)
            dispatcher = ToolDispatcher(skill.name, manifest.tools, manifest.permissions, roots, confirm=confirm,
                                        max_calls=manifest.max_tool_calls, tools=skill.tools)
        return SkillContext(
            text=text, history=list(history), attachments=attachments,
            settings=dict(manifest.settings) if manifest else {}, models=models, scratch=scratch,
            confirm=confirm, cancel=cancel or threading.Event(), tools=dispatcher, skill_name=skill.name,
            model=skill.model_name(self.settings), adapter=skill.adapter_path(self.settings),
            generation=manifest.generation.as_kwargs() if manifest else {}, folder=skill.folder, **extra,
        )

    def run(self, skill: Skill, ctx: SkillContext) -> Iterator[str | Progress]:
        """Run ``skill`` on ``ctx`` under its timeout (see :meth:`Skill.respond`)."""
        return skill.respond(ctx)

    def start_background(self, on_change: Callable[[], None] | None = None,
                         embedder: Callable[[], Any] | None = None) -> None:
        """Start the MCP servers behind skills in the background; ``on_change`` is called when
        their tool lists (so the routes) change; ``embedder`` returns the embedder their skills
        narrow tools with (``None``: word overlap)."""
        mcp = [s for s in self._skills if s.source == "mcp" and s.ok]
        if mcp:
            from assistant.mcp.skill import start_in_background

            start_in_background(mcp, on_change, embedder)

    def close(self) -> None:
        """Stop the MCP servers started for this registry (safe to call twice)."""
        mcp = [s for s in self._skills if s.source == "mcp"]
        if mcp:
            from assistant.mcp.skill import hubs_of

            for hub in hubs_of(mcp):
                hub.close()


def load_skills(settings: "Settings", **sources: Any) -> SkillRegistry:
    """Discover every skill (see :func:`discover` for ``sources``) into a registry.

    Never raises for a broken skill: it is listed as failed with its reason.
    """
    return SkillRegistry(settings, discover(settings, **sources))


def _hub_of(skill: Skill) -> Any:
    """The MCP hub behind an MCP server's skill, else ``None``."""
    return getattr(skill.handler, "hub", None) if skill.source == "mcp" else None
