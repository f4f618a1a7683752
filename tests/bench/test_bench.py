"""Benchmark harness: adapters, metrics, the sandbox, and runs through real skills on a fake backend."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from assistant.backends.fake import FakeBackend
from assistant.backends.manager import ModelManager
from assistant.bench import find_benchmark, read_rows, registered, run_benchmark, sample
from assistant.bench.builtin import code_from_reply, humaneval_program, pick_letter
from assistant.bench.metrics import bootstrap, label_metrics, micro_f1, normalize_answer, rouge
from assistant.bench.sandbox import run_python
from assistant.errors import SkillError
from assistant.skills.structured import match_label
from assistant.tuning.runner import Candidate

NEWS = [("Stocks fell as oil prices rose to a record", "Business"),
        ("The striker scored twice in the cup final", "Sports"),
        ("A new chip doubles battery life in phones", "Sci/Tech"),
        ("Leaders met in Geneva to discuss the ceasefire", "World")] * 5

SNIPS = [{"text": "add sabrina salerno to the grime instrumentals playlist", "intent": "AddToPlaylist",
          "slots": {"artist": "sabrina salerno", "playlist": "grime instrumentals"}},
         {"text": "play the new album by daft punk on spotify", "intent": "PlayMusic",
          "slots": {"artist": "daft punk", "service": "spotify", "sort": "new"}},
         {"text": "book a table for four at a sushi bar", "intent": "BookRestaurant",
          "slots": {"party_size_number": "four", "restaurant_type": "sushi bar"}},
         {"text": "play some jazz from the seventies", "intent": "PlayMusic",
          "slots": {"genre": "jazz", "year": "seventies"}}]


def _write(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _manager(settings, script) -> tuple[ModelManager, list[FakeBackend]]:
    backends: list[FakeBackend] = []

    def factory(model, adapter):
        backends.append(FakeBackend(model, script=script))
        return backends[-1]

    return ModelManager(settings, factory=factory), backends


def _items(settings, tmp_path, name: str, rows: list[dict], skill: str, limit: int | None = None, seed: int = 0):
    bench = find_benchmark(_write(tmp_path, name, rows), skill)
    rows = read_rows(tmp_path / name)
    rows = bench.prepare(rows) if bench.prepare else rows
    return bench, bench.items(sample(rows, limit, seed) if limit else rows, seed=seed)


# Metrics ----------------------------------------------------------------------------------
def test_metrics_match_their_definitions():
    assert micro_f1(3, 1, 2) == pytest.approx({"precision": 0.75, "recall": 0.6, "f1": 2 * 0.75 * 0.6 / 1.35})
    m = label_metrics(["a", "a", "b", "c"], ["a", "b", "b", ""], ["a", "b", "c"])
    assert m["accuracy"] == 0.5
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert rouge("the cat sat on the mat", "the cat sat on the mat")["rougeL"] == pytest.approx(1.0)
    assert 0 < rouge("the cat sat on the mat", "a cat was sitting")["rouge1"] < 1
    assert normalize_answer("The  Beatles!") == "beatles"


def test_bootstrap_interval_brackets_the_estimate_and_narrows_with_more_items():
    def agg(scores):
        return {"acc": sum(s["x"] for s in scores) / len(scores)}

    small = [{"x": float(i % 2)} for i in range(20)]
    large = [{"x": float(i % 2)} for i in range(400)]
    lo, hi = bootstrap(small, agg)["acc"]
    lo2, hi2 = bootstrap(large, agg)["acc"]
    assert lo < 0.5 < hi and lo2 < 0.5 < hi2
    assert hi2 - lo2 < (hi - lo) / 2


# Sandbox ----------------------------------------------------------------------------------
def test_sandbox_passes_fails_and_stops_runaway_code():
    assert run_python("assert 1 + 1 == 2").passed
    failed = run_python("assert 1 + 1 == 3")
    assert not failed.passed and failed.status == "failed" and "AssertionError" in failed.detail
    t0 = time.monotonic()
    loop = run_python("while True: pass", timeout_s=2)
    assert loop.status == "timeout" and time.monotonic() - t0 < 6
    assert not run_python("x = bytearray(4 * 2**30)", memory_mb=512).passed


def test_sandbox_has_no_network_and_no_inherited_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "abc")
    assert not run_python("import socket; socket.create_connection(('127.0.0.1', 9))").passed
    assert run_python("import os; assert 'SECRET_TOKEN' not in os.environ").passed
    assert run_python(f"import os; assert os.getcwd() != {str(Path.cwd())!r}").passed


# Adapters ---------------------------------------------------------------------------------
def test_builtin_benchmarks_are_found_by_file_name(tmp_path):
    names = registered()
    assert {"humaneval", "snips", "agnews", "tweeteval-emotion", "dialogsum", "xsum", "nq-open", "arc-challenge"} <= set(names)
    assert find_benchmark(Path("agnews_test.jsonl"), "classify").name == "agnews"
    assert find_benchmark(Path("snips_test.jsonl"), "extract").name == "snips"
    with pytest.raises(SkillError, match="no benchmark of skill 'code'"):
        find_benchmark(Path("agnews_test.jsonl"), "code")


def test_classify_requests_shuffle_labels_and_the_skill_reads_them_back(settings, tmp_path):
    import importlib.util

    from assistant.skills.loader import BUILTIN_SKILLS_DIR

    spec = importlib.util.spec_from_file_location("classify_skill", BUILTIN_SKILLS_DIR / "classify" / "skill.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bench, items = _items(settings, tmp_path, "agnews_test.jsonl", [{"text": t, "label": y} for t, y in NEWS], "classify")
    orders = {tuple(i.extra["labels"]) for i in items}
    assert len(orders) > 3, "label order must vary between items"
    for item, (text, _) in zip(items, NEWS, strict=False):
        task, labels, body = module.read_request(item.text)
        assert task == "labels" and labels == item.extra["labels"]  # 'Sci/Tech' stays one label
        assert body == text


def test_label_matching_and_letter_picking():
    labels = ["World", "Sports", "Business", "Sci/Tech"]
    assert match_label("sci/tech.", labels) == "Sci/Tech"
    assert match_label("The answer is Sports", labels) == "Sports"
    assert match_label("World news, not sports", labels) == "World"  # the earliest label named
    assert match_label("technology", labels) is None
    assert pick_letter("B. Planetary years", ["A", "B", "C", "D"], ["x", "Planetary years", "y", "z"]) == "B"
    assert pick_letter("The answer is (C)", ["A", "B", "C", "D"], ["w", "x", "y", "z"]) == "C"
    assert pick_letter("I think it is the one about gravity", ["A", "B"], ["density", "gravity"]) == "B"


def test_humaneval_program_runs_a_whole_function_or_a_completed_body():
    prompt = "from typing import List\n\n\ndef add(xs: List[int]) -> int:\n    \"\"\"Sum.\"\"\"\n"
    from assistant.bench.base import BenchItem

    item = BenchItem("t/0", "", "add", {"prompt": prompt, "test": "def check(f):\n    assert f([1, 2]) == 3\n"})
    whole = "Here you go:\n```python\ndef add(xs: List[int]) -> int:\n    return sum(xs)\n```\nDone."
    assert code_from_reply(whole).strip().startswith("def add")
    assert run_python(humaneval_program(whole, item)).passed  # the prompt's imports come along
    assert run_python(humaneval_program("```python\n    return sum(xs)\n```", item)).passed
    assert not run_python(humaneval_program("```python\ndef add(xs):\n    return 0\n```", item)).passed


# Runs through the real skills on the fake backend ------------------------------------------
def test_classify_bench_scores_an_oracle_perfectly_and_a_first_label_model_at_chance(settings, tmp_path):
    gold = {t: y for t, y in NEWS}
    bench, items = _items(settings, tmp_path, "agnews_test.jsonl", [{"text": t, "label": y} for t, y in NEWS], "classify")

    def oracle(request):
        return gold[request.messages[-1].content.split("\n\nLabel (")[0]]

    def first(request):
        return re.search(r"Labels: ([^,.]+)", request.messages[0].content)[1]

    for script, low, high in ((oracle, 1.0, 1.0), (first, 0.0, 0.6)):
        manager, backends = _manager(settings, script)
        run = run_benchmark(settings, bench, items, [Candidate("fake", "qwen2.5-coder-0.5b")], progress=False, manager=manager)
        report = run.reports[0]
        assert low <= report.metrics["accuracy"] <= high, report.metrics
        assert report.n == len(NEWS) and report.metrics["valid"] == 1.0
        assert all(r.messages[0].role == "system" for b in backends for r in b.requests)  # the skill's prompt ran
    lo, hi = report.intervals["accuracy"]
    assert lo <= report.metrics["accuracy"] <= hi


def test_extract_bench_passes_the_named_fields_through_the_skill(settings, tmp_path):
    bench, items = _items(settings, tmp_path, "snips_test.jsonl", SNIPS, "extract")
    by_text = {r["text"]: r["slots"] for r in SNIPS}

    def oracle(request):
        body = request.messages[-1].content
        fields = re.search(r"Fields: (.+?)\.\n", body)[1].split(", ")
        slots = next(v for k, v in by_text.items() if k in body)
        return json.dumps([{f: slots.get(f, "") for f in fields}])

    manager, _ = _manager(settings, oracle)
    run = run_benchmark(settings, bench, items, [Candidate("fake", "qwen2.5-coder-0.5b")], progress=False, manager=manager)
    assert run.reports[0].metrics["slot_f1"] == 1.0 and run.reports[0].metrics["valid"] == 1.0
    assert any(set(i.extra["fields"]) > set(i.reference) for i in items), "some requests name absent fields"


def test_summaries_follow_the_requested_length_and_raw_mode_skips_the_skill(settings, tmp_path):
    rows = [{"id": "d1", "text": "#Person1#: Shall we meet at noon to plan the trip to Rome?\n#Person2#: Yes, noon works for me.",
             "summary": "Person1 and Person2 will meet at noon to plan a trip to Rome."}]
    bench, items = _items(settings, tmp_path, "dialogsum_test.jsonl", rows, "summarize")
    manager, backends = _manager(settings, lambda r: "Person1 and Person2 will meet at noon to plan the trip.")
    run = run_benchmark(settings, bench, items, [Candidate("fake", "qwen2.5-coder-0.5b")], progress=False, manager=manager)
    system = backends[0].requests[0].messages[0].content
    assert "in 1 or 2 sentences" in system  # the length asked for, not the paragraph-and-bullets default
    assert run.reports[0].metrics["rougeL"] > 0.6
    manager, backends = _manager(settings, lambda r: "ok")
    raw = run_benchmark(settings, bench, items, [Candidate("fake", "qwen2.5-coder-0.5b")], raw=True, progress=False, manager=manager)
    assert raw.mode == "raw" and [m.role for m in backends[0].requests[0].messages] == ["user"]
    assert backends[0].requests[0].temperature == 0.0


def test_sampling_is_seeded_and_a_broken_candidate_is_reported(settings, tmp_path):
    rows = [{"text": f"t{i}", "label": "a" if i % 2 else "b"} for i in range(50)]
    assert sample(rows, 10, 1) == sample(rows, 10, 1) != sample(rows, 10, 2)
    assert all(r in sample(rows, 20, 1) for r in sample(rows, 10, 1))  # nested draws compare models fairly
    with pytest.raises(SkillError):
        sample(rows, 0)
    bench, items = _items(settings, tmp_path, "labels_mine.jsonl", rows, "classify", limit=5)
    assert all(set(i.extra["labels"]) == {"a", "b"} for i in items)

    def factory(model, adapter):
        raise RuntimeError("no such file")

    run = run_benchmark(settings, bench, items, [Candidate("broken", "qwen2.5-coder-0.5b")], progress=False,
                        manager=ModelManager(settings, factory=factory))
    assert run.reports[0].error and run.winner() is None


def test_stored_runs_show_in_skills_list(settings, tmp_path, capsys):
    from assistant.bench.report import format_run, store_run
    from assistant.cli import main

    bench, items = _items(settings, tmp_path, "agnews_test.jsonl", [{"text": t, "label": y} for t, y in NEWS[:8]], "classify")
    from assistant.tuning.task import load_task

    manager, _ = _manager(settings, lambda r: "World")
    task = load_task(settings, "classify")  # the list shows runs of the skill's current model (and adapter)
    run = run_benchmark(settings, bench, items, [Candidate(task.model, task.model, task.adapter)],
                        progress=False, manager=manager)
    history, full = store_run(settings, run)
    assert json.loads(full.read_text())["reports"][0]["items"][0]["reply"] == "World"
    assert "accuracy" in format_run(run) and "[" in format_run(run)
    assert main(["skills", "list", "--json"]) == 0
    listed = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert listed["classify"]["bench"]["bench"] == "agnews"
    assert listed["classify"]["bench"]["value"] == run.reports[0].metrics["accuracy"]
    assert listed["code"]["bench"] is None


def test_a_skill_that_timed_out_on_one_item_is_enabled_for_the_next():
    from assistant.bench.runner import revived_after_timeout
    from assistant.skills.skill import Skill, SkillTimeout

    skill = Skill(name="slow", source="builtin", origin="test")
    with pytest.raises(SkillTimeout), revived_after_timeout(skill):
        skill.fail("hung: produced nothing for 1 s and was stopped; disabled until restart")
        raise SkillTimeout("skill 'slow' produced nothing for 1 s and was stopped")
    assert (skill.status, skill.error) == ("ok", "")
    with pytest.raises(SkillError), revived_after_timeout(skill):  # any other failure leaves the status alone
        skill.fail("broken")
        raise SkillError("broken")
    assert skill.status == "failed"
