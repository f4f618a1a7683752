"""Single-query routing latency, end to end in-process (embed + score + decide).

Usage: .venv/bin/python benchmarks/router_latency.py [--rounds 5] [--queries 200]

Two routers on the real MiniLM: the built-in skills (from the repo's skill examples) and a
150-route head built from CLINC150's training data. Each round routes the same queries
with one torch thread per query and with two, interleaved so both see the same machine
load; prints JSON with per-round and median p50/p95 and the 1-vs-2-thread ratio.
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
    emb = MiniLMEmbedder(threads=2)
    # As the app builds it: tuned on the skills' examples unless [router] adapt = false.
    routers = {"skills": Router.build(load_skills(settings).routes(), emb, cache, adapt=settings.router.adapt)}
    queries = [e.text for e in read_jsonl(args.data / "test.jsonl")][: args.queries]
    if not args.skills_only and (args.data / "train.jsonl").is_file():
        train = read_jsonl(args.data / "train.jsonl")
        routers["clinc150"] = Router.build(routes_from_examples(train), emb, cache,
                                           val=read_jsonl(args.data / "val.jsonl"))
    out: dict[str, object] = {"queries": len(queries), "rounds": args.rounds}
    for name, router in routers.items():
        for q in queries[:20]:  # warm up
            router.route(q)
        rounds: dict[int, list[dict[str, float]]] = {1: [], 2: []}
        baseline: list[dict[str, float]] = []
        for _ in range(args.rounds):
            # The baseline of ../shared/BENCHMARKS.md, side by side: SentenceTransformer.encode
            # of one query on 2 threads (embedding only, no scoring).
            emb._threads(2)
            times = []
            for q in queries:
                t0 = time.perf_counter()
                emb._model.encode([q], convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
                times.append((time.perf_counter() - t0) * 1000)
            baseline.append(_percentiles(times))
            for threads in (1, 2):
                emb._query_threads = threads
                times = []
                for q in queries:
                    t0 = time.perf_counter()
                    router.route(q)
                    times.append((time.perf_counter() - t0) * 1000)
                rounds[threads].append(_percentiles(times))
        med = {t: {k: statistics.median(r[k] for r in rs) for k in ("p50", "p95")} for t, rs in rounds.items()}
        out[name] = {
            "n_routes": len(router.routes),
            "one_thread": med[1],
            "two_threads": med[2],
            "p50_ratio_one_over_two": round(med[1]["p50"] / med[2]["p50"], 3),
            "embedder": router.embedder.name,
            "st_encode_baseline": {k: statistics.median(r[k] for r in baseline) for k in ("p50", "p95")},
            "p50_ratio_two_threads_over_st_encode": round(
                med[2]["p50"] / statistics.median(r["p50"] for r in baseline), 3),
            "rounds": {f"{t}_thread": rs for t, rs in rounds.items()},
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
