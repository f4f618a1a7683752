"""Distillation filtering, the config override writer, the progress line and the tune command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.backends.fake import FakeBackend
from assistant.config import load_settings
from assistant.errors import ConfigError
from assistant.tuning.distill import distill
from assistant.tuning.overrides import record_override
from assistant.tuning.task import load_task

from .conftest import write_skill


def test_distill_keeps_only_answers_that_pass_the_checks(tiny_config: Path, skills_root: Path) -> None:
    write_skill(skills_root)
    task = load_task(load_settings(), "demo")
    answers = {"a": "Positive.", "b": "I am not sure", "c": "negative", "d": "neutral"}
    teacher = FakeBackend("teacher", lambda r: answers[r.messages[-1].content])
    rows = [{"input": "a"}, {"input": "b"}, {"input": "c", "output": "positive"}, {"input": "d", "output": "neutral"}]
    pairs, stats = distill(task, teacher, rows)
    assert [(p["input"], p["output"]) for p in pairs] == [("a", "positive"), ("d", "neutral")]
    assert (stats.asked, stats.kept, stats.invalid, stats.disagreed) == (4, 2, 1, 1)
    assert teacher.requests[0].messages[0].role == "system"  # the skill's real prompt


def test_distill_json_answers_are_normalised(tiny_config: Path, skills_root: Path) -> None:
    schema = '{ type = "object", properties = { city = { type = "string" } }, required = ["city"] }'
    write_skill(skills_root, "cityfinder", items=[("x", "y")], schema=schema)
    task = load_task(load_settings(), "cityfinder")
    teacher = FakeBackend("t", ['```json\n{"city": "Oslo"}\n```', '{"town": "Oslo"}'])
    pairs, stats = distill(task, teacher, [{"input": "in Oslo"}, {"input": "Oslo again"}])
    assert pairs == [{"input": "in Oslo", "output": '{"city": "Oslo"}', "source": "teacher"}]
    assert stats.invalid == 1


def test_record_override_replaces_only_its_table(tiny_config: Path, tmp_path: Path) -> None:
    tiny_config.write_text(tiny_config.read_text() + '\n[skills.overrides.demo]\nmodel = "tiny"\n\n[generation]\nmax_tokens = 100\n')
    adapter = tmp_path / "x.gguf"
    record_override("demo", "tiny", adapter, tiny_config)
    record_override("other", "tiny", None, tiny_config)
    text = tiny_config.read_text()
    assert text.count("[skills.overrides.") == 2 and "max_tokens = 100" in text
    settings = load_settings()
    assert settings.skills.overrides["demo"].adapter == adapter.resolve()
    assert settings.generation.max_tokens == 100


def test_record_override_with_an_unknown_model_restores_the_file(tiny_config: Path) -> None:
    before = tiny_config.read_text()
    with pytest.raises(ConfigError, match="not in the catalog"):
        record_override("demo", "no-such-model", None, tiny_config)
    assert tiny_config.read_text() == before


def test_override_wins_over_the_manifest(tiny_config: Path, skills_root: Path, tmp_path: Path) -> None:
    write_skill(skills_root)
    record_override("demo", "tiny", tmp_path / "a.gguf", tiny_config)
    task = load_task(load_settings(), "demo")
    assert task.model == "tiny" and task.adapter == (tmp_path / "a.gguf").resolve()


def test_progress_line_shows_loss_and_time_left() -> None:
    from assistant.cli.tune_cmd import progress_line
    from assistant.tuning.trainer import Progress

    line = progress_line(Progress(step=5, total=10, loss=0.25, elapsed_s=30, eta_s=95, resumed_from=2), width=10)
    assert line == "step 5/10 [#####.....] loss 0.2500 0m30s elapsed, 1m35s left (resumed at 2)"


def test_tune_command_end_to_end_with_teacher(tiny_config: Path, skills_root: Path, tmp_path: Path, capsys) -> None:
    from assistant.cli import main

    write_skill(skills_root)
    out = tmp_path / "demo.gguf"
    code = main(["tune", "demo", "--base", "tiny", "--max-steps", "2", "--batch", "2", "--lr", "0.05",
                 "--teacher", "tiny", "--eval-limit", "2", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "kept 0 of 4 teacher answers" in captured.err  # the random tiny model never says a label
    assert "step 2/2" in captured.err and "before:" in captured.out and "after:" in captured.out
    assert out.is_file() and f"adapter: {out}" in captured.out
    assert load_settings().skills.overrides["demo"].adapter == out.resolve()
    settings = load_settings()
    runs = [json.loads(line) for line in (settings.data_dir / "eval" / "demo.jsonl").read_text().splitlines()]
    assert [r["label"] for r in runs[-1]["reports"]] == ["tiny", f"tiny+{out}"]
