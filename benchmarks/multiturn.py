"""Multi-turn time to first token, with KV reuse on and off, side by side.

A 10-turn conversation (about 1,500 tokens of history by turn 10) is replayed on the
default model. Three runs in one process:

* ``cached``: the backend keeps the conversation's KV state (the product's behaviour);
* ``cached_switching``: before turn 10, another conversation uses the same model and
  another model answers a request, then the conversation comes back;
* ``uncached``: the KV cache is cleared before every turn (what re-reading costs).

Each turn's TTFT is the median of ``--repeats`` replays. JSON out; the target is
turn-10 TTFT <= 1.5 x turn-1 TTFT for both cached runs.

    .venv/bin/python benchmarks/multiturn.py [--repeats 3] [--other gemma-3-270m]
"""

from __future__ import annotations

import argparse
import json
import statistics

from assistant.backends.base import ChatMessage, GenerationRequest
from assistant.backends.llama import LlamaBackend
from assistant.config import load_settings
from assistant.models.store import ModelStore

SYSTEM = ChatMessage("system", "You are a helpful assistant running on a laptop.")
TOPICS = ["sorting algorithms", "the water cycle", "binary search trees", "photosynthesis", "TCP handshakes",
          "compound interest", "the French revolution", "garbage collection", "plate tectonics", "HTTP caching"]


def user_turn(i: int) -> ChatMessage:
    return ChatMessage("user", f"Question {i}: please explain {TOPICS[i % len(TOPICS)]} in a few sentences, "
                               "with one concrete example and one common misconception people have about it.")


def assistant_turn(i: int) -> ChatMessage:
    topic = TOPICS[i % len(TOPICS)]
    return ChatMessage("assistant", f"Here is a short explanation of {topic}. " + (
        f"The key idea behind {topic} is easy to state but has subtle consequences in practice. "
        "A concrete example makes it clearer, and a common misconception is to over-simplify it. ") * 3)


def ttft(backend: LlamaBackend, messages: list[ChatMessage], key: str | None) -> float:
    gen = backend.stream(GenerationRequest(messages=messages, max_tokens=1, temperature=0.0, cache_key=key))
    gen.text()
    return gen.result.ttft_ms or 0.0


def conversation(turn: int) -> list[ChatMessage]:
    msgs = [SYSTEM]
    for i in range(1, turn):
        msgs += [user_turn(i), assistant_turn(i)]
    return msgs + [user_turn(turn)]


def run(backend: LlamaBackend, *, cached: bool, switch=None) -> dict[int, float]:
    """TTFT per turn for one replay of the conversation."""
    backend.llm.reset()
    backend._saved.clear()
    backend._active_key = None
    out = {}
    for turn in range(1, 11):
        if not cached:
            backend.llm.reset()
        if switch and turn == 10:
            switch()
        out[turn] = ttft(backend, conversation(turn), "bench-A" if cached else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--other", default="gemma-3-270m", help="the model routed to between turns 9 and 10")
    args = ap.parse_args()
    settings = load_settings()
    store = ModelStore(settings)
    name = settings.default_model
    threads = settings.runtime.n_threads
    main_b = LlamaBackend(name, store.ensure_ready(name), settings.model(name), n_threads=threads, state_cache=4)
    other = LlamaBackend(args.other, store.ensure_ready(args.other), settings.model(args.other), n_threads=threads)

    def switch() -> None:
        # Another conversation on the same model, then a turn on another model.
        ttft(main_b, [SYSTEM, ChatMessage("user", "Unrelated: list three prime numbers and say why they are prime.")], "bench-B")
        ttft(other, [ChatMessage("user", "Say something short about the sea.")], "bench-B")

    runs: dict[str, list[dict[int, float]]] = {"cached": [], "cached_switching": [], "uncached": []}
    for _ in range(args.repeats):
        runs["cached"].append(run(main_b, cached=True))
        runs["cached_switching"].append(run(main_b, cached=True, switch=switch))
        runs["uncached"].append(run(main_b, cached=False))
    medians = {k: {t: statistics.median(r[t] for r in v) for t in range(1, 11)} for k, v in runs.items()}
    history_tokens = main_b.count_messages(conversation(10)) - main_b.count_messages([SYSTEM, user_turn(10)])
    result = {
        "model": name,
        "other_model": args.other,
        "threads": threads,
        "repeats": args.repeats,
        "turn10_history_tokens": history_tokens,
        "turn10_prompt_tokens": main_b.count_messages(conversation(10)),
    }
    for k, m in medians.items():
        result[k] = {
            "turn1_ttft_ms": round(m[1], 1),
            "turn10_ttft_ms": round(m[10], 1),
            "ratio_turn10_over_turn1": round(m[10] / m[1], 2),
            "ttft_ms_by_turn": {t: round(v, 1) for t, v in m.items()},
        }
    result["speedup_turn10_cached_vs_uncached"] = round(medians["uncached"][10] / medians["cached"][10], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
