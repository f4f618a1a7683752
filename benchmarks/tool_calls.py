"""Tool calling on BFCL (simple python, multiple): the engine against free-form calls.

Usage: .venv/bin/python benchmarks/tool_calls.py [--set simple|multiple] [--model NAME]
       [--limit N] [--modes engine,free] [--details]
       .venv/bin/python benchmarks/tool_calls.py --rescore SAVED.json
(one progress line per question goes to stderr; the JSON result to stdout)

``engine``: assistant.tools.engine as the MCP skills use it (narrow to 3 candidates, choose under
a grammar of their names, fill the arguments under a grammar of the schema, validate, one
repair; a required value it judges not given counts as a failed call). ``free``: the same
model prompted the usual way (tools listed in the system prompt, asked to reply with
``{"name": ..., "arguments": {...}}``), no grammar. Both are scored with BFCL's AST check:
right function, every required argument present, each value among the accepted ones (strings
compared after BFCL's normalisation; a dict, or a list of dicts, key by key as BFCL does), no
unknown argument. Prints JSON with 95 % bootstrap intervals over the questions.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "bench" / "tools"
SETS = {"simple": "bfcl_simple_python", "multiple": "bfcl_multiple"}


def load(set_name: str, limit: int | None) -> list[tuple[dict, dict]]:
    base = DATA / SETS[set_name]
    items = [json.loads(line) for line in (base.parent / f"{base.name}.jsonl").read_text().splitlines() if line]
    answers = {a["id"]: a for a in map(json.loads, (base.parent / f"{base.name}_answers.jsonl").read_text().splitlines())}
    pairs = [(item, answers[item["id"]]) for item in items]
    return pairs[:limit] if limit else pairs


# BFCL's AST check ---------------------------------------------------------------------
def _norm(value: Any) -> Any:
    """BFCL's string normalisation: lower case, no spaces or ,./-_*^ characters, ' as "."""
    if isinstance(value, str):
        return re.sub(r"[ ,./\-_*^]", "", value).lower().replace("'", '"')
    if isinstance(value, (list, tuple)):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return value


def _dict_matches(value: Any, accepted: dict[str, Any]) -> bool:
    """BFCL's check of a dict value: each key's value among that key's accepted ones ("" = may be left out)."""
    if not isinstance(value, dict):
        return False
    for key, got in value.items():
        options = accepted.get(key)
        if not isinstance(options, list) or _norm(got) not in [_norm(o) for o in options if o != ""]:
            return False
    return all(key in value or (isinstance(options, list) and "" in options) for key, options in accepted.items())


def _same(value: Any, accepted: Any, kind: str | None) -> bool:
    # A dict (or a list of dicts) is accepted key by key, each key with its own accepted values.
    if isinstance(accepted, dict):
        return _dict_matches(value, accepted)
    if isinstance(accepted, list) and accepted and all(isinstance(a, dict) for a in accepted):
        return (isinstance(value, list) and len(value) == len(accepted)
                and all(_dict_matches(v, a) for v, a in zip(value, accepted, strict=True)))
    if kind == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        return False  # BFCL checks types: 10.0 is not an integer
    if kind == "number" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
        accepted = float(accepted) if isinstance(accepted, (int, float)) and not isinstance(accepted, bool) else accepted
    if isinstance(value, bool) != isinstance(accepted, bool):
        return False
    return _norm(value) == _norm(accepted)


def ast_check(name: str | None, args: dict[str, Any], functions: list[dict], truth: dict) -> tuple[bool, str]:
    """BFCL's AST check of one call (see the module docstring); ``(ok, why not)``."""
    from assistant.tools.engine import normalise_schema

    want, accepted = next(iter(truth.items()))
    if name != want:
        return False, f"wrong function {name!r} (want {want!r})"
    schema = normalise_schema(next(f for f in functions if f["name"] == want)["parameters"])
    props = schema.get("properties", {})
    for key in schema.get("required", []):
        if key not in args:
            return False, f"missing required {key}"
    for key, value in args.items():
        if key not in props:
            return False, f"unknown argument {key}"
        options = accepted.get(key, [""])
        if not any(_same(value, a, props[key].get("type")) for a in options if a != ""):
            return False, f"{key}={value!r} not among {options!r}"
    for key, options in accepted.items():
        if key not in args and "" not in options:
            return False, f"missing {key}"
    return True, ""


# The two ways of calling ----------------------------------------------------------------
def tools_of(functions: list[dict]) -> list[Any]:
    from assistant.tools.engine import normalise_schema
    from assistant.tools.spec import ToolSpec

    return [ToolSpec(f["name"], f.get("description", ""), normalise_schema(f.get("parameters", {}))) for f in functions]


def split_question(item: dict) -> tuple[str, list[Any]]:
    from assistant.backends.base import ChatMessage

    turns = [m for m in item["question"][0] if m.get("role") in ("user", "assistant", "system")]
    request = turns[-1]["content"]
    return request, [ChatMessage(m["role"], m["content"]) for m in turns[:-1] if m["role"] in ("user", "assistant")]


def call_engine(access: Any, item: dict) -> tuple[str | None, dict, str]:
    from assistant.tools import engine

    request, context = split_question(item)
    plan = engine.plan(access.generate, request, tools_of(item["function"]), max_candidates=3, allow_none=False,
                       context=context)
    note = "asked for " + ",".join(plan.missing) if plan.missing else "; ".join(plan.errors)
    if not plan.ready:
        return None, {}, note or "no tool"
    return plan.tool.name, plan.arguments, ""


def call_free(access: Any, item: dict) -> tuple[str | None, dict, str]:
    from assistant.backends.base import ChatMessage
    from assistant.skills.structured import parse_json

    request, context = split_question(item)
    listing = "\n".join(json.dumps(f) for f in item["function"])
    system = ("You can call these functions:\n<tools>\n" + listing + "\n</tools>\n"
              'To call one, reply with only JSON: {"name": FUNCTION_NAME, "arguments": {ARGUMENT: VALUE, ...}}')
    reply = access.generate([ChatMessage("system", system), *context, ChatMessage("user", request)],
                            max_tokens=256, temperature=0.0).text()
    try:
        value = parse_json(reply)
    except ValueError:
        return None, {}, "not JSON"
    if not isinstance(value, dict):
        return None, {}, "not an object"
    args = value.get("arguments", value.get("parameters", {}))
    return value.get("name"), args if isinstance(args, dict) else {}, ""


def run_mode(mode: str, access: Any, pairs: list[tuple[dict, dict]], details: bool) -> dict[str, Any]:
    from assistant.errors import AssistantError

    call = {"engine": call_engine, "free": call_free}[mode]
    oks, seconds, rows = [], [], []
    for item, answer in pairs:
        started = time.perf_counter()
        try:
            name, args, note = call(access, item)
        except AssistantError as exc:  # one failed call is a wrong answer, not the end of the run
            name, args, note = None, {}, f"error: {exc}"
        seconds.append(time.perf_counter() - started)
        ok, why = ast_check(name, args, item["function"], answer["ground_truth"][0])
        oks.append(ok)
        print(json.dumps({"mode": mode, "id": item["id"], "ok": ok, "s": round(seconds[-1], 2)}), file=sys.stderr,
              flush=True)  # progress, so a long run can be followed (and read when cut short)
        if details:
            rows.append({"id": item["id"], "ok": ok, "call": {"name": name, "arguments": args}, "why": why or note})
    out: dict[str, Any] = {**_accuracy(oks), "mean_s": round(sum(seconds) / len(seconds), 2)}
    if details:
        out["items"] = rows
    return out


def _accuracy(oks: list[bool]) -> dict[str, Any]:
    """Accuracy, its count and a 95 % bootstrap interval over the questions."""
    from assistant.bench.metrics import bootstrap

    def mean(rows: list[dict[str, Any]]) -> dict[str, float]:
        return {"accuracy": sum(r["ok"] for r in rows) / len(rows)}

    low_high = bootstrap([{"ok": ok} for ok in oks], mean).get("accuracy")
    return {"accuracy": round(sum(oks) / len(oks), 4), "correct": sum(oks), "n": len(oks),
            "interval_95": [round(v, 4) for v in low_high] if low_high else None}


def rescore(path: Path) -> dict[str, Any]:
    """A saved ``--details`` run scored again with today's check (no model runs)."""
    saved = json.loads(path.read_text())
    by_id = {item["id"]: (item, answer) for name in SETS for item, answer in load(name, None)}
    out: dict[str, Any] = {"rescored": str(path), "set": saved.get("set"), "model": saved.get("model")}
    for mode in ("engine", "free"):
        rows = (saved.get(mode) or {}).get("items")
        if not rows:
            continue
        oks = []
        for row in rows:
            item, answer = by_id[row["id"]]
            call = row.get("call") or {}
            oks.append(ast_check(call.get("name"), call.get("arguments") or {}, item["function"],
                                 answer["ground_truth"][0])[0])
        out[mode] = {**_accuracy(oks), "saved_correct": sum(bool(r["ok"]) for r in rows)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=sorted(SETS), default="simple")
    ap.add_argument("--model", help="a catalog model (default: the configured default model)")
    ap.add_argument("--limit", type=int, help="only the first N questions (a smoke figure, not a score)")
    ap.add_argument("--modes", default="engine,free", help="comma-separated: engine, free")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--details", action="store_true", help="every call and why it failed")
    ap.add_argument("--rescore", type=Path, metavar="JSON", help="score a saved --details run again (no model)")
    args = ap.parse_args()
    if args.rescore:
        print(json.dumps(rescore(args.rescore), indent=2))
        return
    from assistant.backends.manager import ModelManager
    from assistant.config import load_settings
    from assistant.skills.context import DirectModelAccess

    settings = load_settings(overrides={"runtime": {"threads": args.threads}})
    model = args.model or settings.default_model
    manager = ModelManager(settings)
    pairs = load(args.set, args.limit)
    result: dict[str, Any] = {"set": SETS[args.set], "model": model, "n": len(pairs), "limit": args.limit,
                              "threads": args.threads}
    try:
        access = DirectModelAccess(manager, model)
        for mode in args.modes.split(","):
            result[mode] = run_mode(mode.strip(), access, pairs, args.details)
    finally:
        manager.close()
    if "engine" in result and "free" in result:
        result["engine_minus_free_points"] = round(100 * (result["engine"]["accuracy"] - result["free"]["accuracy"]), 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
