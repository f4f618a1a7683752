"""Fixtures: a small label skill folder and a user config with the tiny model and that skill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ITEMS = [
    ("I love it", "positive"),
    ("This is awful", "negative"),
    ("It opens at nine", "neutral"),
    ("Great value", "positive"),
]


def write_skill(root: Path, name: str = "demo", items=ITEMS, train=None, schema: str | None = None) -> Path:
    """A skill folder in the manifest format eval/tune read; returns the folder."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "prompt.txt").write_text("Reply with one word: positive, negative or neutral.\n")
    schema = schema or '{ type = "string", enum = ["positive", "negative", "neutral"] }'
    (folder / "skill.toml").write_text(
        f'name = "{name}"\ndescription = "test skill"\nexamples = ["how does this sound"]\n'
        f'prompt = "prompt.txt"\nmodel = "tiny"\noutput_schema = {schema}\ngeneration = {{ max_tokens = 4 }}\n'
    )
    (folder / "eval.jsonl").write_text("".join(json.dumps({"input": t, "expected": e}) + "\n" for t, e in items))
    train = train if train is not None else items
    (folder / "train.jsonl").write_text("".join(json.dumps({"input": t, "output": e}) + "\n" for t, e in train))
    return folder


@pytest.fixture
def skills_root(tmp_path: Path) -> Path:
    root = tmp_path / "skills"
    root.mkdir()
    return root


@pytest.fixture
def tiny_config(tmp_path: Path, tiny_gguf: Path, skills_root: Path) -> Path:
    """The user config (ASSISTANT_CONFIG) with the tiny model and the test skills folder."""
    path = tmp_path / "user-config.toml"
    path.write_text(
        f'default_model = "tiny"\n[runtime]\nthreads = 2\n[skills]\nuser_dir = "{skills_root}"\n'
        f'[models.tiny]\nsource = "path"\npath = "{tiny_gguf}"\ntrained_ctx = 2048\nn_ctx = 512\nchat_format = "chatml"\n'
    )
    return path
