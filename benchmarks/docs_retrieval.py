"""Known-item retrieval over your-documents search: FTS5 alone, embeddings alone, hybrid.

Usage:
    .venv/bin/python benchmarks/docs_retrieval.py [--datasets xsum,dialogsum] [--threads 2] [--out FILE]
    .venv/bin/python benchmarks/docs_retrieval.py --sweep      # choose fusion parameters on DialogSum validation

Each article of ../shared/data/bench/summarize/xsum_test.jsonl (and each DialogSum test
dialogue) is written as a file into a temporary collection, indexed as ``assistant docs add``
indexes it (same reader, chunker, SQLite database settings and the app's ONNX MiniLM), and
its reference summary is the query. A query is answered by ranking chunks; a document's rank
is that of its best chunk. Reported per mode: Recall@1, Recall@5, MRR@10, with 95 % bootstrap intervals and the
hybrid's paired difference from each single mode (with its interval); plus index time
(read + chunk + FTS5 + embeddings) scaled to 1,000 documents, the re-index time when nothing
changed, query latency p50/p95 of the hybrid search (query embedding included, no answer),
and how the skill's relevance floor behaves: the share of known-item queries whose document
is found above the floor, and the share of unrelated queries (the other data set's summaries)
for which anything is.

The fusion parameters in assistant/docs/search.py were chosen with ``--sweep`` on the
DialogSum *validation* split, never on the figures reported here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "bench" / "summarize"
FILES = {"xsum": "xsum_test.jsonl", "dialogsum": "dialogsum_test.jsonl", "dialogsum_validation": "dialogsum_validation.jsonl"}
DEPTH = 50  # chunks asked for per query; enough for 10 distinct documents


def load(name: str, limit: int | None) -> list[dict]:
    rows = [json.loads(line) for line in (DATA / FILES[name]).read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit else rows


def doc_ranks(paths: list[str]) -> list[str]:
    """Chunk hits (file paths, best first) to a document ranking."""
    return list(dict.fromkeys(paths))


def metrics(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {"recall@1": round(sum(r == 1 for r in ranks) / n, 4),
            "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 4),
            "mrr@10": round(sum(1 / r for r in ranks if r is not None and r <= 10) / n, 4)}


MODES = ("fts", "vector", "hybrid")


def summarise(per_item: list[dict[str, int | None]]) -> dict[str, dict[str, float]]:
    """Each mode's metrics, and the hybrid minus each other mode (the same items, so paired)."""
    out = {mode: metrics([item[mode] for item in per_item]) for mode in MODES}
    for other in ("fts", "vector"):
        out[f"hybrid_minus_{other}"] = {k: round(out["hybrid"][k] - out[other][k], 4) for k in out["hybrid"]}
    return out


def intervals(per_item: list[dict[str, int | None]]) -> dict[str, dict[str, list[float]]]:
    """Percentile bootstrap (1,000 resamples of the queries) of everything :func:`summarise` reports."""
    from assistant.bench.metrics import bootstrap

    flat = lambda items: {f"{g}|{k}": v for g, row in summarise(items).items() for k, v in row.items()}
    out: dict[str, dict[str, list[float]]] = {}
    for key, (lo, hi) in bootstrap(per_item, flat).items():
        group, metric = key.split("|")
        out.setdefault(group, {})[metric] = [round(lo, 4), round(hi, 4)]
    return out


def rank_of(target: str, ranking: list[str]) -> int | None:
    return ranking.index(target) + 1 if target in ranking else None


class Bench:
    """One data set indexed into a fresh database in a temporary folder."""

    def __init__(self, rows: list[dict], embedder, tmp: Path) -> None:
        from assistant.docs.index import DocsIndex
        from assistant.memory.store import Store

        self.rows, self.embedder = rows, embedder
        folder = tmp / "docs"
        folder.mkdir()
        for r in rows:
            (folder / f"{r['id']}.txt").write_text(r["text"], encoding="utf-8")
        self.store = Store.open(tmp / "assistant.db")
        self.index = DocsIndex(self.store)
        self.index.add(folder, "bench")

    def build(self) -> dict[str, float]:
        load_before = os.getloadavg()[0]
        started, cpu = time.perf_counter(), time.process_time()
        report = self.index.scan("bench")
        read_s = time.perf_counter() - started
        self.index.embed_pending(self.embedder)
        total_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        started = time.perf_counter()
        again = self.index.scan("bench")
        self.index.embed_pending(self.embedder)
        unchanged_s = time.perf_counter() - started
        assert again.unchanged == len(self.rows) and again.changed == again.added == 0
        coll = self.index.get("bench", self.embedder.name)
        per = 1000 / len(self.rows)
        return {"documents": len(self.rows), "chunks": coll.chunks, "skipped": len(report.skipped),
                "index_s_per_1000_docs": round(total_s * per, 2), "read_and_fts_s_per_1000_docs": round(read_s * per, 2),
                "embed_s_per_1000_docs": round((total_s - read_s) * per, 2),
                # CPU seconds of this process (all its threads): on two idle cores the wall
                # time is about half of it; the wall time above also counts other programs' load.
                "index_cpu_s_per_1000_docs": round(cpu_s * per, 2),
                "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "reindex_unchanged_s": round(unchanged_s, 3)}

    def rankings(self, query: str, search) -> dict[str, list[str]]:
        """Document rankings of each mode from one keyword and one vector ranking."""
        from assistant.docs.search import fuse

        keyword = search.keyword_ranking(query, None, DEPTH)
        semantic, _ = search.vector_ranking(query, None, DEPTH)
        hybrid, _ = fuse([(keyword, search.fts_weight), (semantic, search.vector_weight)], search.rrf_k)
        paths = self.paths(set(keyword) | set(semantic))
        return {"fts": doc_ranks([paths[c] for c in keyword]), "vector": doc_ranks([paths[c] for c in semantic]),
                "hybrid": doc_ranks([paths[c] for c in hybrid[:DEPTH]])}

    def paths(self, chunks: set[int]) -> dict[int, str]:
        if not chunks:
            return {}
        rows = self.store.select(
            f"SELECT k.id, f.path FROM docs_chunks k JOIN docs_files f ON f.id = k.file_id WHERE k.id IN "
            f"({', '.join('?' * len(chunks))})", tuple(chunks))
        return {r["id"]: r["path"] for r in rows}

    def evaluate(self, search) -> dict[str, object]:
        """Each mode's metrics, their 95 % bootstrap intervals, and the hybrid's paired gain over each other mode."""
        per_item = []
        for r in self.rows:
            got = self.rankings(r["summary"], search)
            per_item.append({mode: rank_of(f"{r['id']}.txt", got[mode]) for mode in MODES})
        return {**summarise(per_item), "interval_95": intervals(per_item)}

    def latency_and_floor(self, search, unrelated: list[str]) -> dict[str, float]:
        from assistant.docs.hits import relevant

        floor = float(self.embedder.related_similarity)
        times, found, false_found = [], 0, 0
        for r in self.rows:
            started = time.perf_counter()
            hits = search.search(r["summary"], limit=6)
            times.append((time.perf_counter() - started) * 1000)
            found += any(h.path == f"{r['id']}.txt" and relevant(h, r["summary"], floor) for h in hits)
        for q in unrelated:
            false_found += any(relevant(h, q, floor) for h in search.search(q, limit=6))
        times.sort()
        return {"query_ms_p50": round(statistics.median(times), 2), "query_ms_p95": round(times[int(len(times) * 0.95)], 2),
                "floor": floor, "known_item_found_above_floor": round(found / len(self.rows), 4),
                "unrelated_queries_with_a_hit_above_floor": round(false_found / max(1, len(unrelated)), 4)}


def make_embedder(threads: int, fake: bool):
    from assistant.config import load_settings
    from assistant.router.embedders import FakeEmbedder, MiniLMEmbedder

    if fake:
        return FakeEmbedder()
    settings = load_settings()
    return MiniLMEmbedder(threads=threads, onnx_dir=settings.cache_dir / "router" / "onnx")


def run(name: str, other: str, args, embedder) -> dict:
    from assistant.docs.search import DocsSearch

    rows = load(name, args.limit)
    unrelated = [r["summary"] for r in load(other, 200)]
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(rows, embedder, Path(tmp))
        out = {"dataset": FILES[name], **bench.build()}
        search = DocsSearch(bench.store, lambda: embedder)
        out["retrieval"] = bench.evaluate(search)
        out.update(bench.latency_and_floor(search, unrelated))
        out["fusion"] = {"rrf_k": search.rrf_k, "fts_weight": search.fts_weight, "vector_weight": search.vector_weight,
                         "candidates": DEPTH}
        bench.store.close()
    return out


def sweep(args, embedder) -> dict:
    """Recall@5 and MRR@10 of the hybrid for a grid of fusion parameters, on DialogSum validation."""
    from assistant.docs.search import DocsSearch

    rows = load("dialogsum_validation", args.limit)
    grid = []
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(rows, embedder, Path(tmp))
        bench.build()
        base = DocsSearch(bench.store, lambda: embedder)
        cached = [(r, base.keyword_ranking(r["summary"], None, DEPTH), base.vector_ranking(r["summary"], None, DEPTH)[0])
                  for r in rows]
        from assistant.docs.search import fuse

        alone: dict[str, list[int | None]] = {"fts": [], "vector": []}
        for r, kw, vec in cached:
            for mode, ranking in (("fts", kw), ("vector", vec)):
                paths = bench.paths(set(ranking))
                alone[mode].append(rank_of(f"{r['id']}.txt", doc_ranks([paths[c] for c in ranking])))
        for k in (1, 2, 5, 10, 20, 40, 60, 100):
            for w in (0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0):
                ranks = []
                for r, kw, vec in cached:
                    fused, _ = fuse([(kw, 1.0), (vec, w)], k)
                    paths = bench.paths(set(fused[:DEPTH]))
                    ranks.append(rank_of(f"{r['id']}.txt", doc_ranks([paths[c] for c in fused[:DEPTH]])))
                grid.append({"rrf_k": k, "vector_weight": w, **metrics(ranks)})
        bench.store.close()
    grid.sort(key=lambda g: (-g["mrr@10"], -g["recall@5"]))
    return {"dataset": FILES["dialogsum_validation"], "fts_alone": metrics(alone["fts"]),
            "vector_alone": metrics(alone["vector"]), "best": grid[0], "grid": grid}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default="xsum,dialogsum")
    ap.add_argument("--limit", type=int, help="first N items of each data set (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--fake", action="store_true", help="the fake embedder (plumbing check, meaningless figures)")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    embedder = make_embedder(args.threads, args.fake)
    embedder.encode(["warm up"])
    if args.sweep:
        result: dict = sweep(args, embedder)
    else:
        names = [n.strip() for n in args.datasets.split(",") if n.strip()]
        others = {"xsum": "dialogsum", "dialogsum": "xsum"}
        result = {"embedder": embedder.name, "threads": args.threads, "cpus": os.cpu_count(),
                  "results": [run(n, others[n], args, embedder) for n in names]}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
