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
A Python program cannot catch that signal and carry on, so the guard looks first: it is run when
a connection is opened and each time one is taken from the pool, and while the file is unusable
every use of the store raises ``StoreUnavailable`` (a logged 503) instead of touching it. When
the file is usable again, so is the store.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import struct
import threading

__all__ = ["ShmGuard", "StoreBusy", "StoreUnavailable"]

log = logging.getLogger("medpolicy.store")

_FS_IOC_GETFLAGS = 0x80086601  # _IOR('f', 1, long)
_FS_IMMUTABLE_FL = 0x10
_FS_APPEND_FL = 0x20


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
        self._fd: int | None = None  # kept open on the file, to read its inode flags
        self._fd_inode: int | None = None
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
            st = os.stat(self.path)
        except FileNotFoundError:
            return None  # SQLite creates it
        except OSError as exc:
            return f"cannot be read ({exc.strerror})"
        if not stat.S_ISREG(st.st_mode):
            return "is not a regular file"
        flags = self._flags(st.st_ino)
        if flags & _FS_IMMUTABLE_FL:
            return "was made immutable (chattr +i)"
        if flags & _FS_APPEND_FL:
            return "was made append-only (chattr +a)"
        with self._lock:
            if st.st_ino != self._inode:
                self._inode, self._largest = st.st_ino, 0
            if st.st_size < self._largest:
                return f"was truncated to {st.st_size} bytes (it had {self._largest})"
            if record_size:
                self._largest = max(self._largest, st.st_size)
        return None


    def _flags(self, inode: int) -> int:
        """The file's inode flags (``lsattr``), 0 where the file system keeps none. Read
        through a descriptor kept open on the file (opened again when the file is replaced)."""
        with self._lock:
            if self._fd is None or self._fd_inode != inode:
                if self._fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(self._fd)
                    self._fd = None
                try:
                    self._fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
                except OSError:
                    return 0
                self._fd_inode = inode
            try:
                packed = fcntl.ioctl(self._fd, _FS_IOC_GETFLAGS, bytes(8))
            except OSError as exc:
                if exc.errno not in (errno.ENOTTY, errno.EINVAL, errno.EOPNOTSUPP):
                    log.debug("reading the inode flags of %s failed: %s", self.path, exc)
                return 0
        return int(struct.unpack("l", packed)[0])
