"""`assistant ask "question"`: one-shot use, streamed to stdout."""

from __future__ import annotations

import argparse
import json
import sys

from assistant.cli.common import read_text_arg, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask one question; the answer streams to stdout")
    p.add_argument("text", help="the question; '-' reads standard input")
    p.add_argument("--model", metavar="NAME", help="answer with this catalog model directly (no routing)")
    p.add_argument("--skill", metavar="NAME", help="force this skill instead of routing")
    p.add_argument("--file", action="append", default=[], metavar="PATH", help="hand a file to the skill (repeatable)")
    p.add_argument("--conversation", metavar="ID", help="continue a stored conversation")
    p.add_argument("--json", action="store_true", help="after the stream, print one JSON object with the measurements")
    p.add_argument("--yes", action="store_true", help="allow tools with side effects without asking")
    p.add_argument("--max-tokens", type=int, metavar="N")
    p.add_argument("--temperature", type=float)
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_ask)


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.errors import AssistantError

    text = read_text_arg(args.text)
    if not text.strip():
        raise AssistantError("the question is empty", "pass some text, or '-' to read it from standard input")
    settings = settings_from(args)
    if args.model:
        return _ask_model(args, settings, text)
    from assistant.pipeline import build_pipeline

    return _ask_pipeline(args, build_pipeline(settings, confirm=lambda _prompt: bool(args.yes)), text)


def _gen_overrides(args: argparse.Namespace) -> dict:
    return {k: v for k, v in (("max_tokens", args.max_tokens), ("temperature", args.temperature), ("seed", args.seed)) if v is not None}


def _ask_model(args: argparse.Namespace, settings, text: str) -> int:
    """Talk to one catalog model directly, with its default generation settings."""
    from assistant.backends.base import ChatMessage, GenerationRequest
    from assistant.backends.manager import ModelManager

    backend = ModelManager(settings).get(args.model)
    spec = settings.model(args.model)
    gen = settings.generation.model_copy(update=spec.generation.model_dump(exclude_unset=True))
    req = GenerationRequest(messages=[ChatMessage("user", text)], **{**gen.model_dump(), **_gen_overrides(args)})
    generation = backend.stream(req)
    for piece in generation:
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")
    result = generation.result
    assert result is not None
    if args.json:
        print(json.dumps(_result_json(result) | {"skill": None, "score": None, "runner_up": None}))
    return 0


def _result_json(result) -> dict:
    return {
        "text": result.text,
        "model": result.model,
        "ttft_ms": round(result.ttft_ms, 1) if result.ttft_ms is not None else None,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "tokens_per_s": round(result.tokens_per_s, 2) if result.tokens_per_s else None,
        "duration_ms": round(result.duration_ms, 1),
        "finish_reason": result.finish_reason,
    }


def _ask_pipeline(args: argparse.Namespace, pipeline, text: str) -> int:
    from pathlib import Path

    from assistant.errors import AssistantError
    from assistant.events import Progress, ReplyFailed, ReplyFinished, RouteDecided, TextDelta

    route = None
    final = None
    for event in pipeline.run_turn(
        args.conversation, text, skill=args.skill, attachments=tuple(Path(f) for f in args.file),
        generation=_gen_overrides(args),
    ):
        if isinstance(event, RouteDecided):
            route = event
        elif isinstance(event, TextDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()
        elif isinstance(event, Progress):
            print(f"[{event.message}]", file=sys.stderr)
        elif isinstance(event, (ReplyFinished, ReplyFailed)):
            final = event
    sys.stdout.write("\n")
    pipeline.close()
    if isinstance(final, ReplyFailed):
        raise AssistantError(final.error, final.hint)
    assert isinstance(final, ReplyFinished)
    if args.json:
        stats = dict(final.stats)
        out = {
            "text": final.text,
            "model": final.model,
            "skill": final.skill,
            "score": route.route.score if route else None,
            "runner_up": route.route.runner_up if route else None,
            "reason": route.route.reason if route else None,
            "conversation_id": final.conversation_id,
            "status": final.status,
            "ttft_ms": stats.get("ttft_ms"),
            "prompt_tokens": stats.get("prompt_tokens"),
            "completion_tokens": stats.get("completion_tokens"),
            "tokens_per_s": stats.get("tokens_per_s"),
            "duration_ms": stats.get("duration_ms"),
        }
        print(json.dumps(out, ensure_ascii=False))
    return 0 if final.status == "complete" else 1
