"""`assistant serve`: the assistant as an OpenAI-compatible HTTP server."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.pipeline_api import ChatPipeline
    from assistant.server.runner import AssistantServer


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve", help="serve the assistant over an OpenAI-compatible HTTP API",
        description="Serve /v1/chat/completions and /v1/models. Model 'assistant' routes each message; "
                    "'assistant/SKILL' pins a skill. Listens on 127.0.0.1 unless told otherwise; any other "
                    "address needs an API key.",
    )
    p.add_argument("--host", metavar="ADDR", help="address to listen on (default: server.host, 127.0.0.1)")
    p.add_argument("--port", type=int, metavar="N", help="port (default: server.port, 8765; 0 picks a free one)")
    p.add_argument("--api-key-env", metavar="VAR",
                   help="environment variable holding the API key clients must send "
                        "(default: server.api_key_env, ASSISTANT_SERVE_API_KEY)")
    p.add_argument("--yes", action="store_true", help="allow tools with side effects without asking (nobody can be asked)")
    p.add_argument("--quiet", action="store_true", help="do not log each request")
    p.set_defaults(func=cmd_serve)


def resolve_key(args: argparse.Namespace, default_env: str) -> tuple[str | None, str]:
    """The API key and the variable it came from.

    Raises:
        ConfigError: ``--api-key-env`` names a variable that is not set.
    """
    from assistant.errors import ConfigError

    env = args.api_key_env or default_env
    key = os.environ.get(env) or None
    if args.api_key_env and key is None:
        raise ConfigError(f"--api-key-env names ${env}, which is not set", f"export {env}=<a long random secret>")
    return key, env


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.cli.common import settings_from
    from assistant.errors import ConfigError
    from assistant.server.runner import check_bind, make_server

    settings = settings_from(args)
    opts = settings.server
    host = opts.host if args.host is None else args.host
    port = opts.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a port number", "use 1-65535, or 0 for a free port")
    key, env = resolve_key(args, opts.api_key_env)
    check_bind(host, key, env)  # before anything loads: refuse fast
    from assistant.pipeline import build_pipeline

    pipeline = build_pipeline(settings, confirm=lambda _prompt: bool(args.yes))
    try:
        server = make_server(pipeline, host, port, api_key=key, options=opts, key_env=env, verbose=not args.quiet)
    except BaseException:
        pipeline.close()
        raise
    pipeline.start()
    auth = f"API key from ${env}" if key else "no API key (loopback only)"
    print(f"assistant serve: listening on {server.url} ({auth}); models: assistant, assistant/<skill>",
          file=sys.stderr, flush=True)
    return run_until_stopped(server, pipeline)


def run_until_stopped(server: AssistantServer, pipeline: ChatPipeline) -> int:
    """Serve until Ctrl-C or SIGTERM; running turns are cancelled and stored, then it closes."""

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.start()
        server.wait()
    except KeyboardInterrupt:
        print("assistant serve: stopping", file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
        server.service.wait_idle(10.0)
        pipeline.close()
    return 0
