"""`assistant history ...` end to end through main(argv), on the store at settings.db_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import load_settings
from assistant.memory.store import Store


@pytest.fixture
def filled(isolated_home: Path):
    store = Store.open(load_settings().db_path)
    a = store.create_conversation("Python lists")
    store.add_message(a, "user", "How do I reverse a list?")
    rid = store.start_reply(a, skill="code", model="qwen")
    store.finish_reply(rid, "Use reversed(xs).", "complete")
    b = store.create_conversation("Soup")
    store.add_message(b, "user", "onion soup recipe")
    store.close()
    return a, b


def test_list_and_search(filled, capsys) -> None:
    a, b = filled
    assert main(["history", "list"]) == 0
    out = capsys.readouterr().out
    assert out.index(b[:8]) < out.index(a[:8]) and "Python lists" in out
    assert main(["history", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows] == [b, a] and rows[1]["message_count"] == 2
    assert main(["history", "search", "reversed"]) == 0
    assert a[:8] in capsys.readouterr().out
    assert main(["history", "search", 'NEAR("x', "AND"]) == 1  # no match, no syntax error
    assert "no messages match" in capsys.readouterr().err


def test_show_export_rename_by_prefix(filled, capsys, tmp_path: Path) -> None:
    a, _ = filled
    assert main(["history", "show", a[:6]]) == 0
    out = capsys.readouterr().out
    assert "# Python lists" in out and "Use reversed(xs)." in out and "(code, qwen)" in out
    assert main(["history", "export", a[:6], "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == a and [m["role"] for m in data["messages"]] == ["user", "assistant"]
    target = tmp_path / "out.md"
    assert main(["history", "export", a, "--format", "md", "-o", str(target)]) == 0
    assert target.read_text().startswith("# Python lists")
    assert main(["history", "rename", a[:6], "Reversing", "lists"]) == 0
    capsys.readouterr()
    assert main(["history", "list", "--json"]) == 0
    assert "Reversing lists" in capsys.readouterr().out


def test_unknown_and_ambiguous_ids_are_clear_errors(filled, capsys) -> None:
    assert main(["history", "show", "zzzz"]) == 2
    err = capsys.readouterr().err
    assert "error: no conversation 'zzzz'" in err and "hint:" in err


def test_rm_needs_confirmation_without_a_tty(filled, capsys, monkeypatch) -> None:
    a, b = filled
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["history", "rm", a[:8]]) == 2
    assert "--yes" in capsys.readouterr().err
    assert main(["history", "rm", a[:8], "--yes"]) == 0
    capsys.readouterr()
    main(["history", "list", "--json"])
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [b]


def test_rm_asks_on_a_tty(filled, capsys, monkeypatch) -> None:
    a, _ = filled
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["history", "rm", a]) == 1
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["history", "rm", a]) == 0


def test_export_all_import_round_trip_is_idempotent(filled, capsys, tmp_path: Path, monkeypatch) -> None:
    backup = tmp_path / "backup.jsonl"
    assert main(["history", "export-all", str(backup)]) == 0
    assert main(["history", "export-all", str(backup)]) == 2  # never overwrites silently
    # A new machine: another data dir.
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "other"))
    for _ in range(2):
        assert main(["history", "import", str(backup)]) == 0
    capsys.readouterr()
    again = tmp_path / "again.jsonl"
    assert main(["history", "export-all", str(again)]) == 0
    assert again.read_text() == backup.read_text()


def test_import_bad_line_names_it_and_imports_nothing(filled, capsys, tmp_path: Path) -> None:
    backup = tmp_path / "b.jsonl"
    main(["history", "export-all", str(backup)])
    lines = backup.read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    conv = json.loads(lines[1])
    conv["messages"][0]["role"] = "robot"
    broken.write_text("\n".join([lines[0], lines[2], json.dumps(conv)]) + "\n")
    capsys.readouterr()
    store = Store.open(load_settings().db_path)
    store.delete(conv["id"])
    other = json.loads(lines[2])["id"]
    store.delete(other)
    store.close()
    assert main(["history", "import", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "role" in err
    store = Store.open(load_settings().db_path)
    assert store.list_conversations() == []  # line 2 was valid but nothing was imported
    store.close()
    (tmp_path / "notjson.jsonl").write_text(lines[0] + "\n{oops\n")
    assert main(["history", "import", str(tmp_path / "notjson.jsonl")]) == 2
    assert "line 2: not valid JSON" in capsys.readouterr().err


def test_cli_as_a_subprocess(filled, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    run = subprocess.run([sys.executable, "-m", "assistant", "history", "list"], capture_output=True, text=True,
                         cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "Python lists" in run.stdout
