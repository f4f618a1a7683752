"""Command line: argument parsing only. Each subcommand lives in its own module, which
registers its parser and imports anything heavy only when it runs (``--help`` stays fast)."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from assistant import __version__

# Modules that each define ``register(subparsers)``; a subcommand's handler is set with
# ``parser.set_defaults(func=...)`` and receives the parsed args, returning an exit code.
COMMAND_MODULES = (
    "assistant.cli.ask_cmd",
    "assistant.cli.models_cmd",
    "assistant.cli.router_cmd",
    "assistant.cli.skills_cmd",
    "assistant.cli.history_cmd",
    "assistant.cli.serve_cmd",
    "assistant.cli.eval_cmd",
    "assistant.cli.tune_cmd",
    "assistant.cli.docs_cmd",
    "assistant.cli.mcp_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="An offline, private chat assistant. With no command, opens the chat app.",
    )
    parser.add_argument("--version", action="version", version=f"assistant {__version__}")
    parser.add_argument("--config", metavar="FILE", help="user config file (default: ASSISTANT_CONFIG or the platform config dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``assistant`` command."""
    from assistant.errors import AssistantError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            from assistant.cli.tui_cmd import run_tui

            return run_tui(args)
        return int(args.func(args) or 0)
    except AssistantError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"hint: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
