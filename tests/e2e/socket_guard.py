"""A socket guard for privacy tests: refuse and record every connection that leaves loopback.

`install(log_path)` patches the socket module of the current process: connect/connect_ex/
sendto/sendmsg to a non-loopback address and name look-ups of non-local hosts (getaddrinfo,
gethostbyname[_ex], gethostbyaddr) raise OSError *before* the real call, so nothing is sent,
and are appended (one JSON object per line) to `log_path`. Unix-domain sockets are local and
allowed. asyncio and every HTTP client go through these calls, so they are covered too.
Run as a wrapper: `python socket_guard.py LOG SCRIPT ARGS...` installs the guard, then runs
SCRIPT as __main__ (so the app under test is guarded from its first import); it also exports
SOCKET_GUARD_LOG and puts guard_site/ (a sitecustomize) on PYTHONPATH, so every Python child
process the app starts is guarded from its first line and logs to the same file.
Does not see native code that opens sockets itself (Rust/C libraries), nor non-Python children.
"""
from __future__ import annotations

import ipaddress
import json
import os
import runpy
import socket
import sys
import threading
from pathlib import Path

LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}
ENV_LOG = "SOCKET_GUARD_LOG"
SITE_DIR = Path(__file__).with_name("guard_site")
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
            f.write(json.dumps({"kind": kind, "target": repr(target), "pid": os.getpid()})
                    + "\n")

    def refuse(kind: str, target, what: str):
        record(kind, target)
        return ConnectionRefusedError(f"socket guard: refused {what} {target!r}")

    real = {"connect": socket.socket.connect, "connect_ex": socket.socket.connect_ex,
            "sendto": socket.socket.sendto, "sendmsg": socket.socket.sendmsg,
            "getaddrinfo": socket.getaddrinfo, "gethostbyname": socket.gethostbyname,
            "gethostbyname_ex": socket.gethostbyname_ex,
            "gethostbyaddr": socket.gethostbyaddr}

    def connect(self, address):
        if not _is_local_address(self.family, address):
            raise refuse("connect", address, "connection to")
        return real["connect"](self, address)

    def connect_ex(self, address):
        if not _is_local_address(self.family, address):
            record("connect", address)
            return 111  # ECONNREFUSED
        return real["connect_ex"](self, address)

    def sendto(self, data, *args):
        address = args[-1]
        if not _is_local_address(self.family, address):
            raise refuse("sendto", address, "datagram to")
        return real["sendto"](self, data, *args)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        if address is not None and not _is_local_address(self.family, address):
            raise refuse("sendto", address, "datagram to")
        if address is None:
            return real["sendmsg"](self, buffers, ancdata, flags)
        return real["sendmsg"](self, buffers, ancdata, flags, address)

    def resolver(name: str):
        def look_up(host, *args, **kwargs):
            if not _is_local_host(host):
                record("resolve", host)
                raise socket.gaierror(socket.EAI_NONAME,
                                      f"socket guard: refused look-up of {host}")
            return real[name](host, *args, **kwargs)
        return look_up

    _originals.update(real)
    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    socket.socket.sendmsg = sendmsg
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex", "gethostbyaddr"):
        setattr(socket, name, resolver(name))


def uninstall() -> None:
    if not _originals:
        return
    for name in ("connect", "connect_ex", "sendto", "sendmsg"):
        setattr(socket.socket, name, _originals.pop(name))
    for name in list(_originals):
        setattr(socket, name, _originals.pop(name))


def guard_children(log_path: str) -> None:
    """Make every Python child process install the guard first thing (guard_site/)."""
    os.environ[ENV_LOG] = str(log_path)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(SITE_DIR), os.environ.get("PYTHONPATH")) if p)


def read_log(log_path) -> list[dict]:
    try:
        with open(log_path, encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


if __name__ == "__main__":
    log, script, *rest = sys.argv[1:]
    install(log)
    guard_children(log)
    sys.argv = [script, *rest]
    sys.path.insert(0, str(__import__("pathlib").Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")
