"""Decode overhead: raw ``Llama.generate`` vs the project's streaming path, side by side.

Both run in this one process on the same model file and thread count, alternating, several
rounds; the JSON has medians of each and their ratio (target >= 0.95), time to first token,
load time and peak RSS.

    .venv/bin/python benchmarks/decode.py [--model NAME] [--tokens 128] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

from assistant.backends.base import ChatMessage, GenerationRequest
from assistant.backends.llama import LlamaBackend
from assistant.config import load_settings
from assistant.models.store import ModelStore

PROMPT = "Write a detailed explanation of how a hash map works, with an example in Python."


def raw_decode(llm, tokens: list[int], n: int) -> tuple[float, float]:
    """Tokens/s after the first token, and time to first token (ms), with raw generate."""
    llm.reset()
    start = time.perf_counter()
    first = None
    count = 0
    for _tok in llm.generate(tokens, temp=0.0, top_k=40, top_p=0.95, repeat_penalty=1.1):
        count += 1
        if first is None:
            first = time.perf_counter()
        if count >= n:
            break
    end = time.perf_counter()
    return (count - 1) / (end - first), (first - start) * 1000


def pipeline_decode(backend: LlamaBackend, n: int) -> tuple[float, float]:
    backend.llm.reset()
    req = GenerationRequest([ChatMessage("user", PROMPT)], max_tokens=n, temperature=0.0, stop=[])
    gen = backend.stream(req)
    gen.text()
    r = gen.result
    return r.tokens_per_s or 0.0, r.ttft_ms or 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", default=None)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    settings = load_settings()
    name = args.model or settings.default_model
    spec = settings.model(name)
    path = ModelStore(settings).ensure_ready(name)
    threads = settings.runtime.n_threads

    t0 = time.perf_counter()
    backend = LlamaBackend(name, path, spec, n_threads=threads, state_cache=0)
    load_s = time.perf_counter() - t0
    # The raw path uses the very same Llama object, so weights and threads are identical.
    llm = backend.llm
    prompt_tokens = backend.tokenize_prompt(backend.render([ChatMessage("user", PROMPT)]))

    raw, ours, raw_ttft, our_ttft = [], [], [], []
    pipeline_decode(backend, 8)  # warm-up
    for _ in range(args.rounds):
        r, t = raw_decode(llm, prompt_tokens, args.tokens)
        raw.append(r)
        raw_ttft.append(t)
        o, t = pipeline_decode(backend, args.tokens)
        ours.append(o)
        our_ttft.append(t)
    med_raw, med_ours = statistics.median(raw), statistics.median(ours)
    print(json.dumps({
        "model": name,
        "threads": threads,
        "tokens_per_round": args.tokens,
        "rounds": args.rounds,
        "load_s": round(load_s, 3),
        "raw_generate_tok_s_median": round(med_raw, 2),
        "pipeline_tok_s_median": round(med_ours, 2),
        "ratio_pipeline_over_raw": round(med_ours / med_raw, 3),
        "ratios_per_round": [round(o / r, 3) for o, r in zip(ours, raw, strict=True)],
        "raw_ttft_ms_median": round(statistics.median(raw_ttft), 1),
        "pipeline_ttft_ms_median": round(statistics.median(our_ttft), 1),
        "prompt_tokens": len(prompt_tokens),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
