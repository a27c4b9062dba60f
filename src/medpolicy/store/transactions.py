"""``StoreConnection``: how the case store uses its database, with every wait bounded.

Every use of the store takes a connection from ``connect`` (after the SQLite -shm guard) and every
write runs in ``transaction``, which waits at most ``lock_timeout`` for the write lock, or not at
all on the event loop, then raises ``StoreBusy`` having written nothing. ``readiness`` answers
whether a write could commit now, without waiting for anyone. ``CaseStore`` builds on it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from medpolicy.store.availability import StoreBusy, StoreUnavailable
from medpolicy.store.database import LOCK_TIMEOUT, WalCheckpointer, is_sqlite, shm_guard
from medpolicy.store.schema import audit_head

__all__ = ["StoreConnection"]

log = logging.getLogger("medpolicy.store")


class StoreConnection:
    """One database, used with bounded waits (``medpolicy.store.availability``)."""

    def __init__(self, engine: Engine, lock_timeout: float = LOCK_TIMEOUT) -> None:
        self.engine = engine
        self.lock_timeout = lock_timeout
        # Held by every write transaction on SQLite (one writer at a time): see ``transaction``.
        self._writer_lock = threading.Lock()
        self._wal: WalCheckpointer | None = None
        self._guard = shm_guard(engine)
        # Since when writes have been failing for want of the store (None: the last one worked).
        self._failing_since: float | None = None

    def close(self) -> None:
        """Stop the background threads and close the database connections.

        Not while the SQLite -shm file is unusable: closing the last connection writes to it
        (a SIGBUS that would kill the process on its way out), so the connections are left open
        for the process's exit (``ShmGuard``)."""
        if self._wal is not None:
            self._wal.stop()
        if self._guard is not None:
            try:
                self._guard.check()
            except StoreUnavailable:
                log.error("case store left open: closing it would write to %s", self._guard.path)
                _keep_open(self.engine)
                return
        self.engine.dispose()

    def checkpoint_in_background(
        self, checkpointer: WalCheckpointer | None = None
    ) -> WalCheckpointer:
        """On SQLite, checkpoint the WAL from a background thread (with the writers' help to
        start it over), until ``close``; what a long-running service does. ``checkpointer``:
        one with other settings than ``WalCheckpointer``'s own (tests)."""
        if self._wal is None:
            self._wal = checkpointer or WalCheckpointer(self.engine)
            self._wal.start()
        return self._wal

    def connect(self) -> Connection:
        """A connection to the store; every use of the store takes one here. On SQLite, first
        the -shm guard: ``StoreUnavailable`` while that file is unusable, so that no connection
        touches it (``medpolicy.store.availability``)."""
        if self._guard is not None:
            self._guard.check()
        return self.engine.connect()

    def readiness(self) -> tuple[bool, str]:
        """Can this store commit a write now? (ready, what is wrong or "ready"). Never waits
        for a lock: on SQLite it tries the write lock without waiting (and lets it go at once),
        on PostgreSQL it asks the server whether it takes writes (within the statement
        timeout)."""
        try:
            if is_sqlite(self.engine):
                return self._sqlite_readiness()
            return self._postgresql_readiness()
        except StoreUnavailable as exc:
            return False, str(exc)
        except SQLAlchemyError as exc:
            return False, f"the database cannot be reached ({type(exc).__name__})"

    def _postgresql_readiness(self) -> tuple[bool, str]:
        """Can the lock every write takes (the audit chain's head row) be had within a moment?"""
        with self.connect() as conn, conn.begin() as trans:
            if conn.exec_driver_sql("SHOW transaction_read_only").scalar() == "on":
                return False, "the database takes no writes (read-only)"
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {_PROBE_MS}")
            try:
                conn.execute(_PROBE_HEAD).all()
            except OperationalError:
                return False, "another session holds the lock every write needs"
            finally:
                trans.rollback()
        return True, "ready"

    def _sqlite_readiness(self) -> tuple[bool, str]:
        if not self._writer_lock.acquire(blocking=False):
            # A writer here holds the lock: ready unless writes have been failing.
            if self._failing_since is None:
                return True, "ready"
            return False, "writes are failing: the database's write lock is held elsewhere"
        try:
            with self.connect() as conn:
                options = {"sqlite_begin": "IMMEDIATE", "sqlite_busy_ms": _PROBE_MS}
                try:
                    with conn.execution_options(**options).begin() as trans:
                        trans.rollback()
                except OperationalError as exc:
                    if not _busy(exc):
                        raise
                    return False, "another process holds the database's write lock"
        finally:
            self._writer_lock.release()
        return True, "ready"

    def _write_failed(self) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self, wait: bool = True, timeout: float | None = None) -> Iterator[Connection]:
        """One write transaction, waiting at most ``lock_timeout`` (or ``timeout``, if shorter)
        for the write lock (not at all when ``wait`` is False, e.g. on the event loop): else
        ``StoreBusy``, nothing written.

        On SQLite, writers in this process queue on a lock (SQLite has one writer at a time, and
        its busy handler sleeps in steps of up to 100 ms), then take the database's write lock up
        front (BEGIN IMMEDIATE) in case another process writes too. After the commit, still
        holding the lock, a writer finishes a long WAL when the background checkpointer asks
        (``WalCheckpointer.finish``). On PostgreSQL, the server's ``lock_timeout`` bounds the
        waits."""
        if not is_sqlite(self.engine):
            try:
                with self.connect() as conn, conn.begin():
                    yield conn
            except OperationalError as exc:  # a lock or statement timeout, or the server gone
                self._write_failed()
                if getattr(exc.orig, "sqlstate", None) in _PG_TIMED_OUT:
                    # Nothing was committed; a batch must not be retried item by item, each
                    # waiting its own lock timeout.
                    raise StoreBusy("a lock the write needs was held elsewhere too long") from exc
                raise
            self._failing_since = None
            return
        limit = self.lock_timeout if timeout is None else min(timeout, self.lock_timeout)
        deadline = time.monotonic() + limit
        acquired = (
            self._writer_lock.acquire(timeout=limit)
            if wait
            else self._writer_lock.acquire(blocking=False)
        )
        if not acquired:
            self._write_failed()
            raise StoreBusy("another write here held the store's write lock too long")
        try:
            with self.connect() as conn:
                busy_ms = max(0, int((deadline - time.monotonic()) * 1000)) if wait else 0
                conn = conn.execution_options(sqlite_begin="IMMEDIATE", sqlite_busy_ms=busy_ms)
                try:
                    transaction = conn.begin()
                except OperationalError as exc:
                    if not _busy(exc):
                        raise
                    self._write_failed()
                    raise StoreBusy("another process holds the database's write lock") from None
                with transaction:
                    yield conn
                self._failing_since = None
                if self._wal is not None:
                    self._wal.finish(conn)
        finally:
            self._writer_lock.release()


# PostgreSQL's lock_not_available (lock_timeout) and query_canceled (statement_timeout).
_PG_TIMED_OUT = frozenset({"55P03", "57014"})
# A readiness probe waits this long (ms) for the write lock: a write in progress is not an outage.
_PROBE_MS = 250
_PROBE_HEAD = select(audit_head.c.seq).where(audit_head.c.id == 1).with_for_update()


def _busy(exc: OperationalError) -> bool:
    """SQLite's "database is locked": another connection holds the lock this one needs."""
    return getattr(exc.orig, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_BUSY_SNAPSHOT")


# Engines whose connections must never be closed (``CaseStore.close``): kept alive to the end.
_NEVER_CLOSED: list[Engine] = []


def _keep_open(engine: Engine) -> None:
    _NEVER_CLOSED.append(engine)
    # Count one more reference than anything holds, so that the interpreter's exit never
    # deallocates the engine (and closes its connections) either.
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(engine))
