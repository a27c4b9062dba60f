"""Group commit: concurrent submissions share one transaction, so they share one commit.

Every submission appends to the one audit hash chain, so their transactions serialize on the chain
head; one transaction each means one log flush (fsync) each while holding it. Instead, a writer
thread takes whatever submissions are waiting (up to ``max_batch``), writes them all in one
transaction and commits once; each caller returns only after that commit, so a submission is still
durable before it is acknowledged. With one submission waiting, this is one transaction as before.

If any write in a batch fails (e.g. a duplicate idempotency key racing in), the batch is rolled
back and its writes are retried one transaction each, so one failure never fails the others.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import Connection

__all__ = ["GroupCommit"]

Write = Callable[[Connection], Any]
Transaction = Callable[[], AbstractContextManager[Connection]]

_STOP = object()


class GroupCommit:
    def __init__(self, transaction: Transaction, max_batch: int = 32) -> None:
        self._transaction = transaction
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def run(self, write: Write) -> Any:
        """Run ``write`` in a committed transaction (perhaps shared); return its result."""
        future: Future[Any] = Future()
        self._ensure_thread()
        self._queue.put((write, future))
        return future.result()

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
            try:
                with self._transaction() as conn:
                    results = [write(conn) for write, _ in batch]
            except Exception:
                self._one_by_one(batch)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)

    def _batches(self) -> Iterator[list[tuple[Write, Future[Any]]]]:
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

    def _one_by_one(self, batch: list[tuple[Write, Future[Any]]]) -> None:
        for write, future in batch:
            try:
                with self._transaction() as conn:
                    result = write(conn)
            except BaseException as exc:  # handed to the caller, who re-raises it
                future.set_exception(exc)
            else:
                future.set_result(result)
