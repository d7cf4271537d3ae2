"""Reading an upload from a path: ordinary files only, never a device or a pipe, within the limit.

Why: `Path.read_bytes()` on /dev/zero never ends and on a FIFO blocks until a writer comes;
both used to be called "a folder". The file is opened without blocking (O_NONBLOCK, so
opening a FIFO returns at once), checked again on the open descriptor (so a file swapped for
a pipe after the first look is still caught), and read to at most one byte past the limit.

Owns: path -> bytes for the importers. Does not know: formats, the library.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

from workbench.errors import UnsupportedDocument
from workbench.importers.sizes import over_limit

_KINDS = ((stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISFIFO, "a pipe"),
          (stat.S_ISSOCK, "a socket"))
LIMIT_HINT = " (LONGHAND_MAX_UPLOAD_BYTES sets it)."


def _refuse_special(mode: int, name: str) -> None:
    if stat.S_ISDIR(mode):
        raise UnsupportedDocument("This is a folder, not a file.", name)
    if not stat.S_ISREG(mode):
        kind = next((label for test, label in _KINDS if test(mode)), "a special file")
        raise UnsupportedDocument(
            f"This is not a regular file (it is {kind}); Longhand imports only ordinary "
            "files and did not read it.", name)


def read_path(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, else UnsupportedDocument."""
    try:
        _refuse_special(path.stat().st_mode, path.name)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise UnsupportedDocument("There is no such file.", str(path)) from None
    except PermissionError:
        raise UnsupportedDocument("The file cannot be read (permission denied).",
                                  str(path)) from None
    except OSError as exc:
        raise UnsupportedDocument(f"The file cannot be read ({exc.strerror}).",
                                  str(path)) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        _refuse_special(info.st_mode, path.name)
        if info.st_size > limit:
            raise UnsupportedDocument(over_limit(info.st_size, limit) + LIMIT_HINT, path.name)
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew while we looked
        raise UnsupportedDocument(over_limit(len(data), limit) + LIMIT_HINT, path.name)
    return data
