"""A child process for the crash, disk-full and two-process tests.

``python worker.py write DB N``      add N messages, printing ``ack <id>`` after each returns.
``python worker.py fill DB LIMIT``   cap the file size at LIMIT bytes (RLIMIT_FSIZE) and
                                     write until the store refuses; prints one JSON line.
``python worker.py read DB SECONDS`` export, list and search in a loop; prints JSON.
"""

from __future__ import annotations

import io
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path

from assistant.errors import AssistantError
from assistant.memory.store import Store


def write(db: Path, n: int) -> None:
    store = Store.open(db)
    cid = store.create_conversation("crash test")
    print(f"conv {cid}", flush=True)
    for i in range(n):
        mid = store.add_message(cid, "user", f"message {i} " + "x" * (i % 50))
        print(f"ack {mid}", flush=True)
        rid = store.start_reply(cid, model="fake")
        store.finish_reply(rid, f"reply {i}", "complete")
        print(f"ack {rid}", flush=True)


def fill(db: Path, limit: int) -> None:
    store = Store.open(db)
    cid = store.create_conversation("fill")
    # Without this, exceeding the limit kills the process with SIGXFSZ instead of
    # returning EFBIG from write(), which is what a full disk looks like to SQLite.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    acked = 0
    try:
        for i in range(100_000):
            store.add_message(cid, "user", f"{i} " + os.urandom(2000).hex())
            acked += 1
    except AssistantError as exc:
        still_reads = len(store.messages(cid))
        # "Space is freed": the same store must save again without being reopened.
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
        store.add_message(cid, "user", "after space was freed")
        print(json.dumps({"error": exc.message, "hint": exc.hint, "type": type(exc).__name__,
                          "acked": acked + 1, "readable": still_reads}), flush=True)
        return
    print(json.dumps({"error": None, "acked": acked}), flush=True)


def read(db: Path, seconds: float) -> None:
    store = Store.open(db)
    rounds = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        buf = io.StringIO()
        store.export_all(buf)
        store.list_conversations()
        store.search("message")
        rounds += 1
    print(json.dumps({"rounds": rounds}), flush=True)


if __name__ == "__main__":
    mode, path, arg = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    {"write": lambda: write(path, int(arg)), "fill": lambda: fill(path, int(arg)),
     "read": lambda: read(path, float(arg))}[mode]()
