"""Installs the socket guard in a Python child of a guarded process (socket_guard.py puts this
folder on PYTHONPATH and names the log in SOCKET_GUARD_LOG); does nothing otherwise."""
import os
import sys

if os.environ.get("SOCKET_GUARD_LOG"):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import socket_guard

    socket_guard.install(os.environ["SOCKET_GUARD_LOG"])
    del sys.path[0]
