"""Accuracy of follow-up routing on tests/router/data/multiturn.jsonl with the real MiniLM.

Usage: .venv/bin/python benchmarks/router_multiturn.py   (prints JSON)

Three routers on the same routes: the fake embedder, MiniLM frozen, and MiniLM as the app
runs it (top layers tuned on the routes, ONNX Runtime), side by side.
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
    from assistant.router.data import read_jsonl, routes_from_examples
    from assistant.router.embedders import FakeEmbedder, MiniLMEmbedder

    cases = [json.loads(line) for line in (DATA / "multiturn.jsonl").read_text().splitlines() if line.strip()]
    routes = routes_from_examples(read_jsonl(DATA / "multiturn_routes.jsonl"))
    out: dict[str, object] = {"n_cases": len(cases)}
    with tempfile.TemporaryDirectory() as onnx_tmp:
        minilm = MiniLMEmbedder(threads=2, onnx_dir=Path(onnx_tmp))
        setups = [("fake", FakeEmbedder(), False), ("minilm_frozen", minilm, False), ("minilm_adapted", minilm, True)]
        for name, emb, adapt in setups:
            out[name] = _run(emb, adapt, routes, cases)
    print(json.dumps(out, indent=2))


def _run(emb, adapt, routes, cases) -> dict[str, object]:
    from assistant.backends.base import ChatMessage
    from assistant.router.router import Router

    with tempfile.TemporaryDirectory() as tmp:
        router = Router.build(routes, emb, Path(tmp), adapt=adapt)
        wrong, times = [], []
        for c in cases:
            hist = [ChatMessage(m["role"], m["content"]) for m in c["history"]]
            t0 = time.perf_counter()
            got = router.route(c["text"], hist, c["previous_skill"]).skill_or("chat")
            times.append((time.perf_counter() - t0) * 1000)
            if got != c["expected"]:
                wrong.append({"text": c["text"], "previous": c["previous_skill"], "expected": c["expected"], "got": got})
        times.sort()
        return {"embedder": router.embedder.name, "accuracy": round(1 - len(wrong) / len(cases), 4),
                "latency_ms_p50": round(times[len(times) // 2], 2), "threshold": router.threshold,
                "wrong": wrong}


if __name__ == "__main__":
    main()
