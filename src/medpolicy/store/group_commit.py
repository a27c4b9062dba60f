"""Group commit: concurrent submissions share one transaction, so they share one commit.

Every submission appends to the one audit hash chain, so their transactions serialize on the chain
head; one transaction each means one log flush (fsync) each while holding it. Instead, a writer
thread takes whatever submissions are waiting (up to ``max_batch``), writes them all in one
transaction and commits once; each caller's future resolves only after that commit, so a
submission is still durable before it is acknowledged. With one submission waiting, this is one
transaction as before.

What a batch writes is up to ``write_batch(conn, items)``, which returns one result per item: by
default each item is a ``write(conn)`` callable run in turn, but the case store passes a writer
that inserts a whole batch with one statement per table. Callers either block (``run``), take a
thread future (``submit``), or await an asyncio future (``submit_async``): an event loop then
serves other requests while the batch commits, and is woken once per batch, not once per item.

With ``inline_async`` (for SQLite), ``submit_async`` batches in the caller's event loop instead:
the submissions that arrive during one pass of the loop are written at the start of the next, by
the loop's own thread. SQLite's writes are in-process and brief, and a writer thread would have to
win the interpreter lock back from the busy loop after every statement (measured: a batch of 25
took 25 ms of wall time for 5.5 ms of work), so the loop writing is both faster and steadier.
While ``writable()`` says a write would have to wait (another thread holds the store's writer
lock, e.g. for a reviewer's action written from a worker thread), the loop does not block on it:
it goes on serving requests and tries again a millisecond later, with whatever has been
submitted meanwhile. The loop never waits for the database's lock either: it begins its
transaction with ``transaction(wait=False)``, and when that raises ``busy`` (another
process holds the write lock) it keeps the batch and tries again, backing off from 1 to 50 ms,
until a submission has waited ``wait_limit`` seconds: that one fails with the ``busy``
error (the service answers 503). Reads, health checks and the web app go on meanwhile.

If any write in a batch fails (e.g. a duplicate idempotency key racing in), the batch is rolled
back and its items are retried one transaction each, so one failure never fails the others; a
batch that could not even begin (``busy``) fails as a whole, not item by item.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

__all__ = ["GroupCommit"]

Item = TypeVar("Item")
Result = TypeVar("Result")
# ``transaction(wait)``: a write transaction; with ``wait=False`` it must not block on a lock.
Transaction = Callable[[bool], AbstractContextManager[Connection]]

_STOP = object()
_RETRY_SECONDS = 0.001
_MAX_RETRY_SECONDS = 0.05


class _Never(Exception):
    """The default ``busy``: never raised."""


# Who waits for an item: a thread (concurrent future) or a coroutine (asyncio future).
Waiter = Future[Any] | asyncio.Future[Any]


def _call_each(conn: Connection, writes: Sequence[Callable[[Connection], Any]]) -> list[Any]:
    return [write(conn) for write in writes]


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        transaction: Transaction,
        write_batch: Callable[[Connection, Sequence[Item]], Sequence[Result]] = _call_each,  # type: ignore[assignment]
        max_batch: int = 64,
        *,
        inline_async: bool = False,
        writable: Callable[[], bool] = lambda: True,
        busy: type[Exception] = _Never,
        wait_limit: float = 5.0,
    ) -> None:
        self._transaction = transaction
        self._inline_async = inline_async
        self._writable = writable
        self._busy = busy
        self._wait_limit = wait_limit
        self._retry_delay = _RETRY_SECONDS
        # How many submissions are held back because the store cannot take them now.
        self.held_back = 0
        # Submissions waiting for the event loop's next flush, by loop (``inline_async`` only),
        # each with when it was submitted.
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[Item, Waiter, float]]] = {}
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, item: Item) -> Future[Result]:
        """Queue ``item``; the future resolves after the transaction that wrote it commits."""
        future: Future[Result] = Future()
        self._ensure_thread()
        self._queue.put((item, future))
        return future

    def submit_async(self, item: Item) -> asyncio.Future[Result]:
        """Queue ``item`` from the running event loop; await the result (after the commit)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        if self._inline_async:
            pending = self._pending.get(loop)
            if pending is None:
                pending = self._pending[loop] = []
                loop.call_soon(self._flush, loop)
            pending.append((item, future, time.monotonic()))
            return future
        self._ensure_thread()
        self._queue.put((item, future))
        return future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        """Write what the loop's last passes submitted (``inline_async``), in batches of at most
        ``max_batch``, and resolve its futures; later, if a write would have to wait now."""
        pending = self._pending.pop(loop)
        self.held_back = 0
        if not self._writable():
            self._later(loop, pending, _RETRY_SECONDS)
            return
        for start in range(0, len(pending), self._max_batch):
            batch = pending[start : start + self._max_batch]
            try:
                self._write([(item, waiter) for item, waiter, _ in batch], _resolve_all, False)
            except self._busy:  # nothing written: keep them, and back off
                self._retry_delay = min(self._retry_delay * 2, _MAX_RETRY_SECONDS)
                self._later(loop, pending[start:], self._retry_delay)
                return
        self._retry_delay = _RETRY_SECONDS

    def _later(
        self,
        loop: asyncio.AbstractEventLoop,
        waiting: list[tuple[Item, Waiter, float]],
        delay: float,
    ) -> None:
        """Flush ``waiting`` again after ``delay``, but fail those that have waited too long."""
        oldest_allowed = time.monotonic() - self._wait_limit
        expired = [w for _, w, since in waiting if since <= oldest_allowed]
        if expired:
            error = self._busy(f"the store could not take the write in {self._wait_limit}s")
            _resolve_all([(waiter, None, error) for waiter in expired])
        kept = [entry for entry in waiting if entry[2] > oldest_allowed]
        self.held_back = len(kept)
        if kept:
            self._pending[loop] = kept
            loop.call_later(delay, self._flush, loop)

    def run(self, item: Item) -> Result:
        """Write ``item`` in a committed transaction (perhaps shared); return its result."""
        return self.submit(item).result()

    def close(self) -> None:
        with self._start_lock:
            if self._thread is not None:
                self._queue.put(_STOP)
                self._thread.join(timeout=30)
                self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="medpolicy-group-commit", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        for batch in self._batches():
            self._write(batch, _settle)

    def _write(
        self,
        batch: list[tuple[Item, Waiter]],
        settle: Callable[[Sequence[tuple[Waiter, Any, BaseException | None]]], None],
        wait: bool = True,
    ) -> None:
        """Write ``batch`` in one transaction and settle its waiters. When the transaction
        cannot begin (``busy``): raised if not ``wait`` (the caller keeps the batch),
        else every waiter gets the error."""
        items = [item for item, _ in batch]
        try:
            with self._transaction(wait) as conn:
                results = self._write_batch(conn, items)
        except self._busy as exc:
            if not wait:
                raise
            settle([(waiter, None, exc) for _, waiter in batch])
            return
        except Exception:
            settle(self._one_by_one(batch, wait))
            return
        settle([(waiter, result, None) for (_, waiter), result in zip(batch, results, strict=True)])

    def _batches(self) -> Iterator[list[tuple[Item, Waiter]]]:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    yield batch
                    return
                batch.append(item)
            yield batch

    def _one_by_one(
        self, batch: list[tuple[Item, Waiter]], wait: bool
    ) -> list[tuple[Waiter, Any, BaseException | None]]:
        outcomes: list[tuple[Waiter, Any, BaseException | None]] = []
        for item, waiter in batch:
            try:
                with self._transaction(wait) as conn:
                    [result] = self._write_batch(conn, [item])
            except BaseException as exc:  # handed to the caller, who re-raises it
                outcomes.append((waiter, None, exc))
            else:
                outcomes.append((waiter, result, None))
        return outcomes


def _settle(outcomes: Sequence[tuple[Waiter, Any, BaseException | None]]) -> None:
    """Resolve the waiters of a committed batch: thread futures at once, asyncio futures with one
    call into each waiting event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Waiter, Any, BaseException | None]]] = {}
    for outcome in outcomes:
        waiter = outcome[0]
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append(outcome)
        else:
            _resolve(outcome)
    for loop, pending in by_loop.items():
        with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits any more
            loop.call_soon_threadsafe(_resolve_all, pending)


def _resolve_all(outcomes: Sequence[tuple[Waiter, Any, BaseException | None]]) -> None:
    for outcome in outcomes:
        _resolve(outcome)


def _resolve(outcome: tuple[Waiter, Any, BaseException | None]) -> None:
    waiter, result, exc = outcome
    if waiter.done():  # an asyncio waiter whose request was cancelled
        return
    if exc is not None:
        waiter.set_exception(exc)
    else:
        waiter.set_result(result)
