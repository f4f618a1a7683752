"""Router quality and latency on CLINC150 (full training data and 10 examples per intent).

Usage: .venv/bin/python benchmarks/router_clinc.py [--data DIR] [--threads N] [--seed S]
           [--only full|10_per_intent] [--calibration with_val,without_val,without_val_no_target]

Each setting is calibrated three ways, side by side on the same train and test:
``with_val``: the threshold fitted on val.jsonl (it has out-of-scope lines);
``without_val``: no val, as a user's skills are calibrated: leave-routes-out cross-validation
on train held to ``[router] keep_in_scope``;
``without_val_no_target``: the same cross-validation maximising accuracy + recall alone.
Test labels are used only to score. Prints JSON. Embeddings and tuned layers are cached
under the configured cache dir, so later runs skip re-embedding and re-tuning.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CALIBRATIONS = ("with_val", "without_val", "without_val_no_target")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/clinc150"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-negatives", dest="negatives", action="store_false",
                    help="train on train.jsonl only, without oos_train.jsonl as negatives")
    ap.add_argument("--no-adapt", dest="adapt", action="store_false",
                    help="keep the embedder frozen (default: tune its top layers on the training examples)")
    ap.add_argument("--no-int8", dest="int8", action="store_false",
                    help="route on the float ONNX embedder (default: as [router] int8 says)")
    ap.add_argument("--only", choices=["full", "10_per_intent"], help="run one of the two settings")
    ap.add_argument("--calibration", default=",".join(CALIBRATIONS),
                    help="comma-separated calibrations to run (default: all three)")
    args = ap.parse_args()
    from assistant.cli.router_cmd import _Bar
    from assistant.config import load_settings
    from assistant.router.embedders import MiniLMEmbedder
    from assistant.router.evaluate import run_eval

    settings = load_settings()
    t0 = time.perf_counter()
    # As the app runs it: through ONNX Runtime unless [router] onnx = false.
    onnx_dir = settings.cache_dir / "router" / "onnx" if settings.router.onnx else None
    emb = MiniLMEmbedder(threads=args.threads, onnx_dir=onnx_dir)
    load_s = time.perf_counter() - t0
    d = args.data
    out: dict[str, object] = {"embedder": emb.name, "threads": args.threads, "load_s": round(load_s, 2),
                              "onnx": emb.onnx is not None, "negatives": args.negatives, "adapt": args.adapt,
                              "int8": args.int8 and settings.router.int8}
    calibrations = [c for c in args.calibration.split(",") if c]
    unknown = set(calibrations) - set(CALIBRATIONS)
    if unknown:
        raise SystemExit(f"unknown calibration {sorted(unknown)}; choose from {', '.join(CALIBRATIONS)}")
    out["keep_in_scope"] = settings.router.keep_in_scope
    for name, per_label in (("full", None), ("10_per_intent", 10)):
        if args.only and name != args.only:
            continue
        # oos_train.jsonl: the data set's out-of-scope training lines, used as negatives
        # (its README allows fitting on them); thresholds still come from val or train only.
        train = [d / "train.jsonl"] + ([d / "oos_train.jsonl"] if args.negatives else [])
        out[name] = {}
        for cal in calibrations:
            bar = _Bar()
            res = run_eval(emb, train, d / "test.jsonl", d / "val.jsonl" if cal == "with_val" else None,
                           cache_dir=settings.cache_dir / "router", per_label=per_label, seed=args.seed,
                           progress=bar, adapt=args.adapt,
                           keep_in_scope=None if cal == "without_val_no_target" else settings.router.keep_in_scope,
                           int8=bool(out["int8"]))
            bar.close()
            out[name][cal] = res
            print(json.dumps({name: {cal: {k: res[k] for k in ("accuracy", "oos_recall", "accuracy_without_fallback",
                                                              "threshold", "latency_ms_p50")}}}), file=sys.stderr)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
