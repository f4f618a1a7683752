"""``assistant route TEXT`` (explain a routing decision) and ``assistant router eval|correct``.

Nothing heavy is imported at module level: ``assistant --help`` must stay fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    """Register ``route`` and ``router``."""
    p = sub.add_parser("route", help="show which skill a message would go to, and why")
    p.add_argument("text", help="the message ('-' reads standard input)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--previous", metavar="SKILL", help="treat the message as following a turn answered by SKILL")
    p.add_argument("--routes", metavar="FILE.jsonl", type=Path,
                   help="route against labelled examples in this file instead of the installed skills")
    p.set_defaults(func=cmd_route)

    r = sub.add_parser("router", help="evaluate the router, save corrections")
    rsub = r.add_subparsers(dest="router_command", metavar="COMMAND", required=True)
    e = rsub.add_parser("eval", help="evaluate on labelled JSON Lines files ({'text', 'label'}; 'oos' = out of scope)")
    e.add_argument("--train", required=True, type=Path, metavar="TRAIN.jsonl", action="append",
                   help="one route per label; label 'oos' lines become negatives (repeat to combine files)")
    e.add_argument("--test", required=True, type=Path, metavar="TEST.jsonl", help="routed one text at a time")
    e.add_argument("--val", type=Path, metavar="VAL.jsonl",
                   help="fit the threshold here (default: cross-validation on TRAIN)")
    e.add_argument("--per-label", type=int, metavar="N", help="use only N training examples per label")
    e.add_argument("--seed", type=int, default=0, help="seed for --per-label sampling (default 0)")
    e.add_argument("--keep-in-scope", type=float, metavar="SHARE",
                   help="without --val: the threshold keeps at least this share of the requests "
                        "cross-validation routes right (default: [router] keep_in_scope, 0.98)")
    e.add_argument("--no-int8", dest="int8", action="store_false",
                   help="route on the float embedder even when [router] int8 is on")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--no-cache", action="store_true", help="do not read or write the embedding cache")
    e.add_argument("--no-adapt", dest="adapt", action="store_false",
                   help="keep the embedder frozen (default: tune its top layers on TRAIN first)")
    e.set_defaults(func=cmd_eval)
    c = rsub.add_parser("correct", help="save TEXT as a routing example for SKILL (the fallback skill: never route it)")
    c.add_argument("skill")
    c.add_argument("text")
    c.set_defaults(func=cmd_correct)


class _Bar:
    """A tqdm bar on stderr, one per phase."""

    def __init__(self) -> None:
        self.bar: Any = None  # a tqdm bar (tqdm ships no types)
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if phase != self.phase:
            self.close()
            self.bar = tqdm(total=total, desc=phase, file=sys.stderr, unit="step" if phase == "tuning" else "text", mininterval=0.5, leave=False)
            self.phase = phase
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _embedder(settings):
    from assistant.router.embedders import make_embedder

    return make_embedder(settings)


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.cli.common import print_json, settings_from
    from assistant.errors import RouterError
    from assistant.router.evaluate import run_eval

    if args.per_label is not None and args.per_label < 1:
        raise RouterError("--per-label must be at least 1", "pass a positive number, e.g. --per-label 10")
    if args.keep_in_scope is not None and not 0.5 <= args.keep_in_scope <= 1.0:
        raise RouterError("--keep-in-scope must be between 0.5 and 1", "e.g. --keep-in-scope 0.97")
    settings = settings_from(args)
    keep = settings.router.keep_in_scope if args.keep_in_scope is None else args.keep_in_scope
    bar = _Bar()
    try:
        result = run_eval(
            _embedder(settings), args.train, args.test, args.val,
            cache_dir=None if args.no_cache else settings.cache_dir / "router",
            per_label=args.per_label, seed=args.seed, progress=bar, adapt=args.adapt, keep_in_scope=keep,
            int8=settings.router.int8 and args.int8,
        )
    finally:
        bar.close()
    if args.json:
        print_json(result)
        return 0
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"
    print(f"accuracy (in scope)   {fmt(result['accuracy'])}   without fallback {fmt(result['accuracy_without_fallback'])}")
    print(f"out-of-scope recall   {fmt(result['oos_recall'])}")
    cal = result["calibration"]
    print(f"threshold             {result['threshold']:.4f} ({cal['method']})")
    print(f"  expected there      in-scope kept {fmt(cal['in_scope_retention'])}, "
          f"out-of-scope recall {fmt(cal['oos_recall'])} ({cal['n_in_scope']} in-scope, {cal['n_oos']} out-of-scope)")
    print(f"latency ms p50 / p95  {result['latency_ms_p50']:.2f} / {result['latency_ms_p95']:.2f}")
    print(f"train / val / test    {result['n_train']} / {result['n_val']} / {result['n_test']} ({result['n_routes']} routes)")
    return 0


def _load_routes(args: argparse.Namespace, settings):
    from assistant.router.data import read_jsonl, routes_from_examples
    from assistant.router.sources import Corrections, routes_from_skills

    if args.routes:
        return routes_from_examples(read_jsonl(args.routes))
    corrections = Corrections(settings.data_dir / "router" / "corrections.jsonl")
    return corrections.apply(routes_from_skills(settings), settings.router.fallback_skill)


def app_router(settings, routes=None):
    """The router as the app builds it from ``settings`` (``routes``: default the installed
    skills with the saved corrections), through the shared cache."""
    from assistant.router.router import Router

    if routes is None:
        routes = _load_routes(argparse.Namespace(routes=None), settings)
    return Router.build(routes, _embedder(settings), settings.cache_dir / "router",
                        fallback=settings.router.fallback_skill, adapt=settings.router.adapt,
                        keep_in_scope=settings.router.keep_in_scope, int8=settings.router.int8)


def cmd_route(args: argparse.Namespace) -> int:
    from assistant.cli.common import print_json, read_text_arg, settings_from

    settings = settings_from(args)
    text = read_text_arg(args.text)
    routes = _load_routes(args, settings)
    router = app_router(settings, routes)
    choice = router.route(text, previous_skill=args.previous)
    fallback = settings.router.fallback_skill
    if args.json:
        out = choice.as_dict()
        out["routed_to"] = choice.skill_or(fallback)
        out["calibration"] = router.calibration.as_dict(curve=False)
        print_json(out)
        return 0
    print(f"-> {choice.skill_or(fallback)}" + ("" if choice.skill else "  (fallback)"))
    print(f"   {choice.reason}")
    margin = "n/a" if choice.margin is None else f"{choice.margin:.3f}"
    cal = router.calibration
    print(f"   threshold {choice.threshold:.3f} ({cal.method}), margin {margin}")
    if cal.in_scope_retention is not None:
        caught = "" if cal.oos_recall is None else f", {cal.oos_recall:.0%} of out-of-scope ones caught"
        print(f"   calibration expects {cal.in_scope_retention:.0%} of in-scope requests kept{caught}")
    if not routes:
        print("   no skill provides routing examples yet")
    for name, score in choice.candidates:
        mark = "*" if name == choice.skill else " "
        print(f" {mark} {score:.3f}  {name}")
    return 0


def cmd_correct(args: argparse.Namespace) -> int:
    from assistant.cli.common import settings_from
    from assistant.router.sources import Corrections

    settings = settings_from(args)
    Corrections(settings.data_dir / "router" / "corrections.jsonl").add(args.skill, args.text)
    print(f"saved: '{args.text}' -> {args.skill} (used from the next router build)")
    return 0
