"""The real app in a real terminal (tmux): start it, type, read the screen, quit, terminal restored.

Runs ``python -m assistant`` with ``ASSISTANT_TUI_FAKE=1`` (the real pipeline on the in-package
fakes: echoing models, hashing embedder, in-memory store) so it needs no models. Skips with a reason when tmux is not installed (``apt-get install tmux``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)")
REPO = Path(__file__).resolve().parents[2]


class Tmux:
    """One private tmux server (its own socket) with one pane running bash."""

    def __init__(self, tmp_path: Path, width: int = 100, height: int = 30) -> None:
        self.socket = f"assistant-tui-test-{os.getpid()}-{time.monotonic_ns()}"
        self.run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), "bash --norc --noprofile")
        self.run("set-option", "-t", "t", "status", "off")

    def run(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "t")

    def flag(self, name: str) -> str:
        return self.run("display-message", "-p", "-t", "t", f"#{{{name}}}").strip()

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "t", *keys)

    def wait_for(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear; screen was:\n{screen}")
            time.sleep(0.05)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux(tmp_path: Path):
    term = Tmux(tmp_path)
    yield term
    term.close()


def test_real_terminal_session(tmux: Tmux, tmp_path: Path):
    env = {
        "ASSISTANT_TUI_FAKE": "1",
        "ASSISTANT_TUI_FAKE_DELAY": "0.005",
        "ASSISTANT_TUI_FAKE_WARMUP": "0.3",
        "ASSISTANT_HOME": os.environ["ASSISTANT_HOME"],
        "ASSISTANT_CONFIG": os.environ["ASSISTANT_CONFIG"],
        "TERM": "xterm-256color",
    }
    command = "cd {} && env {} {} -m assistant; echo EXIT=$?".format(
        shlex.quote(str(REPO)), " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.quote(sys.executable))
    tmux.keys(command, "Enter")
    tmux.wait_for("Type a message")
    assert tmux.flag("alternate_on") == "1"
    tmux.wait_for("● embedder")  # the router is built (commands wait for it; messages would queue)
    tmux.keys("-l", "/skill chat")  # the echoing model answers, whatever the router would pick
    tmux.keys("Enter")
    tmux.wait_for("chat (pinned)")
    tmux.keys("-l", "hello from [bold]tmux")
    tmux.keys("C-j")
    tmux.keys("-l", "line two")
    tmux.wait_for("line two")
    tmux.keys("Enter")
    tmux.wait_for("You said: hello from [bold]tmux")
    screen = tmux.wait_for("tok/s")  # the badge's speed is written when the reply ends, a frame later
    assert "You said: hello from [bold]tmux" in screen and "chat · qwen2.5-coder-0.5b" in screen
    tmux.keys("-l", "/why")
    tmux.keys("Enter")
    tmux.wait_for("Routing trace")
    tmux.keys("Escape")
    tmux.keys("C-q")
    screen = tmux.wait_for("EXIT=0")
    assert "Traceback" not in screen
    # The terminal is restored: normal screen, cursor shown, mouse reporting off.
    assert tmux.flag("alternate_on") == "0"
    assert tmux.flag("cursor_flag") == "1"
    assert tmux.flag("mouse_any_flag") == "0"
    assert "Type a message" not in screen
