"""`assistant skills list | new | check`: see, scaffold and validate skills."""

from __future__ import annotations

import argparse
from pathlib import Path

from assistant.cli.common import print_json, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("skills", help="list, create and check skills")
    cmds = p.add_subparsers(dest="skills_command", metavar="ACTION", required=True)
    ls = cmds.add_parser("list", help="every skill with its status, model, example count and failures")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(func=cmd_list)
    new = cmds.add_parser("new", help="scaffold a working skill folder (manifest, prompt, examples, eval set)")
    new.add_argument("name", help="the skill's name (lower case, digits, - or _)")
    new.add_argument("--dir", metavar="D", help="parent folder (default: your user skills folder)")
    new.add_argument("--no-code", action="store_true", help="no skill.py: answer with the model and prompt only")
    new.set_defaults(func=cmd_new)
    check = cmds.add_parser("check", help="validate a skill folder; problems are reported with file and line")
    check.add_argument("path", help="the skill folder or its skill.toml")
    check.set_defaults(func=cmd_check)


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.skills.registry import load_skills

    settings = settings_from(args)
    registry = load_skills(settings)
    skills = registry.all()
    infos = {s.name: registry.info(s) for s in skills}  # an MCP skill's info reads its server's state from disk
    scores = {s.name: _bench_score(settings, s.name, infos[s.name].model, s.adapter_path(settings)) for s in skills}
    if args.json:
        print_json([{**infos[s.name].__dict__, "source": s.source, "origin": s.origin, "bench": scores[s.name]}
                    for s in skills])
        return 0
    print(f"{'SKILL':<14} {'STATUS':<9} {'MODEL':<22} {'EXAMPLES':>8}  {'LAST BENCH':<34} SOURCE")
    for s in skills:
        info = infos[s.name]
        bench = scores[s.name]
        shown = f"{bench['bench']} {bench['metric']} {bench['value'] * 100:.1f} (n={bench['n']})" if bench else "-"
        print(f"{s.name:<14} {s.status:<9} {info.model or '-':<22} {info.examples:>8}  {shown:<34} {s.source}")
    broken = [s for s in skills if s.status != "ok"]
    for s in broken:
        print(f"\n{s.name} ({s.status}): {s.error}")
    for s in skills:
        server = infos[s.name].server
        if server.startswith("failed"):
            print(f"\n{s.name}: its MCP server {server}")
    return 0


def _bench_score(settings, skill: str, model: str | None, adapter) -> dict | None:
    """The newest stored bench score of ``skill`` on the model (and adapter) it runs on now."""
    from assistant.bench.report import last_scores

    if model is None:
        return None

    def same(v: dict) -> bool:
        if v.get("base") is None:  # a run stored before reports named their model and adapter
            return v["model"] == (f"{model}+adapter" if adapter else model)
        if v["base"] != model or bool(v.get("adapter")) != bool(adapter):
            return False
        return not adapter or Path(v["adapter"]).resolve() == Path(adapter).resolve()

    mine = [v for v in last_scores(settings, skill).values() if same(v)]
    return max(mine, key=lambda v: v.get("started") or "") if mine else None


def cmd_new(args: argparse.Namespace) -> int:
    from assistant.skills.registry import user_skills_dir
    from assistant.skills.scaffold import new_skill

    parent = Path(args.dir) if args.dir else user_skills_dir(settings_from(args))
    folder = new_skill(args.name, parent, with_code=not args.no_code)
    print(f"created {folder}")
    for name in sorted(p.name for p in folder.iterdir()):
        print(f"  {name}")
    print(f"next: edit the examples and prompt, then run `assistant skills check {folder}`")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from assistant.skills.scaffold import check_skill

    problems, warnings = check_skill(Path(args.path).expanduser(), settings_from(args))
    for w in warnings:
        print(f"warning: {w}")
    for p in problems:
        print(f"problem: {p}")
    if problems:
        print(f"{len(problems)} problem(s)")
        return 1
    print("ok")
    return 0
