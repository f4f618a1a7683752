"""`assistant skills list | new | check`."""

from __future__ import annotations

import json

from assistant.cli import main
from assistant.skills.registry import load_skills


def test_list_shows_status_model_examples_and_failures(capsys, tmp_path):
    bad = tmp_path / "skills" / "broken"  # the default user folder: beside ASSISTANT_CONFIG
    bad.mkdir(parents=True)
    (bad / "skill.toml").write_text('name = "broken"\ndescription = "x"\nexampels = ["a"]\n')
    assert main(["skills", "list"]) == 0
    out = capsys.readouterr().out
    assert "calculator" in out and "qwen2.5-coder-0.5b" in out
    assert "broken (failed)" in out and "exampels: unknown key" in out and "skill.toml:3" in out
    assert main(["skills", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["calculator"]["status"] == "ok" and rows["calculator"]["model"] is None
    assert rows["chat"]["examples"] >= 10 and rows["broken"]["status"] == "failed"


def test_new_scaffolds_a_working_skill(capsys, tmp_path, settings):
    assert main(["skills", "new", "recipes"]) == 0
    folder = tmp_path / "skills" / "recipes"
    assert {p.name for p in folder.iterdir()} == {"skill.toml", "skill.py", "prompt.txt", "eval.jsonl"}
    assert main(["skills", "check", str(folder)]) == 0
    assert capsys.readouterr().out.strip().endswith("ok")
    reg = load_skills(settings, entry_points=None)
    skill = reg.get("recipes")
    assert skill.ok and skill.source == "user"
    from .conftest import Runner

    out, _ = Runner(settings, reg)("recipes", "an omelette please", script=["Beat two eggs."])
    assert out == "Beat two eggs."
    assert main(["skills", "new", "recipes"]) == 2  # exists: a clear error, not a traceback
    assert "already exists" in capsys.readouterr().err


def test_check_reports_file_and_line(capsys, tmp_path):
    folder = tmp_path / "d" / "typo"
    assert main(["skills", "new", "typo", "--dir", str(tmp_path / "d")]) == 0
    manifest = folder / "skill.toml"
    manifest.write_text(manifest.read_text().replace("temperature = 0.2", "temprature = 0.2"))
    (folder / "eval.jsonl").write_text('{"input": "x", "expected": "y"}\nnot json\n')
    capsys.readouterr()
    assert main(["skills", "check", str(folder)]) == 1
    out = capsys.readouterr().out
    line = next(i for i, t in enumerate(manifest.read_text().splitlines(), 1) if t.startswith("temprature"))
    assert f"skill.toml:{line}: generation.temprature: unknown key" in out
    (folder / "skill.toml").write_text(manifest.read_text().replace("temprature", "temperature"))
    assert main(["skills", "check", str(folder)]) == 1
    assert "eval.jsonl:2: not valid JSON" in capsys.readouterr().out
