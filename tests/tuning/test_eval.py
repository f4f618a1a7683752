"""The eval runner on FakeBackend; the eval command on the tiny real model (JSON, chart, store, --write)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from assistant.backends.fake import FakeBackend
from assistant.config import load_settings
from assistant.errors import SkillError
from assistant.tuning.chart import write_chart
from assistant.tuning.results import append_run, format_table, previous_by_label
from assistant.tuning.runner import Candidate, evaluate, parse_candidates
from assistant.tuning.task import load_task

from .conftest import ITEMS, write_skill

GOLD = dict(ITEMS)


def oracle(request) -> str:
    return GOLD[request.messages[-1].content]


def always_positive(request) -> str:
    return "positive, I think"


@pytest.fixture
def task(tiny_config: Path, skills_root: Path):
    write_skill(skills_root)
    return load_task(load_settings(), "demo")


def run_fakes(task, scripts: dict[str, object]):
    backends = {name: FakeBackend(name, script, delay_s=0.002) for name, script in scripts.items()}
    released = []
    run = evaluate(
        task, [dict(input=t, expected=e) for t, e in ITEMS],
        [Candidate(name, name) for name in scripts],
        load=lambda c: backends[c.model],
        release=lambda c, b: released.append(c.label),
    )
    return run, backends, released


def test_eval_scores_each_candidate_with_the_skill_prompt(task) -> None:
    run, backends, released = run_fakes(task, {"good": oracle, "lazy": always_positive, "rambler": ["I cannot say"] * 4})
    by = {r.label: r for r in run.reports}
    assert by["good"].accuracy == 1.0 and by["good"].valid_rate == 1.0
    assert by["lazy"].accuracy == 0.5 and by["lazy"].pass_rate == 0.5
    assert by["rambler"].accuracy == 0.0 and by["rambler"].valid_rate == 0.0
    assert run.winner().label == "good"
    assert released == ["good", "lazy", "rambler"]
    sent = backends["good"].requests[0]
    assert sent.messages[0].role == "system" and "positive, negative or neutral" in sent.messages[0].content
    assert sent.temperature == 0.0 and sent.max_tokens == 4 and sent.json_schema is None
    assert by["good"].ttft_ms_p50 is not None and by["good"].ms_per_token > 0


def test_a_candidate_that_fails_to_load_is_reported_not_fatal(task) -> None:
    def load(c):
        if c.model == "broken":
            raise SkillError("no such file", "pull it")
        return FakeBackend(c.model, oracle)

    run = evaluate(task, [dict(input=t, expected=e) for t, e in ITEMS], [Candidate("broken", "broken"), Candidate("ok", "ok")], load)
    assert run.reports[0].error == "no such file" and run.reports[1].accuracy == 1.0
    assert run.winner().label == "ok"
    assert "failed" in format_table(run)


def test_object_schema_is_passed_as_grammar_and_scored_per_field(tiny_config: Path, skills_root: Path) -> None:
    schema = '{ type = "object", properties = { city = { type = "string" }, year = { type = "integer" } }, required = ["city"] }'
    folder = write_skill(skills_root, "cityfinder", items=[], schema=schema)
    (folder / "eval.jsonl").write_text(json.dumps({"input": "Paris, 1900", "expected": {"city": "Paris", "year": 1900}}) + "\n")
    task = load_task(load_settings(), "cityfinder")
    fake = FakeBackend("x", ['{"city": "Paris", "year": 1901}'])
    run = evaluate(task, [{"input": "Paris, 1900", "expected": {"city": "Paris", "year": 1900}}], [Candidate("x", "x")], lambda c: fake)
    report = run.reports[0]
    assert fake.requests[0].json_schema == task.output_schema
    assert report.field_accuracy == {"city": 1.0, "year": 0.0} and report.accuracy == 0.5 and report.valid_rate == 1.0


def test_results_store_shows_the_change_and_chart_is_svg(task, tmp_path: Path) -> None:
    settings = load_settings()
    first, _, _ = run_fakes(task, {"m": always_positive})
    append_run(settings, first)
    second, _, _ = run_fakes(task, {"m": oracle})
    previous = previous_by_label(settings, "demo")
    assert previous["m"]["accuracy"] == 0.5
    assert "+50.0" in format_table(second, previous)
    chart = write_chart(second, tmp_path / "c.svg")
    root = ET.parse(chart).getroot()
    assert root.tag.endswith("svg")
    circles = [e for e in root.iter() if e.tag.endswith("circle")]
    assert len(circles) == 1 and "m (100%" in chart.read_text()


def test_parse_candidates(task, tmp_path: Path) -> None:
    with pytest.raises(SkillError, match="no adapter"):
        parse_candidates("tiny+adapter", task, "tiny")
    with pytest.raises(SkillError, match="does not exist"):
        parse_candidates(f"tiny+{tmp_path / 'nope.gguf'}", task, "tiny")
    adapter = tmp_path / "a.gguf"
    adapter.write_bytes(b"x")
    task.adapter = adapter
    assert parse_candidates(None, task, "tiny") == [Candidate("tiny+adapter", "tiny", adapter), Candidate("tiny", "tiny")]


def test_eval_command_json_chart_store_and_write(task, tiny_config: Path, capsys) -> None:
    from assistant.cli import main

    assert main(["eval", "demo", "--models", "tiny", "--json", "--limit", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    report = out["reports"][0]
    assert out["items"] == 2 and report["label"] == "tiny" and len(report["items"]) == 2
    assert report["peak_rss_mb"] >= 0 and report["load_s"] > 0 and report["ms_per_token"] > 0
    assert Path(out["chart"]).read_text().startswith("<svg")
    settings = load_settings()
    assert len((settings.data_dir / "eval" / "demo.jsonl").read_text().splitlines()) == 1

    assert main(["eval", "demo", "--models", "tiny", "--limit", "2", "--write"]) == 0
    text = capsys.readouterr().out
    assert "vs last" in text and "recorded tiny" in text
    assert load_settings().skills.overrides["demo"].model == "tiny"


def test_eval_command_unknown_skill_and_model(task, capsys) -> None:
    from assistant.cli import main

    assert main(["eval", "nope"]) == 2
    assert "unknown skill 'nope'" in capsys.readouterr().err
    assert main(["eval", "demo", "--models", "nosuch"]) == 2
    assert "unknown model 'nosuch'" in capsys.readouterr().err


def test_a_skill_with_code_is_evaluated_through_its_handler_with_the_items_memory() -> None:
    # recall's eval items carry earlier conversations; the skill must search them (its code),
    # not the bare model on its prompt, which is what `assistant eval recall` measured before.
    from assistant.backends.manager import ModelManager
    from assistant.cli.eval_cmd import skill_answer

    settings = load_settings()
    task = load_task(settings, "recall")
    fakes: list[FakeBackend] = []

    def factory(model, adapter):
        fakes.append(FakeBackend(model, ["You moved the orders table to PostgreSQL 16 [1]."]))
        return fakes[-1]

    manager = ModelManager(settings, factory=factory)
    memory = [{"title": "Database migration", "messages": [
        {"role": "user", "content": "For the database migration we agreed to move the orders table to PostgreSQL 16."}]}]
    items = [{"input": "what did we say about the database migration", "memory": memory,
              "keywords": ["PostgreSQL 16", "Database migration"]},
             {"input": "did we talk about kubernetes before", "memory": memory,
              "expected": "I found nothing about that", "check": "contains"}]
    answer = skill_answer(settings, manager, task)
    assert answer is not None
    candidate = Candidate(task.model, task.model)
    run = evaluate(task, items, [candidate], lambda c: manager.get(c.model, c.adapter), answer=answer)
    report = run.reports[0]
    assert [i.passed for i in report.items] == [True, True], [(i.detail, i.output) for i in report.items]
    assert "Sources:" in report.items[0].output and "Database migration" in report.items[0].output
    sent = [r for f in fakes for r in f.requests]
    assert len(sent) == 1  # the second item found nothing and never asked the model
    assert "PostgreSQL 16" in sent[0].messages[-1].content and sent[0].temperature == 0.0
    assert report.items[0].ttft_ms is not None


def test_a_prompt_only_skill_is_evaluated_on_its_prompt(task) -> None:
    from assistant.backends.manager import ModelManager
    from assistant.cli.eval_cmd import skill_answer

    settings = load_settings()
    assert skill_answer(settings, ModelManager(settings, factory=lambda m, a: FakeBackend(m, oracle)), task) is None


def test_eval_memory_must_be_conversations(tmp_path: Path) -> None:
    from assistant.skills.evals import load_eval

    bad = tmp_path / "eval.jsonl"
    bad.write_text(json.dumps({"input": "x", "expected": "y", "memory": [{"messages": [{"role": "robot", "content": "hi"}]}]}) + "\n")
    with pytest.raises(SkillError, match="'role'"):
        load_eval(bad)
