"""Resident memory with two small models and the embedder loaded (target: <= 1.5 GB RSS).

Usage: .venv/bin/python benchmarks/memory.py [--rounds 3]

Each run is a fresh process that builds the app's pipeline from the configuration (its own
temporary home, the installed default models), waits for the router, then answers one
general request (the default model, qwen2.5-coder-0.5b) and one sentiment request
(gemma-3-270m with its adapter), so both models and the embedder are resident. It reads
VmRSS and VmHWM from /proc. Runs alternate between the router's ONNX fast path on and off
([router] onnx), so the JSON gives medians of each and their ratio, side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUESTS = [("chat", "say hello in five words"), ("sentiment", "is this review positive: the soup was lovely")]


def _proc_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(onnx: bool, home: str) -> None:
    """One measured run (in a fresh process); prints one JSON line."""
    sys.path.insert(0, str(ROOT))
    from platformdirs import user_data_dir

    from assistant.config import load_settings
    from assistant.pipeline import build_pipeline

    models = os.environ.get("ASSISTANT_TEST_MODELS_DIR") or str(Path(user_data_dir("assistant", appauthor=False)) / "models")
    settings = load_settings(overrides={"home": home, "models_dir": models})
    settings.router.onnx = onnx
    pipeline = build_pipeline(settings)
    pipeline.start()
    if not pipeline.router.wait_ready(600):
        raise SystemExit(f"router not ready: {pipeline.router.state}")
    skills = []
    for skill, text in REQUESTS:
        events = list(pipeline.run_turn(None, text, skill=skill, generation={"max_tokens": 8}))
        skills.append((skill, type(events[-1]).__name__))
    router = pipeline.router.router
    out = {"onnx": onnx, "onnx_active": getattr(router.embedder, "onnx", None) is not None,
           "rss_mb": round(_proc_mb("VmRSS"), 1), "peak_rss_mb": round(_proc_mb("VmHWM"), 1),
           "turns": skills, "models_loaded": pipeline.models.used_mb()}
    pipeline.close()
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=2, metavar=("MODE", "HOME"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0] == "on", args.child[1])
        return
    runs: dict[str, list[dict]] = {"on": [], "off": []}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_") or k == "ASSISTANT_TEST_MODELS_DIR"}
    with tempfile.TemporaryDirectory() as home:
        # Round 0 fills the router's cache (tuned layers, ONNX export) and is not counted:
        # the figures are for a usual start, not the first one.
        for round_no in range(args.rounds + 1):
            for mode in ("on", "off"):
                proc = subprocess.run([sys.executable, __file__, "--child", mode, home], capture_output=True,
                                      text=True, env=env, timeout=1800)
                if proc.returncode != 0:
                    raise SystemExit(f"run with onnx {mode} failed:\n{proc.stderr[-2000:]}")
                if round_no:
                    runs[mode].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    med = {m: {k: statistics.median(r[k] for r in rs) for k in ("rss_mb", "peak_rss_mb")} for m, rs in runs.items()}
    print(json.dumps({
        "target_rss_mb": 1536,
        "onnx_on": med["on"], "onnx_off": med["off"],
        "rss_ratio_on_over_off": round(med["on"]["rss_mb"] / med["off"]["rss_mb"], 3),
        "runs": runs,
    }, indent=2))


if __name__ == "__main__":
    main()
