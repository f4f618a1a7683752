"""Conversation store speed: per-message commit latency (synchronous=FULL) and full-text
search over 100,000 stored messages.

    python benchmarks/store_bench.py [--messages 100000] [--commits 500] [--runs 3] [--dir DIR] [--tmpfs [PATH]]

Prints one JSON object. Each figure is the median over ``--runs`` runs. Use a ``--dir`` on
the disk the data dir lives on (commit latency is an fsync; a tmpfs would flatter it).
Targets (docs BENCHMARKS.md): commit p99 <= 5 ms, search p50 <= 20 ms. A durable commit
cannot beat the disk's own fsync, so a raw 4 KB write+fsync is measured alongside, in the
same runs, as the floor. ``--tmpfs`` (default /dev/shm) also runs the commit benchmark with
the database on a RAM-backed tmpfs, interleaved with the disk runs: fsync there costs almost
nothing, so that figure is the store's own software overhead per commit, reported beside
the disk figure and the disk's fsync floor.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.memory.store import Store, new_id, now_iso

VOCAB_SIZE = 20_000


def vocabulary(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCAB_SIZE:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def zipf_text(rng: random.Random, vocab: list[str], weights: list[float], n: int) -> str:
    return " ".join(rng.choices(vocab, cum_weights=weights, k=n))


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def bench_commits(root: Path, n: int) -> dict[str, float]:
    """Each add_message is a committed, fsynced transaction; measure them one by one."""
    path = root / f"commit-{time.monotonic_ns()}.db"
    store = Store.open(path)
    cid = store.create_conversation("bench")
    lat = []
    text = "a typical user message of a few dozen words " * 4
    for i in range(n):
        t = time.perf_counter()
        if i % 2:
            rid = store.start_reply(cid, skill="chat", model="qwen")
            store.finish_reply(rid, text, "complete", prompt_tokens=100, completion_tokens=40)
        else:
            store.add_message(cid, "user", text)
        lat.append((time.perf_counter() - t) * 1000 / (2 if i % 2 else 1))
    store.close()
    return {"p50_ms": statistics.median(lat), "p99_ms": percentile(lat, 0.99), "max_ms": max(lat)}


def bench_fsync(root: Path, n: int) -> dict[str, float]:
    """The floor under any durable commit on this disk: write 4 KB, fsync, one by one."""
    path = root / "fsync.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    lat = []
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t = time.perf_counter()
            os.fsync(fd)
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return {"p50_ms": statistics.median(lat), "p99_ms": percentile(lat, 0.99), "max_ms": max(lat)}


def build_corpus(path: Path, n: int, rng: random.Random, vocab: list[str], weights: list[float]) -> Store:
    store = Store.open(path)
    convs = [new_id() for _ in range(max(1, n // 20))]

    def fill(c) -> None:
        now = now_iso()
        c.executemany("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)",
                      [(cid, f"conversation {i}", now, now) for i, cid in enumerate(convs)])
        c.executemany(
            "INSERT INTO messages (id, conversation_id, role, content, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            ((new_id(), convs[i // 20], "user" if i % 2 == 0 else "assistant",
              zipf_text(rng, vocab, weights, rng.randint(10, 80)), "complete", now) for i in range(n)))

    store.transaction(fill)
    return store


def bench_search(store: Store, queries: list[str]) -> dict[str, float]:
    lat, hits = [], 0
    for q in queries:
        t = time.perf_counter()
        hits += len(store.search(q, limit=20))
        lat.append((time.perf_counter() - t) * 1000)
    return {"p50_ms": statistics.median(lat), "p99_ms": percentile(lat, 0.99), "mean_hits": hits / len(queries)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--commits", type=int, default=500)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None, help="where to put the benchmark databases")
    ap.add_argument("--tmpfs", type=Path, nargs="?", const=Path("/dev/shm"), default=None,
                    help="also time commits with the database on this tmpfs (default /dev/shm)")
    args = ap.parse_args()
    rng = random.Random(7)
    vocab = vocabulary(rng)
    weights = list(itertools.accumulate(1 / (r + 1) for r in range(len(vocab))))  # cumulative Zipf
    if args.tmpfs is not None and not args.tmpfs.is_dir():
        ap.error(f"--tmpfs {args.tmpfs} is not a folder")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp, \
            tempfile.TemporaryDirectory(dir=args.tmpfs or args.dir) as ram:
        root = Path(tmp)
        commits, fsyncs, ram_commits = [], [], []
        for _ in range(args.runs):  # alternate, so all see the same machine weather
            commits.append(bench_commits(root, args.commits))
            fsyncs.append(bench_fsync(root, args.commits))
            if args.tmpfs is not None:
                ram_commits.append(bench_commits(Path(ram), args.commits))
        t = time.perf_counter()
        store = build_corpus(root / "search.db", args.messages, rng, vocab, weights)
        build_s = time.perf_counter() - t
        # Common, middling and rare words, and two-word queries, as a user would type them.
        ranks = [rng.choice(r) for r in (range(0, 50), range(50, 2000), range(2000, VOCAB_SIZE))
                 for _ in range(args.queries // 4)]
        queries = [vocab[r] for r in ranks]
        queries += [f"{vocab[rng.randrange(200)]} {vocab[rng.randrange(2000)]}" for _ in range(args.queries // 4)]
        searches = [bench_search(store, queries) for _ in range(args.runs)]
        size_mb = (root / "search.db").stat().st_size / 1e6
        store.close()

    def med(rows: list[dict[str, float]], key: str) -> float:
        return round(statistics.median(r[key] for r in rows), 3)

    out = {
        "commit": {"runs": args.runs, "messages_per_run": args.commits, "synchronous": "FULL",
                   "p50_ms": med(commits, "p50_ms"), "p99_ms": med(commits, "p99_ms"), "max_ms": med(commits, "max_ms"),
                   "target_p99_ms": 5.0},
        "fsync_4k_baseline": {"p50_ms": med(fsyncs, "p50_ms"), "p99_ms": med(fsyncs, "p99_ms"),
                              "max_ms": med(fsyncs, "max_ms")},
        "search": {"runs": args.runs, "stored_messages": args.messages, "queries": len(queries),
                   "p50_ms": med(searches, "p50_ms"), "p99_ms": med(searches, "p99_ms"),
                   "mean_hits": med(searches, "mean_hits"), "target_p50_ms": 20.0,
                   "build_s": round(build_s, 1), "db_mb": round(size_mb, 1)},
    }
    out["commit"]["meets_target"] = out["commit"]["p99_ms"] <= 5.0
    out["commit"]["p99_ratio_to_raw_fsync_p99"] = round(out["commit"]["p99_ms"] / out["fsync_4k_baseline"]["p99_ms"], 2)
    out["search"]["meets_target"] = out["search"]["p50_ms"] <= 20.0
    if ram_commits:
        out["commit_tmpfs"] = {"dir": str(args.tmpfs), "runs": args.runs, "messages_per_run": args.commits,
                               "synchronous": "FULL", "p50_ms": med(ram_commits, "p50_ms"),
                               "p99_ms": med(ram_commits, "p99_ms"), "max_ms": med(ram_commits, "max_ms")}
        # Side by side: disk commit = software overhead (tmpfs) + what the disk's fsyncs add.
        out["commit_side_by_side"] = {
            "disk_p99_ms": out["commit"]["p99_ms"], "tmpfs_p99_ms": out["commit_tmpfs"]["p99_ms"],
            "fsync_floor_p99_ms": out["fsync_4k_baseline"]["p99_ms"],
            "disk_p50_ms": out["commit"]["p50_ms"], "tmpfs_p50_ms": out["commit_tmpfs"]["p50_ms"],
            "fsync_floor_p50_ms": out["fsync_4k_baseline"]["p50_ms"],
            "software_meets_target_p99": out["commit_tmpfs"]["p99_ms"] <= 5.0,
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
