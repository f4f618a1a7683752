"""Where and how ``assistant serve`` listens: the loopback/API-key rule, and uvicorn in a thread.

The socket is bound before uvicorn starts, so a taken port is a clear error at once and
port 0 has its real number in :attr:`AssistantServer.url`. uvicorn runs in a thread of its
own: the caller's thread keeps signals, and stopping cancels running turns first (each is
stored as cancelled), so the graceful shutdown never waits on a long reply.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import uvicorn

from assistant.errors import ConfigError
from assistant.pipeline_api import ChatPipeline
from assistant.server.app import create_app
from assistant.server.service import AssistantService
from assistant.server.settings import DEFAULT_KEY_ENV, ServerSettings

SHUTDOWN_S = 10  # seconds (uvicorn takes an int); graceful shutdown: a connection still open after this is dropped
START_S = 30.0


def is_loopback(host: str) -> bool:
    """True when ``host`` only ever means this machine."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback for i in infos)


def check_bind(host: str, api_key: str | None, key_env: str) -> None:
    """Refuse to listen beyond this machine without an API key.

    Raises:
        ConfigError: ``host`` is not loopback and no key is set.
    """
    if not is_loopback(host) and not api_key:
        raise ConfigError(
            f"refusing to listen on {host or 'all interfaces'} without an API key",
            f"set ${key_env} to a secret (clients send it as the API key), or bind to 127.0.0.1",
        )


class AssistantServer:
    """The HTTP server: :meth:`start`, then :meth:`wait` or :meth:`stop`.

    Args:
        service: what the routes call.
        sock: a bound, listening socket; the server owns it from now on.
        verbose: log every request to stderr.
    """

    def __init__(self, service: AssistantService, sock: socket.socket, *, verbose: bool = True) -> None:
        self.service = service
        self._socket = sock
        host, port = self.address
        config = uvicorn.Config(create_app(service), host=host, port=port, lifespan="off", access_log=verbose,
                                log_level="info" if verbose else "warning", timeout_graceful_shutdown=SHUTDOWN_S)
        self._uvicorn = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="assistant-serve", daemon=True)
        # Waits go on this event, never on Thread.join: a join interrupted by a signal (Ctrl-C)
        # can mark a running thread as finished (CPython 3.11, bpo-45274).
        self._done = threading.Event()

    def _run(self) -> None:
        try:
            self._uvicorn.run(sockets=[self._socket])
        finally:
            self._done.set()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._socket.getsockname()[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/v1"

    def start(self) -> None:
        """Serve in the background; returns once uvicorn accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + START_S
        while not self._uvicorn.started and not self._done.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)

    def wait(self) -> None:
        """Block until the server stops (in short waits, so signals reach this thread)."""
        while not self._done.wait(0.2):
            pass

    def stop(self, timeout_s: float = SHUTDOWN_S + 5) -> None:
        """Cancel running turns, stop accepting and close the connections."""
        self.service.cancel_all()
        self._uvicorn.should_exit = True
        if self._thread.is_alive() and not self._done.wait(timeout_s):
            self._uvicorn.force_exit = True
            self._done.wait(2.0)
        if not self._thread.is_alive() or self._done.is_set():
            self._socket.close()


def make_server(pipeline: ChatPipeline, host: str = "127.0.0.1", port: int = 0, *, api_key: str | None = None,
                options: ServerSettings | None = None, key_env: str = DEFAULT_KEY_ENV,
                verbose: bool = True) -> AssistantServer:
    """Bind (after the loopback/API-key check); call ``start()`` on the result.

    Raises:
        ConfigError: non-loopback host without an API key, or the address cannot be bound.
    """
    check_bind(host, api_key, key_env)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host.strip("[]"), port), family=family)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                          "pick another --port, or stop the program using it") from None
    return AssistantServer(AssistantService(pipeline, api_key=api_key, options=options), sock, verbose=verbose)
