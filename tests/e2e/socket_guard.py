"""A socket guard for privacy tests: refuse and record every connection that leaves loopback.

`install(log_path)` patches the socket module of the current process: connect/connect_ex/sendto
to a non-loopback address and name look-ups of non-local hosts raise OSError and are appended
(one JSON object per line) to `log_path`. Unix-domain sockets are local and allowed.
Run as a wrapper: `python socket_guard.py LOG SCRIPT ARGS...` installs the guard, then runs
SCRIPT as __main__ (so the app under test is guarded from its first import).
"""
from __future__ import annotations

import ipaddress
import json
import runpy
import socket
import sys
import threading

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}
_lock = threading.Lock()
_originals: dict[str, object] = {}


def _is_local_host(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).split("%")[0]
    if host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_local_address(family, address) -> bool:
    if family == getattr(socket, "AF_UNIX", None) or not isinstance(address, tuple):
        return True
    return _is_local_host(address[0])


def install(log_path: str) -> None:
    """Patch the socket module; idempotent. `uninstall()` restores it."""
    if _originals:
        return

    def record(kind: str, target) -> None:
        with _lock, open(log_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"kind": kind, "target": repr(target)}) + "\n")

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if not _is_local_address(self.family, address):
            record("connect", address)
            raise ConnectionRefusedError(f"socket guard: refused connection to {address!r}")
        return real_connect(self, address)

    def connect_ex(self, address):
        if not _is_local_address(self.family, address):
            record("connect", address)
            return 111  # ECONNREFUSED
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        address = args[-1]
        if not _is_local_address(self.family, address):
            record("sendto", address)
            raise ConnectionRefusedError(f"socket guard: refused datagram to {address!r}")
        return real_sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_local_host(host):
            record("resolve", host)
            raise socket.gaierror(socket.EAI_NONAME, f"socket guard: refused look-up of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    _originals.update(connect=real_connect, connect_ex=real_connect_ex, sendto=real_sendto,
                      getaddrinfo=real_getaddrinfo)
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    socket.getaddrinfo = getaddrinfo


def uninstall() -> None:
    if not _originals:
        return
    socket.socket.connect = _originals.pop("connect")
    socket.socket.connect_ex = _originals.pop("connect_ex")
    socket.socket.sendto = _originals.pop("sendto")
    socket.getaddrinfo = _originals.pop("getaddrinfo")


def read_log(log_path) -> list[dict]:
    try:
        with open(log_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


if __name__ == "__main__":
    log, script, *rest = sys.argv[1:]
    install(log)
    sys.argv = [script, *rest]
    sys.path.insert(0, str(__import__("pathlib").Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")
