"""Per-model FIFO queueing, the loopback/API-key rule, and the serve command."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from openai import OpenAI

from assistant.backends.fake import FakeBackend
from assistant.cli import main
from assistant.errors import ConfigError
from assistant.memory.store import Store
from assistant.server.queues import KeyedQueue
from assistant.server.runner import check_bind, is_loopback, make_server
from tests.server.conftest import FakeModels, passing_through


def test_keyed_queue_is_first_come_first_served_and_exclusive():
    queue, order, inside = KeyedQueue(), [], []
    first_in = threading.Event()
    release = threading.Event()

    def worker(name: str) -> None:
        with queue.hold("m"):
            inside.append(name)
            assert len(inside) == 1, "two holders at once"
            if name == "a":
                first_in.set()
                release.wait(5)
            order.append(name)
            inside.remove(name)

    threads = [threading.Thread(target=worker, args=("a",))]
    threads[0].start()
    assert first_in.wait(5)
    for n, name in enumerate("bcde", start=2):
        threads.append(threading.Thread(target=worker, args=(name,)))
        threads[-1].start()
        deadline = time.monotonic() + 5
        while queue.depth("m") < n and time.monotonic() < deadline:
            time.sleep(0.005)
    with queue.hold("other"):  # another key never waits for "m"
        pass
    release.set()
    for t in threads:
        t.join(5)
    assert order == list("abcde") and queue.depth("m") == 0


class UnlockedBackend(FakeBackend):
    """A backend that does NOT serialize its generations (each runs on a fresh FakeBackend) and
    records how many overlap: only the server's per-model queue can keep them apart."""

    guard = threading.Lock()
    active = 0
    most = 0

    def stream(self, request):
        def pieces(inner):
            with self.guard:
                type(self).active += 1
                type(self).most = max(self.most, self.active)
            try:
                yield from inner
            finally:
                with self.guard:
                    type(self).active -= 1

        return passing_through(FakeBackend(self.name, delay_s=self.delay_s).stream(request), pieces)


def test_server_queues_generations_per_model(make_pipeline, serve_pipeline):
    pipeline = make_pipeline(FakeModels(lambda name: UnlockedBackend(name, delay_s=0.003)))
    served = serve_pipeline(pipeline)
    client = OpenAI(base_url=served.url, api_key="x", max_retries=0, timeout=60)

    def ask(i: int) -> str:
        model = "assistant/chat" if i % 2 else "assistant/code"  # two skills, one model
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": f"q {i}"}]
                                              ).choices[0].message.content

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(ask, range(6)))
    assert answers == [f"You said: q {i}" for i in range(6)]
    assert UnlockedBackend.most == 1


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                            ("localhost", True), ("0.0.0.0", False), ("", False),
                                            ("192.168.1.20", False), ("::", False)])
def test_loopback_detection(host, loopback):
    assert is_loopback(host) is loopback


def test_non_loopback_bind_needs_an_api_key(pipeline):
    with pytest.raises(ConfigError) as err:
        check_bind("0.0.0.0", None, "MY_KEY")
    assert "without an API key" in err.value.message and "$MY_KEY" in err.value.hint
    check_bind("0.0.0.0", "secret", "MY_KEY")  # allowed with a key
    check_bind("127.0.0.1", None, "MY_KEY")
    with pytest.raises(ConfigError):
        make_server(pipeline, "192.168.1.20", 0)  # refused before binding


def test_serve_command_refuses_non_loopback_without_key(capsys, monkeypatch):
    monkeypatch.delenv("ASSISTANT_SERVE_API_KEY", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to listen on 0.0.0.0 without an API key" in err and "ASSISTANT_SERVE_API_KEY" in err
    monkeypatch.delenv("TEAM_KEY", raising=False)
    assert main(["serve", "--api-key-env", "TEAM_KEY"]) == 2
    assert "$TEAM_KEY, which is not set" in capsys.readouterr().err
    assert main(["serve", "--port", "70000"]) == 2


def test_a_taken_port_is_a_clear_error(pipeline):
    first = make_server(pipeline, "127.0.0.1", 0, verbose=False)
    try:
        with pytest.raises(ConfigError) as err:
            make_server(pipeline, "127.0.0.1", first.address[1])
        assert "cannot listen on 127.0.0.1" in err.value.message and "--port" in err.value.hint
    finally:
        first.stop()


def test_serve_runs_until_sigterm_and_cancels_running_turns(capsys, make_pipeline):
    from assistant.cli.serve_cmd import run_until_stopped

    pipeline = make_pipeline(FakeModels(lambda name: FakeBackend(name, script=lambda r: "w " * 2000, delay_s=0.002)))
    server = make_server(pipeline, "127.0.0.1", 0, verbose=False)
    answers = []

    def client_then_stop():
        client = OpenAI(base_url=server.url, api_key="x", max_retries=0, timeout=30)
        answers.append(client.chat.completions.create(model="assistant/chat",
                                                      messages=[{"role": "user", "content": "hi"}]))
        stream = client.chat.completions.create(model="assistant/chat", messages=[{"role": "user", "content": "long"}],
                                                stream=True)
        next(iter(stream))  # a turn is running when the server is told to stop
        os.kill(os.getpid(), signal.SIGTERM)

    timer = threading.Timer(0.2, client_then_stop)
    timer.start()
    assert run_until_stopped(server, pipeline) == 0
    timer.join(10)
    assert answers[0].choices[0].message.content.startswith("w w ")
    store = Store.open(pipeline.settings.db_path)  # run_until_stopped closed the pipeline
    statuses = sorted(store.messages(c.id)[-1].status for c in store.list_conversations())
    store.close()
    assert statuses == ["cancelled", "complete"]
    assert "stopping" in capsys.readouterr().err
