"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from assistant.config import Settings


def settings_from(args: argparse.Namespace) -> "Settings":
    """Load the configuration, honouring ``--config``."""
    from assistant.config import load_settings

    path = getattr(args, "config", None)
    return load_settings(Path(path) if path else None)


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str, ensure_ascii=False))


def read_text_arg(text: str) -> str:
    """``-`` means standard input."""
    return sys.stdin.read() if text == "-" else text


def human_size(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
