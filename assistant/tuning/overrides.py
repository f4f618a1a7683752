"""Recording a skill's chosen model/adapter in the user's config ([skills.overrides.NAME]).

Both ``assistant eval --write`` and ``assistant tune`` register their result here rather than
in the skill's manifest: built-in and third-party skill folders stay read-only, the choice is
the user's, and deleting the table restores the skill's own default. The file is edited as
text (only that one table is replaced), validated, and restored if the result does not load.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.config import load_settings, user_config_path
from assistant.errors import ConfigError


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def record_override(skill: str, model: str, adapter: Path | None, config_path: Path | None = None) -> Path:
    """Set ``[skills.overrides.<skill>]`` to ``model`` (+ ``adapter``) in the user config.

    Returns:
        The config file written.

    Raises:
        ConfigError: the edited config does not load (the old file is put back).
    """
    path = config_path or user_config_path()
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    header = re.compile(r"^\s*\[\s*skills\.overrides\.(\"?)" + re.escape(skill) + r"\1\s*\]\s*$")
    lines, kept, skipping = old.splitlines(), [], False
    for line in lines:
        if header.match(line):
            skipping = True
            continue
        if skipping and line.lstrip().startswith("["):
            skipping = False
        if not skipping:
            kept.append(line)
    body = "\n".join(kept).rstrip()
    table = [f"[skills.overrides.{_toml_str(skill)}]", f"model = {_toml_str(model)}"]
    if adapter is not None:
        table.append(f"adapter = {_toml_str(str(Path(adapter).resolve()))}")
    new = (body + "\n\n" if body else "") + "\n".join(table) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
    try:
        load_settings(path)
    except ConfigError:
        path.write_text(old, encoding="utf-8")
        raise
    return path
