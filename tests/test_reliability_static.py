"""Static guarantees behind RELIABILITY rows 1, 13 and 14, checked over the package source.

Runtime tests prove the behaviour (tests/e2e/test_offline.py blocks sockets for a whole
use; tests/backends/test_templates.py renders hostile templates); these keep new code from
quietly adding a network path, a pickle load or remote code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from assistant.errors import RouterError
from assistant.router.embedders import check_model_folder

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"
NETWORK_MODULES = {"socket", "urllib.request", "http.client", "http.server", "requests", "httpx", "httpx2", "aiohttp",
                   "uvicorn", "huggingface_hub", "ssl", "mcp.client.streamable_http"}
NETWORK_PACKAGES = {"requests", "httpx", "httpx2", "aiohttp", "uvicorn", "huggingface_hub"}
# The only modules allowed to open sockets, each only when configured: the HTTP model
# backend (a remote server the user set up), the model store's `hf`/`http` sources (an
# explicit `models pull`), `assistant serve`'s listener (loopback by default), and the MCP
# client's streamable-HTTP transport (only for a server the user configured with a URL).
NETWORK_ALLOWED = {"backends/http.py", "models/store.py", "server/runner.py", "mcp/client.py"}


def _sources() -> list[tuple[str, ast.Module]]:
    return [(p.relative_to(PACKAGE).as_posix(), ast.parse(p.read_text(), str(p))) for p in PACKAGE.rglob("*.py")]


def _imports(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_only_the_allowed_modules_import_network_libraries():
    offenders = {}
    for rel, tree in _sources():
        hits = {n for n in _imports(tree) if n in NETWORK_MODULES or n.split(".")[0] in NETWORK_PACKAGES}
        if hits and rel not in NETWORK_ALLOWED:
            offenders[rel] = sorted(hits)
    assert offenders == {}


def test_the_scan_sees_the_allowed_network_modules():
    # Guards the test above against scanning nothing (a moved package, a broken walk).
    found = {rel for rel, tree in _sources() if _imports(tree) & NETWORK_MODULES}
    assert found and found <= NETWORK_ALLOWED


def _calls(tree: ast.Module):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def test_no_remote_code_no_pickle_and_no_unsandboxed_jinja():
    bad = []
    for rel, tree in _sources():
        for call in _calls(tree):
            func = ast.unparse(call.func)
            for kw in call.keywords:
                if kw.arg in {"trust_remote_code", "allow_pickle"} and ast.unparse(kw.value) != "False":
                    bad.append(f"{rel}:{call.lineno} {func}({kw.arg}={ast.unparse(kw.value)})")
            if func in {"torch.load", "pickle.load", "pickle.loads", "jinja2.Environment", "Environment"}:
                bad.append(f"{rel}:{call.lineno} {func}(...)")
    assert bad == []


def test_embedding_folder_with_only_pickle_weights_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(RouterError) as err:
        check_model_folder(tmp_path)
    assert "no safetensors weights" in err.value.message and "pytorch_model.bin" in err.value.message
    assert "pickle" in err.value.hint


def test_missing_embedding_folder_is_a_clear_error(tmp_path):
    with pytest.raises(RouterError, match="does not exist"):
        check_model_folder(tmp_path / "nowhere")
