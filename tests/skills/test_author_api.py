"""Skill authors import from one module, ``assistant.skills``, and handlers are typed.

The built-in skills are written exactly as a third party would write one, so they are held to
it, and so is the code ``assistant skills new`` writes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import assistant.skills as api
from assistant.skills.loader import BUILTIN_SKILLS_DIR
from assistant.skills.scaffold import new_skill

BUILTIN_CODE = sorted(BUILTIN_SKILLS_DIR.glob("*/skill.py"))


def assistant_imports(tree: ast.AST) -> list[str]:
    """Every module of the ``assistant`` package the code imports, at any depth."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return [m for m in found if m == "assistant" or m.startswith("assistant.")]


def handler_problems(tree: ast.Module) -> list[str]:
    """What is untyped about the module's ``respond``: its ``ctx`` and its return."""
    respond = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "respond"), None)
    if respond is None:
        return ["no respond()"]
    problems = []
    ctx = respond.args.args[0] if respond.args.args else None
    if ctx is None or ctx.annotation is None or ast.unparse(ctx.annotation) != "SkillContext":
        problems.append("respond's first parameter is not `ctx: SkillContext`")
    if respond.returns is None:
        problems.append("respond has no return annotation")
    return problems


def test_every_exported_name_exists() -> None:
    missing = [name for name in api.__all__ if not hasattr(api, name)]
    assert not missing
    for name in ("SkillContext", "ChatMessage", "Progress", "SkillError", "HandOff", "read_table",
                 "generate_structured", "mentioned_paths", "chunk_text", "define_skill", "hookimpl"):
        assert name in api.__all__


@pytest.mark.parametrize("path", BUILTIN_CODE, ids=lambda p: p.parent.name)
def test_builtin_skills_import_only_the_author_api(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert set(assistant_imports(tree)) <= {"assistant.skills"}, assistant_imports(tree)
    assert not handler_problems(tree)


def test_the_scaffold_writes_a_typed_handler_on_the_author_api(tmp_path: Path) -> None:
    folder = new_skill("weather", tmp_path)
    tree = ast.parse((folder / "skill.py").read_text(encoding="utf-8"))
    assert assistant_imports(tree) == ["assistant.skills"]
    assert not handler_problems(tree)


def test_the_checks_catch_an_internal_import_and_an_untyped_handler() -> None:
    tree = ast.parse("from assistant.errors import SkillError\n\ndef respond(ctx):\n    yield 'x'\n")
    assert assistant_imports(tree) == ["assistant.errors"]
    assert handler_problems(tree) == ["respond's first parameter is not `ctx: SkillContext`",
                                      "respond has no return annotation"]
