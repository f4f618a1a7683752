"""Chat templates render only in the sandbox (RELIABILITY.md row 1)."""

from __future__ import annotations

import pathlib
import re

import pytest
from jinja2.exceptions import SecurityError

from assistant.backends.base import ChatMessage
from assistant.backends.templates import ChatRenderer, builtin_format, render_template
from assistant.errors import TemplateError

MSGS = [ChatMessage("system", "be brief"), ChatMessage("user", "hi")]


def test_popen_payload_is_blocked(tmp_path):
    sentinel = tmp_path / "SENTINEL"
    payload = "{{ cycler.__init__.__globals__.os.popen('touch " + str(sentinel) + "').read() }}"
    with pytest.raises(SecurityError):
        render_template(payload, MSGS)
    assert not sentinel.exists()


def test_attr_filter_payload_is_blocked(tmp_path):
    sentinel = tmp_path / "SENTINEL2"
    payload = "{{ (cycler|attr('__init__')).__globals__.os.popen('touch " + str(sentinel) + "').read() }}"
    with pytest.raises(SecurityError):
        render_template(payload, MSGS)
    assert not sentinel.exists()


def test_attr_chains_render_nothing_harmful(tmp_path):
    sentinel = tmp_path / "SENTINEL4"
    payload = "{{ ((cycler|attr('__init__')|attr('__globals__'))['os']|attr('popen'))('touch " + str(sentinel) + "') }}"
    try:
        out = render_template(payload, MSGS)
    except (SecurityError, TemplateError):
        out = ""
    assert "object at" not in out
    assert not sentinel.exists()


def test_hostile_model_template_falls_back_to_configured_format(tmp_path):
    sentinel = tmp_path / "S3"
    payload = "{{ cycler.__init__.__globals__.os.popen('touch " + str(sentinel) + "') }}"
    r = ChatRenderer(payload, "chatml")
    assert not r.uses_model_template
    assert "sandbox" in r.warning
    assert r.render(MSGS) == builtin_format("chatml")(MSGS)
    assert not sentinel.exists()


def test_unknown_tag_is_invalid_template_and_falls_back():
    with pytest.raises(TemplateError, match="invalid chat template"):
        render_template("{% frobnicate %}", MSGS)
    r = ChatRenderer("{% frobnicate %}", "gemma")
    assert "invalid chat template" in r.warning
    assert r.render(MSGS).endswith("<start_of_turn>model\n")


def test_good_template_renders_messages():
    tpl = "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{% if add_generation_prompt %}>{% endif %}"
    assert ChatRenderer(tpl, "chatml").render(MSGS) == "[system]be brief[user]hi>"


def test_template_raising_exception_falls_back():
    tpl = "{% if messages[0].role == 'system' %}{{ raise_exception('no system role') }}{% endif %}ok"
    r = ChatRenderer(tpl, "chatml")
    assert r.render(MSGS).startswith("<|im_start|>system")


def test_unknown_format_name():
    with pytest.raises(TemplateError, match="unknown chat format"):
        builtin_format("vicuna-9000")


def test_gemma_format_folds_system_into_user():
    out = builtin_format("gemma")(MSGS)
    assert "be brief\n\nhi" in out and "system" not in out


def test_no_unsandboxed_environment_in_code():
    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = []
    for path in list((root / "assistant").rglob("*.py")) + list((root / "skills").rglob("*.py")):
        text = path.read_text()
        if re.search(r"(?<!Sandboxed)Environment\(", text) and "ImmutableSandboxedEnvironment(" not in text:
            offenders.append(str(path))
        if re.search(r"trust_remote_code\s*=\s*True", text):
            offenders.append(str(path))
    assert offenders == []
