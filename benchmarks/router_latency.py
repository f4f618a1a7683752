"""Single-query routing latency, end to end in-process (embed + score + decide).

Usage: .venv/bin/python benchmarks/router_latency.py [--rounds 5] [--queries 200]

Two sets of routes on the real MiniLM: the built-in skills (tuned as the app tunes them,
[router] adapt) and a 150-route head built from CLINC150's training data (frozen). Each is
built three times: on the int8 copy of the ONNX Runtime export (the app's default,
[router] int8), on the float export ([router] int8 = false), and on torch only. Each round routes the same queries through both, plus the baseline
of ../shared/BENCHMARKS.md, ``SentenceTransformer.encode`` of one query (embedding only, no
scoring), interleaved so all see the same machine load. Two threads throughout. Prints JSON
with per-round and median p50/p95, the ratios, and how often both routers chose alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _percentiles(times: list[float]) -> dict[str, float]:
    times = sorted(times)
    return {"p50": round(times[len(times) // 2], 2), "p95": round(times[int(len(times) * 0.95)], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/clinc150"))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skills-only", action="store_true", help="skip the 150-route CLINC150 head")
    args = ap.parse_args()
    from assistant.config import load_settings
    from assistant.router.data import read_jsonl, routes_from_examples
    from assistant.router.embedders import MiniLMEmbedder
    from assistant.router.router import Router
    from assistant.skills.registry import load_skills

    settings = load_settings()
    cache = settings.cache_dir / "router"
    # Two embedders: ONNX Runtime (the app's default, [router] onnx) and torch only.
    embedders = {"onnx": MiniLMEmbedder(threads=2, onnx_dir=cache / "onnx"), "torch": MiniLMEmbedder(threads=2)}
    if embedders["onnx"].onnx is None:
        raise SystemExit("the ONNX Runtime path is not available here (see the log)")
    st = embedders["torch"]
    queries = [e.text for e in read_jsonl(args.data / "test.jsonl")][: args.queries]
    sets = {"skills": (load_skills(settings).routes(), None, settings.router.adapt)}
    if not args.skills_only and (args.data / "train.jsonl").is_file():
        # Frozen, as benchmarks/router_clinc.py's full setting is built (tuning takes minutes).
        sets["clinc150"] = (routes_from_examples(read_jsonl(args.data / "train.jsonl")),
                            read_jsonl(args.data / "val.jsonl"), False)

    def st_encode(q: str) -> None:
        st._model.encode([q], convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)

    def timed(fn) -> dict[str, float]:
        times = []
        for q in queries:
            t0 = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - t0) * 1000)
        return _percentiles(times)

    out: dict[str, object] = {"queries": len(queries), "rounds": args.rounds, "threads": 2}
    for name, (routes, val, adapt) in sets.items():
        # The app's default ([router] int8) routes on the int8 copy of the ONNX export.
        modes = {"onnx_int8": (embedders["onnx"], True), "onnx": (embedders["onnx"], False),
                 "torch": (embedders["torch"], False)}
        routers = {mode: Router.build(routes, emb, cache, val=val, adapt=adapt, int8=q8)
                   for mode, (emb, q8) in modes.items()}
        for router in routers.values():
            for q in queries[:20]:  # warm up
                router.route(q)
        rounds: dict[str, list[dict[str, float]]] = {"onnx_int8": [], "onnx": [], "torch": [], "st_encode": []}
        for _ in range(args.rounds):
            st._threads(2)
            rounds["st_encode"].append(timed(st_encode))
            for mode, router in routers.items():
                rounds[mode].append(timed(router.route))
        med = {m: {k: statistics.median(r[k] for r in rs) for k in ("p50", "p95")} for m, rs in rounds.items()}
        def agree(a: str, b: str, routers: dict = routers) -> str:
            return f"{sum(routers[a].route(q).skill == routers[b].route(q).skill for q in queries)}/{len(queries)}"

        def ratio(a: str, b: str, med: dict = med) -> float:
            return round(med[a]["p50"] / med[b]["p50"], 3)
        out[name] = {
            "n_routes": len(routers["onnx"].routes),
            "embedder": routers["onnx"].embedder.name,
            "embedder_int8": routers["onnx_int8"].embedder.name,
            "route_onnx_int8": med["onnx_int8"], "route_onnx": med["onnx"], "route_torch": med["torch"],
            "st_encode_baseline": med["st_encode"],
            "p50_ratio_onnx_int8_over_st_encode": ratio("onnx_int8", "st_encode"),
            "p50_ratio_onnx_over_st_encode": ratio("onnx", "st_encode"),
            "p50_ratio_onnx_int8_over_onnx": ratio("onnx_int8", "onnx"),
            "p50_ratio_onnx_over_torch": ratio("onnx", "torch"),
            "same_decision_onnx_int8_and_onnx": agree("onnx_int8", "onnx"),
            "same_decision_onnx_and_torch": agree("onnx", "torch"),
            "rounds": rounds,
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
