"""Where a command may write a file the user named (an export zip, an artifact): never over the
library's own files, never over an existing file unless asked to, and never half a file.

Why here: only the library knows which files are its own: the SQLite file with its -wal, -shm
and -journal sidecars (originals live inside the database), and the storage folders in the data
dir (`adapters/`). A path counts as the library's when, after resolving symlinks and `..`, it
names one of those files or lies inside one of those folders, or when it is the same file
(device and inode) as one of them, so a symlink, a hard link or another spelling of the path
is caught too. Even `overwrite=True` (`--force`) never writes there.

The bytes go to a temporary file in the target's folder, which is fsynced and then linked or
renamed into place (and the folder fsynced): a crash leaves the old file or the new one, never
a mix, and a stale temp file at worst. Without `overwrite` the new file is hard-linked into
place, which fails if a file appeared there in the meantime, so nothing is clobbered in a race.
Does not know: what is written (a zip, Markdown) or who asked (CLI, UI, Python).
"""
from __future__ import annotations

import errno
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from workbench.errors import OutputRefused

DB_SIDECARS = ("", "-wal", "-shm", "-journal")
STORAGE_DIRS = ("adapters", "originals")
FORCE_HINT = "add --force (overwrite=True in Python) to replace it"


class LibraryFiles:
    """The files and folders a Library owns, to check a write target against."""

    def __init__(self, data_dir: Path, db_path: Path):
        self.db_files = [Path(str(db_path) + suffix) for suffix in DB_SIDECARS]
        self.storage = [Path(data_dir) / name for name in STORAGE_DIRS]

    def check_target(self, target: str | Path, overwrite: bool) -> Path:
        """The target as given (made absolute), or OutputRefused saying why not."""
        target = Path(os.path.abspath(Path(target).expanduser()))
        real = Path(os.path.realpath(target))
        if self._is_own(target, real):
            raise OutputRefused(
                f"{target} is one of the library's own files; writing there would destroy "
                "the library. Choose a path outside the database and the adapters folder.")
        if real.is_dir():
            raise OutputRefused(f"{target} is a folder; give the name of a file to write.")
        if os.path.lexists(target) and not overwrite:
            raise OutputRefused(f"{target} already exists; {FORCE_HINT}.")
        if os.path.lexists(target) and not (real.is_file() or not real.exists()):
            raise OutputRefused(f"{target} is not a regular file; choose another path.")
        return target

    def _is_own(self, target: Path, real: Path) -> bool:
        own_files = [Path(os.path.realpath(p)) for p in self.db_files]
        own_dirs = [Path(os.path.realpath(p)) for p in self.storage]
        if real in own_files or any(real.is_relative_to(d) for d in own_dirs):
            return True
        if real.exists() and any(_same(real, own) for own in self.db_files):
            return True  # a hard link to the database
        existing = [p for p in (real, *real.parents) if p.exists()]
        if any(_same(p, d) for p in existing for d in self.storage):
            return True  # inside a storage folder, spelled another way (case, bind mount)
        names = {p.name.casefold() for p in self.db_files}
        return (real.name.casefold() in names
                and _same(real.parent, self.db_files[0].parent))  # a sidecar, any case


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@contextmanager
def atomic_output(target: Path, overwrite: bool) -> Iterator[BinaryIO]:
    """A binary file to write; on a clean exit it becomes `target`, on an error it vanishes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:60]}.",
                                    suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w+b") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        _place(tmp, target, overwrite)
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _place(tmp: Path, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, target)
        return
    try:
        os.link(tmp, target)  # fails if the name was taken since the check: no clobbering
    except FileExistsError:
        raise OutputRefused(f"{target} already exists; {FORCE_HINT}.") from None
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        if os.path.lexists(target):  # a file system without hard links: check, then rename
            raise OutputRefused(f"{target} already exists; {FORCE_HINT}.") from None
        os.replace(tmp, target)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # e.g. Windows, where folders cannot be opened; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
