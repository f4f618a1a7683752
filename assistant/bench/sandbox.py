"""Run untrusted Python (a model's code and its benchmark tests) in a separate, limited process.

Each program runs with ``python -I`` in a fresh temporary directory, with a wall-clock timeout,
CPU, memory, file-size and open-file limits, an empty environment, and no network: the child
enters a new network namespace where the kernel allows it (no interfaces but a dead loopback),
and in any case its ``socket`` module refuses to connect. It is a benchmark sandbox, not a
security boundary against a hostile author; it stops the accidents generated code causes
(endless loops, huge allocations, stray files, network calls).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass

_GUARD = """\
import socket as _s
def _refuse(*a, **k):
    raise OSError("network access is disabled in the benchmark sandbox")
_s.socket.connect = _refuse
_s.socket.connect_ex = _refuse
_s.create_connection = _refuse
_s.getaddrinfo = _refuse
del _s, _refuse
"""
_CLONE_NEWUSER, _CLONE_NEWNET = 0x10000000, 0x40000000


@dataclass(frozen=True)
class RunResult:
    """How a program ended: ``passed`` when it exited 0 within its time."""

    passed: bool
    status: str  # "passed", "failed", "timeout"
    detail: str = ""


def _limits(seconds: float, memory_mb: int) -> None:
    """In the child before exec: resource limits, then a private network namespace if allowed."""
    import resource

    cpu = int(seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, memory_mb * 2**20))
    resource.setrlimit(resource.RLIMIT_FSIZE, (10 * 2**20, 10 * 2**20))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    os.setsid()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(_CLONE_NEWNET) != 0:
            libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET)
    except (OSError, AttributeError):
        pass  # the socket guard still applies


def run_python(program: str, timeout_s: float = 10.0, memory_mb: int = 1024) -> RunResult:
    """Run ``program`` under the limits above and report whether it passed."""
    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as folder:
        path = os.path.join(folder, "program.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(_GUARD + "\n" + program + "\n")
        try:
            proc = subprocess.run(
                [sys.executable, "-I", path], cwd=folder, env={"PATH": "/usr/bin:/bin", "HOME": folder},
                stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s,
                preexec_fn=lambda: _limits(timeout_s, memory_mb),
            )
        except subprocess.TimeoutExpired:
            return RunResult(False, "timeout", f"ran past {timeout_s:g} s")
    if proc.returncode == 0:
        return RunResult(True, "passed")
    tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
    return RunResult(False, "failed", tail[0][:200])
