"""TUI responsiveness in a real terminal (tmux): time to first paint, time until typing is
accepted, and keystroke echo latency while a reply streams at full speed.

    .venv/bin/python benchmarks/tui_startup.py [--runs 5] [--modes fake,real]

Prints one JSON object (medians over runs). Targets (BENCHMARKS.md): typing accepted <= 1 s
after launch; echo while streaming stays immediate (reported with the idle echo as a ratio).
"real" launches the app on the configured pipeline (models and embedder load behind it);
"fake" uses ASSISTANT_TUI_FAKE=1; "minimal" is a bare Textual app (Static + TextArea), the
floor on this machine, reported as a ratio. Needs tmux. Timings include tmux's own polling (~5 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOCKET = f"assistant-tui-bench-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True, timeout=10).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", "b")


def prompt_line(text: str) -> str:
    """The first line inside the prompt box (the rounded box at the bottom)."""
    lines = text.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if "╭" in lines[i] and i + 1 < len(lines):
            inner = lines[i + 1]
            start = inner.find("│")
            return inner[start + 1 :].rstrip().rstrip("│").strip() if start >= 0 else ""
    return ""


def wait(pred, timeout: float = 20.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if pred(screen()):
            return time.perf_counter()
        time.sleep(0.003)  # polling tmux back-to-back starves the pane's input on 2 cores
    raise TimeoutError("screen condition not met; screen:\n" + screen())


MINIMAL_APP = (
    "from textual.app import App; from textual.widgets import TextArea, Static\n"
    "class M(App):\n"
    "    def compose(self):\n"
    "        yield Static('Type a message')\n"
    "        yield TextArea(id='t')\n"
    "M().run()\n"
)


def launch(env: dict[str, str], minimal: bool = False) -> float:
    tmux("kill-server")
    time.sleep(0.3)  # let the old server go before a new one takes the socket
    tmux("new-session", "-d", "-s", "b", "-x", "110", "-y", "32", "bash --norc --noprofile")
    tmux("set-option", "-t", "b", "status", "off")
    time.sleep(0.3)
    if minimal:
        script = Path(tempfile.gettempdir()) / f"tui-bench-minimal-{os.getpid()}.py"
        script.write_text(MINIMAL_APP)
    target = shlex.quote(str(script)) if minimal else "-m assistant"
    command = "cd {} && env {} {} {}".format(
        shlex.quote(str(REPO)), " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()), shlex.quote(sys.executable), target)
    tmux("send-keys", "-t", "b", command, "Enter")
    return time.perf_counter()


def startup(env: dict[str, str], minimal: bool = False) -> dict[str, float]:
    t0 = launch(env, minimal)
    painted = wait(lambda s: "Type a message" in s)
    tmux("send-keys", "-t", "b", "-l", "x")
    typed = wait(lambda s: ("x" in s.split("Type a message")[1]) if minimal else prompt_line(s) == "x")
    quit_app()
    return {"first_paint_s": painted - t0, "typing_accepted_s": typed - t0}


def quit_app() -> None:
    tmux("send-keys", "-t", "b", "C-q")
    time.sleep(0.5)


def echo_latencies(chars: str) -> list[float]:
    out = []
    typed = prompt_line(screen())
    for ch in chars:
        typed += ch
        t0 = time.perf_counter()
        tmux("send-keys", "-t", "b", "-l", ch)
        out.append((wait(lambda s, want=typed: prompt_line(s) == want, 5) - t0) * 1000)
    return out


def streaming_echo(env: dict[str, str]) -> dict[str, float]:
    launch({**env, "ASSISTANT_TUI_FAKE_DELAY": "0.002", "ASSISTANT_TUI_FAKE_WARMUP": "0"})
    wait(lambda s: "Type a message" in s)
    time.sleep(0.5)
    idle = echo_latencies("abcdefgh")
    for _ in "abcdefgh":
        tmux("send-keys", "-t", "b", "BSpace")
    wait(lambda s: prompt_line(s) == "")
    # A 1500-token reply at 500 tokens/s (3 s), about 18x the real decode rate.
    tmux("set-buffer", "-b", "long", " ".join(f"w{i}" for i in range(1500)))
    tmux("paste-buffer", "-p", "-b", "long", "-t", "b")
    wait(lambda s: "w1499" in s)
    tmux("send-keys", "-t", "b", "Enter")
    wait(lambda s: "You said: w0" in s)
    busy = echo_latencies("ijklmnopqrst")
    still_streaming = "tok/s" not in screen()
    quit_app()
    return {"idle_echo_ms": statistics.median(idle), "streaming_echo_ms": statistics.median(busy),
            "streaming_echo_max_ms": max(busy), "still_streaming_after": still_streaming}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--modes", default="fake,real,minimal")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tui-bench-"))
    (home / "config.toml").write_text("")
    base = {"ASSISTANT_HOME": str(home), "ASSISTANT_CONFIG": str(home / "config.toml"), "TERM": "xterm-256color"}
    # Real mode keeps the user's own data dir (models) but a throwaway config.
    result: dict[str, object] = {"runs": args.runs}
    try:
        for mode in args.modes.split(","):
            env = {**base, "ASSISTANT_TUI_FAKE": "1"} if mode == "fake" else {
                "ASSISTANT_CONFIG": base["ASSISTANT_CONFIG"], "TERM": base["TERM"]}
            runs = [startup(env, mode == "minimal") for _ in range(args.runs)]
            result[f"{mode}_first_paint_s_median"] = round(statistics.median(r["first_paint_s"] for r in runs), 3)
            result[f"{mode}_typing_accepted_s_median"] = round(statistics.median(r["typing_accepted_s"] for r in runs), 3)
            result[f"{mode}_typing_accepted_s_all"] = [round(r["typing_accepted_s"], 3) for r in runs]
        echo = [streaming_echo({**base, "ASSISTANT_TUI_FAKE": "1"}) for _ in range(max(1, args.runs // 2))]
        idle = statistics.median(e["idle_echo_ms"] for e in echo)
        busy = statistics.median(e["streaming_echo_ms"] for e in echo)
        result.update({
            "idle_echo_ms_median": round(idle, 1),
            "streaming_echo_ms_median": round(busy, 1),
            "streaming_echo_ms_worst": round(max(e["streaming_echo_max_ms"] for e in echo), 1),
            "streaming_over_idle_ratio": round(busy / idle, 2) if idle else None,
            "measured_while_streaming": all(e["still_streaming_after"] for e in echo),
            "target_typing_accepted_s": 1.0,
            "fake_over_minimal_textual_app_ratio": round(
                result["fake_typing_accepted_s_median"] / result["minimal_typing_accepted_s_median"], 2)
            if "minimal_typing_accepted_s_median" in result and "fake_typing_accepted_s_median" in result else None,
        })
    finally:
        tmux("kill-server")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
