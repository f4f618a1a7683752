"""Showing a tool's result: text and structured content, long output cut with a note.

Tool output is data. It is shown to the user and never read back as instructions: nothing
in it can start another call.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def result_text(result: Any) -> tuple[str, bool]:
    """``(text, is_error)`` of an SDK ``CallToolResult``: its text parts, or its structured
    content as JSON when it has no text; other parts (images, audio, resources) are named."""
    parts: list[str] = []
    for item in result.content or []:
        kind = getattr(item, "type", "")
        if kind == "text":
            parts.append(item.text)
        elif kind == "resource" and getattr(item.resource, "text", None) is not None:
            parts.append(item.resource.text)
        else:
            parts.append(f"[{kind or 'unknown'} content: {getattr(item, 'mime_type', '') or 'not shown'}]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, indent=2, ensure_ascii=False))
    return "\n".join(parts).strip(), bool(result.is_error)


def truncate(text: str, limit: int, keep_dir: Path | None = None) -> tuple[str, Path | None]:
    """``text`` cut to ``limit`` characters with a note; the whole output is kept in a file
    under ``keep_dir`` (when given) so the user can see all of it."""
    if len(text) <= limit:
        return text, None
    saved = None
    if keep_dir is not None:
        keep_dir.mkdir(parents=True, exist_ok=True)
        saved = keep_dir / f"output-{hashlib.sha256(text.encode()).hexdigest()[:12]}.txt"
        saved.write_text(text, encoding="utf-8")
    where = f"; the whole output is in {saved}" if saved else ""
    return text[:limit] + f"\n… [truncated: showing {limit} of {len(text)} characters{where}]", saved


def render(tool: str, arguments: dict[str, Any], result: Any, limit: int, keep_dir: Path | None = None) -> str:
    """The reply for one call: what was called, then the (possibly truncated) output, fenced
    so markup in it is shown literally."""
    text, is_error = result_text(result)
    text, _ = truncate(text, limit, keep_dir)
    shown_args = json.dumps(arguments, ensure_ascii=False)
    head = f"`{tool}` {shown_args}" + (" reported an error:" if is_error else ":")
    fence = "````" if "```" in text else "```"
    return f"{head}\n{fence}\n{text or '(no output)'}\n{fence}\n"
