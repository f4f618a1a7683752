"""Every built-in skill's eval set, run through the registry on the fake backend.

Deterministic skills must pass exactly. Model skills get the item's scripted ``replies`` (or a
reply made of its keywords) and must turn them into the expected answer: prompt, schema,
parsing and formatting are what is tested here; answer quality is scored on real models.
"""

from __future__ import annotations

import json

import pytest

from assistant.skills.evals import answer_item, load_eval, passes
from assistant.skills.loader import BUILTIN_SKILLS_DIR
from assistant.skills.manifest import load_manifest

SKILLS = ["calculator", "datetime", "notes", "chat", "code", "summarize", "extract", "classify", "recall"]


def _cases():
    for name in SKILLS:
        manifest = load_manifest(BUILTIN_SKILLS_DIR / name)
        for item in load_eval(BUILTIN_SKILLS_DIR / name / manifest.eval_spec.file):
            yield pytest.param(name, item, id=f"{name}:{item.line}")


@pytest.mark.parametrize("name,item", list(_cases()))
def test_eval_item(settings, registry, name, item):
    # The code path `assistant eval` takes for a skill with code (evals.answer_item), on fake models.
    from assistant.backends.fake import FakeBackend
    from assistant.backends.manager import ModelManager
    from assistant.skills.context import DirectModelAccess

    data = item.data
    replies = data.get("replies") or [" ".join(data.get("keywords", [])) or json.dumps(data.get("expected"))]
    backends: list[FakeBackend] = []

    def factory(model, adapter):
        backends.append(FakeBackend(model, script=list(replies)))
        return backends[-1]

    skill = registry.get(name)
    access = DirectModelAccess(ModelManager(settings, factory=factory), skill.model_name(settings) or settings.default_model)
    output = answer_item(registry, skill, item, access)
    ok, why = passes(item, output)
    assert ok, why
    requests = [r for b in backends for r in b.requests]
    if skill.manifest.model is None:
        assert requests == [], "a deterministic skill must not call a model"
    elif "replies" in data or "keywords" in data:
        assert requests, "a model skill must call its model"
        first = requests[0].messages[0]
        assert first.role == "system" and first.content  # the skill's prompt reached the model
        # The skill's model, or one its settings name for a job its tuned model was not trained for.
        allowed = {skill.model_name(settings)} | {v for k, v in skill.manifest.settings.items() if k.endswith("_model")}
        assert all(b.name in allowed for b in backends if b.requests), [b.name for b in backends]


def test_every_builtin_has_examples_and_an_eval_set():
    for folder in sorted(p.parent for p in BUILTIN_SKILLS_DIR.glob("*/skill.toml")):
        manifest = load_manifest(folder)
        assert len(manifest.examples) >= 8, folder
        assert manifest.eval_spec is not None and (folder / manifest.eval_spec.file).is_file(), folder
        assert len(load_eval(folder / manifest.eval_spec.file)) >= 3, folder


def test_code_skill_uses_the_code_model_and_its_prompt(run):
    out, _ = run("code", "write hello world in python", script=["print('hello')"])
    assert out == "print('hello')"
    request = run.requests[0]
    assert run.backends[0].name == "qwen2.5-coder-0.5b"
    assert "programming assistant" in request.messages[0].content
    assert request.max_tokens == 768 and request.temperature == 0.1


def test_chat_sees_history_and_its_prompt_carries_no_date(run):
    from assistant.backends.base import ChatMessage

    out, _ = run("chat", "and tomorrow?", script=["Sunny."], now="2025-05-01T10:00:00+00:00",
                 history=[ChatMessage("user", "weather today?"), ChatMessage("assistant", "Rainy.")])
    msgs = run.requests[0].messages
    assert [m.role for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[-1].content == "and tomorrow?"
    # With "Today is <date>" in its prompt the 0.5B gave that date as the answer to 40 of 200
    # NQ-open questions ("as you like it was first performed on December 1, 2026"); date
    # questions go to the datetime skill.
    assert "2025" not in msgs[0].content and "$today" not in msgs[0].content
    assert out == "Sunny."


def test_a_prompt_gets_the_date_filled_in(run):
    run("code", "write hello world in python", script=["print('hello')"], now="2025-05-01T10:00:00+00:00")
    assert "Today is 2025-05-01." in run.requests[0].messages[0].content


def test_assistant_eval_runs_each_item_in_its_own_scratch_folder(isolated_home):
    """`assistant eval notes` (run_items): every item starts empty with its `before` messages
    applied, and the eval never writes into the user's own notes."""
    from assistant.config import load_settings
    from assistant.skills.evals import run_items
    from assistant.skills.registry import load_skills

    settings = load_settings()
    registry = load_skills(settings)
    skill = registry.get("notes")
    items = load_eval(BUILTIN_SKILLS_DIR / "notes" / skill.manifest.eval_spec.file)
    results = run_items(registry, skill, items)
    assert [why for _item, _out, ok, why in results if not ok] == []
    assert len(results) == len(items) >= 10
    assert not (settings.data_dir / "skills" / "notes").exists()
