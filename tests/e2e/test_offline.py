"""RELIABILITY row 14: a whole use of the app makes no network connection.

Each command runs in a child process whose sockets are patched (tests/e2e/netblock) to log
and refuse any connection or name lookup; the log must stay empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.real_model, pytest.mark.real_embedder]
NETBLOCK = Path(__file__).parent / "netblock"


def run(args: list[str], env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_full_use_with_network_blocked(real_settings, tmp_path):
    log = tmp_path / "net.log"
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(NETBLOCK), env.get("PYTHONPATH", "")]),
        "NETBLOCK_LOG": str(log),
        "ASSISTANT_MODELS_DIR": str(real_settings.model_dir),
    })
    # HF_HUB_OFFLINE is set by the test fixture; the product must not need it.
    env.pop("HF_HUB_OFFLINE", None)
    env.pop("TRANSFORMERS_OFFLINE", None)

    # routing + a reply from the real default model
    proc = run(["ask", "--json", "--max-tokens", "16", "write a python function that adds two numbers"], env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["skill"] == "code" and data["text"].strip()

    # a skill with a file
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("Name,Email,Phone\nAda Lovelace,ada@example.org,555-0100\n")
    proc = run(["ask", "--json", "--skill", "extract", "--file", str(contacts),
                f"extract name, email from {contacts} as json"], env)
    assert proc.returncode == 0, proc.stderr
    assert "ada@example.org" in proc.stdout

    # history search
    proc = run(["history", "search", "python", "--json"], env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)

    assert not log.exists() or log.read_text() == "", log.read_text()


def test_netblock_really_blocks(tmp_path):
    """The harness itself: a connection attempt is logged and refused."""
    log = tmp_path / "net.log"
    env = dict(os.environ, PYTHONPATH=str(NETBLOCK), NETBLOCK_LOG=str(log))
    code = "import socket\ntry:\n    socket.create_connection(('127.0.0.1', 9))\nexcept OSError:\n    print('refused')"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "refused"
    assert "127.0.0.1" in log.read_text()
