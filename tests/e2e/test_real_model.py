"""The real default model, installed by the set-up, end to end through `assistant ask`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.real_model


def run_cli(settings, *args: str, stdin: str | None = None, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["ASSISTANT_MODELS_DIR"] = str(settings.model_dir)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "assistant", *args], input=stdin, capture_output=True,
                          text=True, env=env, timeout=300)


def test_ask_model_streams_and_reports_json(real_settings):
    proc = run_cli(real_settings, "ask", "--model", real_settings.default_model, "--max-tokens", "24", "--json",
                   "Name one primary colour.")
    assert proc.returncode == 0, proc.stderr
    *text_lines, last = proc.stdout.strip().splitlines()
    data = json.loads(last)
    assert data["text"].strip()
    assert data["model"] == real_settings.default_model
    assert 1 <= data["completion_tokens"] <= 24
    assert data["prompt_tokens"] > 5
    assert data["ttft_ms"] > 0 and data["tokens_per_s"] > 0
    assert data["text"].strip()[:10] in proc.stdout


def test_ask_reads_stdin(real_settings):
    proc = run_cli(real_settings, "ask", "--model", real_settings.default_model, "--max-tokens", "8", "-", stdin="Say hi.")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip()


def test_ask_unknown_model_is_one_line_error(real_settings):
    proc = run_cli(real_settings, "ask", "--model", "nope", "hello")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: unknown model 'nope'")
    assert "Traceback" not in proc.stderr
