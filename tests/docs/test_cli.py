"""`assistant docs add | list | search | reindex | rm` on the fake embedder."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main


@pytest.fixture(autouse=True)
def fake_embedder(user_config):
    user_config('[router]\nembedder = "fake"\n')


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_add_list_search_reindex_rm(capsys, library):
    (library / "photo.png").write_bytes(b"\x89PNG")
    added = _json(capsys, ["docs", "add", str(library), "--name", "lib", "--json"])
    assert added["added"] == 4 and added["embedded"] > 0
    assert added["skipped"] == [["photo.png", "unsupported file type"]]
    listed = _json(capsys, ["docs", "list", "--json"])
    assert [(c["name"], c["state"], c["files"], c["skipped"]) for c in listed] == [("lib", "ready", 4, 1)]
    assert listed[0]["embedded"] == listed[0]["chunks"]
    detail = _json(capsys, ["docs", "list", "lib", "--json"])
    assert detail["skipped_files"] == [{"path": "photo.png", "reason": "unsupported file type"}]
    hits = _json(capsys, ["docs", "search", "warranty", "years", "--json"])
    assert hits[0]["citation"] == "manual.pdf, p. 2"
    assert main(["docs", "search", "warranty"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1] manual.pdf, p. 2 (lib)")
    again = _json(capsys, ["docs", "reindex", "--json"])
    assert again[0]["unchanged"] == 5 and again[0]["added"] == again[0]["changed"] == 0
    assert main(["docs", "rm", "lib"]) == 1  # no terminal to ask, no --yes: refused
    capsys.readouterr()
    assert main(["docs", "rm", "lib", "--yes"]) == 0
    assert "untouched" in capsys.readouterr().out
    assert _json(capsys, ["docs", "list", "--json"]) == []
    assert (library / "manual.pdf").exists()


def test_errors_are_messages_not_tracebacks(capsys, tmp_path):
    assert main(["docs", "add", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["docs", "rm", "nothing", "--yes"]) == 2
    assert "no collection named" in capsys.readouterr().err
