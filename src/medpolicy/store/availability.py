"""When the store cannot take work now: the errors that say so, and the SQLite -shm guard.

``StoreBusy``: a write waited its bounded time (``lock_timeout``) for the database's write lock,
held by another process (or another writer here), and gave up; nothing was written. The service
answers 503 with ``Retry-After``.

``StoreUnavailable``: the store cannot be used at all now (e.g. its shared-memory file is
unwritable); nothing was read or written.

``ShmGuard`` checks a SQLite database's ``-shm`` file before any connection touches it. SQLite
maps that file into memory and writes the WAL index through the mapping: if the file has been
made unwritable (``chattr +i``) or truncated under a running process, the next write through the
mapping is a SIGBUS, and the process dies at once, with no exception and no log line (exit 135).
A Python program cannot catch that signal and carry on, so the guard looks first (with ``statx``,
never opening the file): it is run when a connection is opened and each time the store takes one
(``StoreConnection.connect``), and while the file is unusable
every use of the store raises ``StoreUnavailable`` (a logged 503) instead of touching it. When
the file is usable again, so is the store.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import stat
import struct
import threading
from typing import Any, NamedTuple

__all__ = ["ShmGuard", "StoreBusy", "StoreUnavailable"]

log = logging.getLogger("medpolicy.store")


class StoreUnavailable(Exception):
    """The store cannot be used now; nothing was read or written. Retry later."""


class StoreBusy(StoreUnavailable):
    """A write waited its bounded time for the write lock and gave up; nothing was written."""


class ShmGuard:
    """Is the ``-shm`` file of the SQLite database at ``database`` safe to map and write?"""

    def __init__(self, database: str) -> None:
        self.path = f"{database}-shm"
        self._lock = threading.Lock()
        self._inode: int | None = None
        self._largest = 0
        self.problem: str | None = None  # the last check's finding, None when usable

    def check(self, *, record_size: bool = True) -> None:
        """Raise ``StoreUnavailable`` if the file is unusable now (logging each change of state).

        ``record_size``: remember the file's size, so that a later, smaller one is seen as
        truncated (not while a connection is being opened: SQLite itself may then start the
        file over)."""
        problem = self._inspect(record_size)
        with self._lock:
            changed, self.problem = problem != self.problem, problem
        if changed and problem is not None:
            log.error(
                "case store unavailable: the SQLite shared-memory file %s %s; refusing to use "
                "the store until it is fixed (a write through it would kill the process)",
                self.path,
                problem,
            )
        elif changed:
            log.warning("case store available again: %s is usable", self.path)
        if problem is not None:
            raise StoreUnavailable(f"the store's shared-memory file {problem}")

    def _inspect(self, record_size: bool) -> str | None:
        try:
            found = _statx(self.path)
        except FileNotFoundError:
            return None  # SQLite creates it
        except OSError as exc:
            return f"cannot be read ({exc.strerror})"
        if not stat.S_ISREG(found.mode):
            return "is not a regular file"
        if found.attributes & _STATX_ATTR_IMMUTABLE:
            return "was made immutable (chattr +i)"
        if found.attributes & _STATX_ATTR_APPEND:
            return "was made append-only (chattr +a)"
        with self._lock:
            if found.inode != self._inode:
                self._inode, self._largest = found.inode, 0
            if found.size < self._largest:
                return f"was truncated to {found.size} bytes (it had {self._largest})"
            if record_size:
                self._largest = max(self._largest, found.size)
        return None


class _Found(NamedTuple):
    mode: int
    inode: int
    size: int
    attributes: int  # STATX_ATTR_* (0 where the kernel or file system reports none)


# Read without opening the file: SQLite holds POSIX locks on it, and closing any descriptor of a
# file releases every such lock the process holds on it.
_STATX_ATTR_IMMUTABLE = 0x10
_STATX_ATTR_APPEND = 0x20
_AT_FDCWD = -100
_STATX_BASIC_STATS = 0x7FF
try:
    _LIBC_STATX: Any = ctypes.CDLL(None, use_errno=True).statx
except (AttributeError, OSError):  # no statx in this C library: attributes are not read
    _LIBC_STATX = None


def _statx(path: str) -> _Found:
    if _LIBC_STATX is not None:
        buffer = ctypes.create_string_buffer(256)
        if _LIBC_STATX(_AT_FDCWD, os.fsencode(path), 0, _STATX_BASIC_STATS, buffer) == 0:
            attributes = struct.unpack_from("<Q", buffer, 8)[0]
            mode = struct.unpack_from("<H", buffer, 28)[0]
            inode, size = struct.unpack_from("<QQ", buffer, 32)
            return _Found(mode, inode, size, attributes)
        code = ctypes.get_errno()
        if code == errno.ENOENT:
            raise FileNotFoundError(code, os.strerror(code), path)
        if code != errno.ENOSYS:  # ENOSYS: no statx in this kernel, as below
            raise OSError(code, os.strerror(code), path)
    st = os.stat(path)
    return _Found(st.st_mode, st.st_ino, st.st_size, 0)
