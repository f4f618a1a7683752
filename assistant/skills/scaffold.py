"""``assistant skills new`` and ``assistant skills check``: make a skill folder, and validate one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import SkillError
from assistant.skills.manifest import MANIFEST_FILE, NAME_RE, load_manifest

if TYPE_CHECKING:
    from assistant.config import Settings

MANIFEST_TEMPLATE = '''# Skill manifest: every key is checked; `assistant skills check {folder}` lists problems.
name = "{name}"
description = "Describe in one line what {name} does."
model = "default"                 # a catalog model (`assistant models list`), or "default"
prompt = "prompt.txt"             # the system prompt, in this folder
# Requests like these are routed here (aim for 10 or more, varied):
examples = [
  "an example request for {name}",
  "another way a user might ask for {name}",
  "a third, differently worded request",
]
negatives = []                    # similar requests that must NOT come here
tools = []                        # e.g. ["read_file"]; the dispatcher refuses anything else
eval = "eval.jsonl"               # inputs with expected outputs, for `assistant eval {name}`

[permissions]
read = []                         # roots: paths, "attachments", "mentioned", "scratch"
write = false
network = false

[generation]
max_tokens = 256
temperature = 0.2
'''

CODE_TEMPLATE = '''"""The {name} skill. Delete this file to answer with the model and prompt.txt alone."""

from __future__ import annotations

from typing import Iterator

from assistant.skills import Progress, SkillContext


def respond(ctx: SkillContext) -> Iterator[str | Progress]:
    """Yield the reply in pieces: text, or Progress(message, fraction) during a long step."""
    # ctx.text is the message, ctx.history the conversation, ctx.prompt the filled-in prompt.txt.
    # Import what a skill needs from assistant.skills only: raise SkillError("what", "what to do")
    # to fail with a hint, or HandOff(...) to pass a request that is not for this skill to chat.
    yield from ctx.generate(ctx.messages(ctx.prompt))
'''


def new_skill(name: str, parent: Path, *, with_code: bool = True) -> Path:
    """Create ``parent/name`` with a manifest, prompt, eval set (and ``skill.py``).

    Raises:
        SkillError: a bad name, or the folder exists.
    """
    import re

    if not re.fullmatch(NAME_RE, name):
        raise SkillError(f"'{name}' is not a valid skill name", "use lower case letters, digits, '-' or '_', starting with a letter")
    folder = parent.expanduser() / name
    if folder.exists():
        raise SkillError(f"{folder} already exists", "choose another name or remove the folder")
    folder.mkdir(parents=True)
    (folder / MANIFEST_FILE).write_text(MANIFEST_TEMPLATE.format(name=name, folder=folder), encoding="utf-8")
    (folder / "prompt.txt").write_text(f"You are the {name} skill of a private, offline assistant. Answer briefly.\n",
                                       encoding="utf-8")
    evals = [{"input": f"an example request for {name}", "keywords": []},
             {"input": f"another way a user might ask for {name}", "keywords": []}]
    evals = [{"input": e["input"], "expected": "replace with the answer you expect", "check": "contains"} for e in evals]
    (folder / "eval.jsonl").write_text("".join(json.dumps(e) + "\n" for e in evals), encoding="utf-8")
    if with_code:
        (folder / "skill.py").write_text(CODE_TEMPLATE.format(name=name), encoding="utf-8")
    return folder


def check_skill(path: Path, settings: "Settings", embedder: object | None = None) -> tuple[list[str], list[str]]:
    """Validate a skill folder completely: ``(problems, warnings)``, each naming file and line.

    Warns when the skill has too few examples for a stable routing threshold, and (once it
    has no problems) when one of its examples is all but repeated by another installed
    skill's, compared with ``embedder`` (default: the router's, see ``router.embedder``).
    """
    from assistant.skills.evals import load_eval
    from assistant.skills.loader import load_folder
    from assistant.skills.prompts import resolve_file

    folder = path.parent if path.name == MANIFEST_FILE else path
    problems: list[str] = []
    warnings: list[str] = []
    try:
        manifest = load_manifest(folder / MANIFEST_FILE)
    except SkillError as exc:
        return [exc.message.removeprefix("invalid skill manifest: ")], warnings
    try:
        load_folder(folder, settings, source="check", manifest=manifest)
    except SkillError as exc:
        problems.append(exc.message)
    spec = manifest.eval_spec
    if spec is None:
        warnings.append(f"{folder / MANIFEST_FILE}: no eval set (add eval = \"eval.jsonl\")")
    else:
        eval_path = resolve_file(folder, spec.file)
        if eval_path is None:
            problems.append(f"{folder / MANIFEST_FILE}: eval file {spec.file} not found")
        else:
            try:
                load_eval(eval_path)
            except SkillError as exc:
                problems.append(exc.message)
    warnings.extend(_example_warnings(folder, manifest, settings, embedder, compare=not problems))
    return problems, warnings


def _example_warnings(folder: Path, manifest, settings: "Settings", embedder, compare: bool) -> list[str]:
    """Too few examples, or examples too close to another skill's (see ``assistant.router.overlap``)."""
    from assistant.router.overlap import example_warnings

    where = str(folder / MANIFEST_FILE)
    if not compare or not manifest.examples:
        return example_warnings(manifest.name, manifest.examples, [], None, where=where)  # the count only
    try:
        from assistant.router.sources import routes_from_skills

        others = [r for r in routes_from_skills(settings) if r.name != manifest.name]
        if embedder is None:
            from assistant.router.embedders import make_embedder

            embedder = make_embedder(settings)
        return example_warnings(manifest.name, manifest.examples, others, embedder,
                                settings.cache_dir / "router", where=where)
    except Exception as exc:  # noqa: BLE001 - the comparison is advice; the check itself must not fail
        out = example_warnings(manifest.name, manifest.examples, [], None, where=where)
        return out + [f"{where}: examples not compared with other skills' ({type(exc).__name__}: {exc})"]
