"""Loaded into a child process by tests: every outbound connection attempt is logged and refused.

Connections to AF_UNIX sockets (local IPC) are allowed; anything with a host is recorded
in the file named by NETBLOCK_LOG and fails with ConnectionRefusedError.
"""

import os
import socket

_log = os.environ.get("NETBLOCK_LOG")
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _record(what: str) -> None:
    if _log:
        with open(_log, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")


def _connect(self, address):
    if self.family == socket.AF_UNIX:
        return _real_connect(self, address)
    _record(f"connect {address!r}")
    raise ConnectionRefusedError(f"network blocked by test: {address!r}")


def _connect_ex(self, address):
    if self.family == socket.AF_UNIX:
        return _real_connect_ex(self, address)
    _record(f"connect_ex {address!r}")
    return 111


def _getaddrinfo(host, *args, **kwargs):
    _record(f"getaddrinfo {host!r}")
    raise socket.gaierror(f"name resolution blocked by test: {host!r}")


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
socket.getaddrinfo = _getaddrinfo
