"""The skill author's API: everything a skill's code imports, from this one module.

A skill's ``skill.py`` defines a handler that takes the turn's :class:`SkillContext` and yields
its reply in pieces, with :class:`Progress` for long steps::

    from typing import Iterator

    from assistant.skills import Progress, SkillContext

    def respond(ctx: SkillContext) -> Iterator[str | Progress]:
        yield Progress("thinking", None)
        yield from ctx.generate(ctx.messages(ctx.prompt))

Built-in skills (the repo's ``skills/`` folder) import only from here, exactly as a plugin
would. What is here:

* the turn: :class:`SkillContext`, :class:`ChatMessage`, :class:`Generation`, :class:`Progress`,
  and the access protocols a context carries (:class:`ModelAccess`, :class:`RecallAccess`,
  :class:`DocsAccess`); :class:`DirectModelAccess` runs a context over a model manager in tests;
* errors a skill raises: :class:`SkillError`, :class:`HandOff` (not my kind of request: the
  fallback answers; not when ``ctx.chosen``, the user's own pick), and :class:`PermissionDenied`
  (a tool call refused);
* declaring skills in Python: :func:`define_skill`, :class:`Skill`, :data:`Handler`, ``hookimpl``;
* tools: :class:`Tool`, :class:`ToolDispatcher`, :func:`run_tool_loop` (the model calls the
  declared tools through :mod:`assistant.tools.engine`, as MCP tools are called), :func:`mentioned_paths`;
* files: :class:`Limits`, :class:`Table`, :func:`read_text`, :func:`read_table`, :func:`beside`,
  :func:`write_new`, :func:`format_rows`, :func:`markdown_table`;
* structured output: :func:`generate_structured`, :func:`schema_errors`, :func:`schema_of`,
  :func:`parse_json`, :func:`match_label`, :func:`dump`;
* long text: :func:`chunk_text`, :func:`count_cl100k`;
* answering from documents: :class:`DocHit`, :class:`DocsResult`, :func:`relevant`,
  :func:`content_words`, :func:`keyword_coverage`, :func:`scope`, :func:`snippet`.

Only light modules are imported here (no numpy, no database, no model code): the config
imports ``assistant.skills.settings``, which loads this package first. The app's side of
skills (discovery, the registry, the loader) is in :mod:`assistant.skills.registry`.
"""

from __future__ import annotations

from assistant.backends.base import ChatMessage, Generation
from assistant.docs.hits import DocHit, DocsResult, content_words, keyword_coverage, relevant
from assistant.docs.scope import scope
from assistant.errors import HandOff, PermissionDenied, SkillError
from assistant.events import Progress
from assistant.skills.chunking import chunk_text, count_cl100k
from assistant.skills.context import DirectModelAccess, DocsAccess, ModelAccess, RecallAccess, SkillContext
from assistant.skills.files import Limits, Table, beside, format_rows, markdown_table, read_table, read_text, write_new
from assistant.skills.hookspecs import hookimpl
from assistant.skills.prompts import resolve_file
from assistant.skills.skill import Handler, Skill, define_skill
from assistant.skills.structured import dump, generate_structured, match_label, parse_json, schema_errors, schema_of
from assistant.skills.tools import Tool, ToolDispatcher, mentioned_paths, run_tool_loop
from assistant.snippets import snippet

__all__ = [
    "ChatMessage", "DirectModelAccess", "DocHit", "DocsAccess", "DocsResult", "Generation", "HandOff", "Handler",
    "Limits", "ModelAccess", "PermissionDenied", "Progress", "RecallAccess", "Skill", "SkillContext", "SkillError",
    "Table", "Tool", "ToolDispatcher", "beside", "chunk_text", "content_words", "count_cl100k", "define_skill",
    "dump", "format_rows", "generate_structured", "hookimpl", "keyword_coverage", "markdown_table", "match_label",
    "mentioned_paths", "parse_json", "read_table", "read_text", "relevant", "resolve_file", "run_tool_loop", "schema_errors",
    "schema_of", "scope", "snippet", "write_new",
]
