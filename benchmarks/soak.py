"""Soak `assistant serve`: hundreds of requests on loopback, server memory sampled, store checked.

Usage:
    .venv/bin/python benchmarks/soak.py [--requests 300] [--concurrency 4] [--max-seconds 600] [--real]

The server runs in a child process (the real pipeline: store, router, skills; fake models
unless ``--real``) with its own ASSISTANT_HOME. Requests mix routed and pinned skills,
streamed and not, and every tenth streamed one is dropped after its first chunk. The
child's RSS is read from /proc every half second. At the end the server is stopped with
SIGTERM and its SQLite file is checked: every request's message is stored exactly once,
followed by exactly one reply, and integrity_check is ok. Prints JSON.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(real: bool) -> None:
    """The server process: print the URL, serve until SIGTERM."""
    from assistant.cli.serve_cmd import run_until_stopped
    from assistant.config import load_settings
    from assistant.pipeline import build_pipeline
    from assistant.server.runner import make_server

    settings = load_settings()
    pipeline = build_pipeline(settings, fake=not real)
    server = make_server(pipeline, "127.0.0.1", 0, options=settings.server, verbose=False)
    pipeline.start()
    print(server.url, flush=True)
    run_until_stopped(server, pipeline)


WARMUP = 20


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def request(host: str, port: int, i: int, real: bool) -> dict[str, object]:
    """One request; returns what was sent and how it went."""
    kind = ("routed-calc", "pinned-chat", "routed-chat", "pinned-calc")[i % 4]  # warm-up i < 0
    text = {"routed-calc": f"what is {i} * 7", "pinned-calc": f"what is {i} + 1",
            "pinned-chat": f"say hello to visitor {i}", "routed-chat": f"tell me something nice, visitor {i}"}[kind]
    model = "assistant/calculator" if kind == "pinned-calc" else "assistant/chat" if kind == "pinned-chat" else "assistant"
    stream = i % 2 == 0
    drop = stream and i % 10 == 0
    body = {"model": model, "stream": stream, "messages": [{"role": "user", "content": text}]}
    if real:
        body["max_tokens"] = 16
    conn = http.client.HTTPConnection(host, port, timeout=300)
    t0 = time.perf_counter()
    try:
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        ok = resp.status == 200
        if drop:
            resp.readline()  # first chunk, then hang up
        else:
            resp.read()
    except (OSError, http.client.HTTPException) as exc:
        return {"text": text, "ok": False, "error": repr(exc), "dropped": drop}
    finally:
        conn.close()
    return {"text": text, "ok": ok, "dropped": drop, "ms": (time.perf_counter() - t0) * 1000}


def check_store(db: Path, sent: list[dict[str, object]]) -> dict[str, object]:
    conn = sqlite3.connect(db)
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    rows = conn.execute("SELECT id, conversation_id, role, content, status FROM messages ORDER BY rowid").fetchall()
    conn.close()
    by_conv: dict[str, list[tuple]] = {}
    for row in rows:
        by_conv.setdefault(row[1], []).append(row)
    users: dict[str, int] = {}
    replies_after: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for msgs in by_conv.values():
        for k, (_id, _c, role, content, status) in enumerate(msgs):
            if role == "user":
                users[content] = users.get(content, 0) + 1
                nxt = msgs[k + 1] if k + 1 < len(msgs) else None
                replies_after[content] = int(nxt is not None and nxt[2] == "assistant")
            else:
                statuses[status] = statuses.get(status, 0) + 1
    texts = [str(s["text"]) for s in sent]
    lost = [t for t in texts if users.get(t, 0) == 0]
    duplicated = [t for t in texts if users.get(t, 0) > 1]
    no_reply = [t for t in texts if users.get(t, 0) and not replies_after.get(t)]
    return {"integrity_check": integrity, "messages": len(rows), "lost": len(lost), "duplicated": len(duplicated),
            "without_reply": len(no_reply), "reply_statuses": statuses, "examples_lost": lost[:3]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--real", action="store_true", help="the real default models instead of fakes")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.real)
        return
    print(json.dumps(soak(args.requests, args.concurrency, args.max_seconds, args.real), indent=2))


def soak(n: int, concurrency: int, max_seconds: float, real: bool) -> dict[str, object]:
    """Run the soak and return its figures (also used by tests/server/test_soak.py)."""
    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "config.toml").write_text("")  # the repo's defaults only, not the user's config
        env = dict(os.environ, ASSISTANT_HOME=home, ASSISTANT_CONFIG=str(Path(home) / "config.toml"))
        if real:  # models are shared, not re-pulled into the temporary home
            from assistant.config import load_settings

            env["ASSISTANT_MODELS_DIR"] = str(load_settings().model_dir)
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child"] + (["--real"] if real else [])
        log = open(Path(home) / "server.log", "w")
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            url = proc.stdout.readline().strip()
            if not url.startswith("http://"):
                proc.wait(30)
                raise SystemExit("the server did not start:\n" + (Path(home) / "server.log").read_text()[-2000:])
            host, port = url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
            samples: list[tuple[float, float]] = []
            done = threading.Event()
            started = time.perf_counter()

            def sample() -> None:
                while not done.is_set():
                    value = rss_mb(proc.pid)
                    if value is not None:
                        samples.append((time.perf_counter() - started, value))
                    done.wait(0.5)

            # Warm-up: the first requests import and build things (router, skills, templates);
            # memory is sampled after them, so growth means a leak, not start-up.
            warm = min(WARMUP, n)
            sent: list[dict[str, object]] = [request(host, int(port), -1 - i, real) for i in range(warm)]
            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            deadline = started + max_seconds
            with ThreadPoolExecutor(concurrency) as pool:
                futures = []
                for i in range(n):
                    if time.perf_counter() > deadline:
                        break
                    futures.append(pool.submit(request, host, int(port), i, real))
                sent += [f.result() for f in futures]
            duration = time.perf_counter() - started
            time.sleep(1.0)  # let dropped streams finish being stored
            done.set()
            sampler.join()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
        store = check_store(Path(home) / "assistant.db", sent)
    values = [v for _, v in samples]
    quarter = max(1, len(values) // 4)
    return {
        "requests": len(sent),
        "real_models": real,
        "errors": sum(1 for s in sent if not s["ok"] and not s["dropped"]),
        "dropped_mid_stream": sum(1 for s in sent if s["dropped"]),
        "duration_s": round(duration, 1),
        "request_ms_p50": round(statistics.median([float(s["ms"]) for s in sent if "ms" in s] or [0]), 1),
        "rss_mb": {"start": round(values[0], 1), "median": round(statistics.median(values), 1),
                   "end": round(values[-1], 1), "max": round(max(values), 1)} if values else None,
        "rss_growth_mb": round(statistics.median(values[-quarter:]) - statistics.median(values[:quarter]), 1)
        if values else None,
        "rss_samples": len(values),
        "store": store,
    }


if __name__ == "__main__":
    main()
