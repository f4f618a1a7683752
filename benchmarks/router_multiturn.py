"""Accuracy of follow-up routing on tests/router/data/multiturn.jsonl with the real MiniLM.

Usage: .venv/bin/python benchmarks/router_multiturn.py   (prints JSON)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "router" / "data"


def main() -> None:
    from assistant.backends.base import ChatMessage
    from assistant.router.data import read_jsonl, routes_from_examples
    from assistant.router.embedders import FakeEmbedder, MiniLMEmbedder
    from assistant.router.router import Router

    cases = [json.loads(l) for l in (DATA / "multiturn.jsonl").read_text().splitlines() if l.strip()]
    routes = routes_from_examples(read_jsonl(DATA / "multiturn_routes.jsonl"))
    out: dict[str, object] = {"n_cases": len(cases)}
    for emb in (FakeEmbedder(), MiniLMEmbedder(threads=2)):
        with tempfile.TemporaryDirectory() as tmp:
            router = Router.build(routes, emb, Path(tmp))
            wrong, times = [], []
            for c in cases:
                hist = [ChatMessage(m["role"], m["content"]) for m in c["history"]]
                t0 = time.perf_counter()
                got = router.route(c["text"], hist, c["previous_skill"]).skill_or("chat")
                times.append((time.perf_counter() - t0) * 1000)
                if got != c["expected"]:
                    wrong.append({"text": c["text"], "previous": c["previous_skill"], "expected": c["expected"], "got": got})
            times.sort()
            out[emb.name] = {"accuracy": 1 - len(wrong) / len(cases), "latency_ms_p50": times[len(times) // 2],
                             "threshold": router.threshold, "wrong": wrong}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
