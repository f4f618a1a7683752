"""Built-in skills with the real router (MiniLM) and the real default model, in-process."""

from __future__ import annotations

import csv
import json

import pytest

from assistant.events import ReplyFailed, ReplyFinished, RouteDecided
from assistant.pipeline import build_pipeline

pytestmark = [pytest.mark.real_model, pytest.mark.real_embedder]

# Requests worded differently from every skill's own examples.
HELD_OUT = {
    "calculator": ["how much is 37 times 12", "what is 250 divided by 8"],
    "datetime": ["what's the date next friday", "what time is it in london right now"],
    "code": ["write a javascript function that debounces another function", "how do I sort a dict by value in python"],
    "notes": ["please remember that my locker code is 4312", "show me everything on my to-do list"],
    "summarize": ["sum up this paragraph in two sentences: the meeting covered budget and hiring", "summarize notes.md for me"],
    "extract": ["pull the names and phone numbers out of people.csv as json", "convert orders.xlsx into a csv with id and total"],
    "classify": ["label each row of tickets.csv as bug or feature", "which language is this sentence written in: obrigado pela ajuda"],
    "sentiment": ["is this review positive or negative: the hotel was dirty and loud", "how does this comment feel: best purchase ever"],
    "chat": ["what are some good habits for better sleep", "tell me something interesting about the roman empire"],
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    import os
    from pathlib import Path

    from platformdirs import user_data_dir

    from assistant.config import load_settings
    from assistant.models.store import ModelStore

    models = os.environ.get("ASSISTANT_TEST_MODELS_DIR") or str(Path(user_data_dir("assistant", appauthor=False)) / "models")
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("ASSISTANT_")]:
            mp.delenv(key)
        empty = tmp_path_factory.mktemp("cfg") / "config.toml"
        empty.write_text("")
        mp.setenv("ASSISTANT_CONFIG", str(empty))
        settings = load_settings(overrides={"models_dir": models, "home": str(tmp_path_factory.mktemp("home"))})
    if ModelStore(settings).status(settings.default_model).status != "ok":
        pytest.fail("the default model is not installed: run `make setup`")
    p = build_pipeline(settings)
    p.start()
    assert p.router.wait_ready(300), p.router.state
    yield p
    p.close()


def test_held_out_requests_reach_their_skill(pipeline):
    wrong = []
    for skill, texts in HELD_OUT.items():
        for text in texts:
            got = pipeline.explain(None, text).skill
            if got != skill:
                wrong.append((text, skill, got))
    total = sum(len(t) for t in HELD_OUT.values())
    assert len(wrong) <= total // 6, wrong  # at least 5 in 6 held-out requests reach their skill
    reached = {s for s, texts in HELD_OUT.items() if any((t, s) not in {(w[0], w[1]) for w in wrong} for t in texts)}
    assert reached == set(HELD_OUT), wrong


def _turn(pipeline, text, **kw):
    events = list(pipeline.run_turn(None, text, **kw))
    final = events[-1]
    assert isinstance(final, (ReplyFinished, ReplyFailed))
    return [e for e in events if isinstance(e, RouteDecided)], final


def test_extract_from_text_gives_schema_valid_json_on_the_real_model(pipeline):
    _route, final = _turn(pipeline, "extract name, city as json: Alice lives in Paris and Bob lives in Oslo.",
                          skill="extract", generation={"max_tokens": 200, "temperature": 0.0})
    assert isinstance(final, ReplyFinished), final
    start = final.text.index("[")
    records = json.loads(final.text[start: final.text.rindex("]") + 1])
    assert isinstance(records, list) and len(records) >= 1
    assert all(set(r) >= {"name", "city"} for r in records)


def test_classify_file_counts_rows_and_writes_result_beside_input(pipeline, tmp_path):
    tmp_path = tmp_path / "data"
    tmp_path.mkdir()
    src = tmp_path / "reviews.csv"
    src.write_text("id,review\n1,I love this phone\n2,Terrible battery and slow\n3,Arrived on Tuesday\n")
    _route, final = _turn(pipeline, f"classify the sentiment of each review in {src}", skill="classify",
                          attachments=(src,), generation={"temperature": 0.0})
    assert isinstance(final, ReplyFinished), final
    written = [p for p in tmp_path.iterdir() if p != src]
    assert len(written) == 1 and src.read_text().startswith("id,review")  # input untouched
    rows = list(csv.DictReader(written[0].open()))
    assert len(rows) == 3 and all(r["label"].strip() for r in rows)


def test_sentiment_runs_the_tuned_adapter(pipeline):
    routes, final = _turn(pipeline, "is this review positive or negative: the soup was cold and the waiter rude")
    assert routes[0].route.skill == "sentiment"
    assert routes[0].adapter and routes[0].adapter.endswith(".lora.gguf")
    assert isinstance(final, ReplyFinished) and final.text.strip() in {"positive", "negative", "neutral"}


def test_the_app_routes_single_queries_through_onnx_runtime(pipeline):
    router = pipeline.router.router
    fast = router.embedder.onnx
    assert fast is not None and fast.path.is_file()
    assert fast.path.is_relative_to(pipeline.settings.cache_dir / "router" / "onnx")
    assert router.base_embedder.onnx is not None  # memory recall's queries take it too
    assert pipeline.router.state[1].endswith("ONNX Runtime int8")  # the status line says so ([router] int8)
    assert pipeline.explain(None, "what is 12 times 7").skill == "calculator"
