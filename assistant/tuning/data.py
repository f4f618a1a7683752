"""Reading training and eval sets (JSON Lines), with errors that name the file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assistant.errors import SkillError


class DataFileError(SkillError):
    """A training or eval file is missing or has a bad line; the message names the line."""


def read_jsonl(path: Path, *, required: tuple[str, ...] = (), kind: str = "data") -> list[dict[str, Any]]:
    """Read a JSONL file of objects, checking each has the ``required`` keys.

    Blank lines and lines starting with ``#`` are skipped.

    Raises:
        DataFileError: the file is missing, or a line is not a JSON object with the keys,
            naming ``path:line``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataFileError(f"{kind} file {path} does not exist", "check the path, or pass --data FILE") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFileError(f"cannot read {kind} file {path}: {exc}", "it must be UTF-8 JSON Lines") from None
    rows: list[dict[str, Any]] = []
    hint = 'each line must be one JSON object like {"input": "...", "output": "..."}'
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DataFileError(f"{path}:{number}: not valid JSON ({exc})", hint) from None
        if not isinstance(row, dict):
            raise DataFileError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}", hint)
        missing = [key for key in required if key not in row]
        if missing:
            raise DataFileError(f"{path}:{number}: missing key(s) {', '.join(missing)}", hint)
        for key in required:
            if isinstance(row[key], str) and not row[key].strip():
                raise DataFileError(f"{path}:{number}: '{key}' is empty", hint)
        row["_line"] = number
        rows.append(row)
    if not rows:
        raise DataFileError(f"{kind} file {path} has no examples", hint)
    return rows


def read_training(path: Path) -> list[dict[str, Any]]:
    """Training pairs ``{"input": str, "output": str | object, "system"?: str}``; objects become JSON text."""
    rows = read_jsonl(path, required=("input", "output"), kind="training")
    for row in rows:
        if not isinstance(row["input"], str):
            raise DataFileError(f"{path}:{row['_line']}: 'input' must be a string", "quote the text")
        if "system" in row and not isinstance(row["system"], str):
            raise DataFileError(f"{path}:{row['_line']}: 'system' must be a string", "quote the text, or leave the key out")
        if not isinstance(row["output"], str):
            row["output"] = json.dumps(row["output"], ensure_ascii=False)
    return rows


def read_eval(path: Path) -> list[dict[str, Any]]:
    """Eval items ``{"input", "expected" | "keywords", "check"?}``."""
    rows = read_jsonl(path, required=("input",), kind="eval")
    for row in rows:
        if "expected" not in row and "keywords" not in row:
            raise DataFileError(
                f"{path}:{row['_line']}: needs 'expected' or 'keywords'",
                'e.g. {"input": "...", "expected": "positive"}',
            )
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write rows (without private ``_`` keys) as JSON Lines, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({k: v for k, v in row.items() if not k.startswith("_")}, ensure_ascii=False) + "\n")
    tmp.replace(path)
