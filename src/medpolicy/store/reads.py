"""The read audit: who viewed which case's health information, when, and through which route.

HIPAA's audit-controls standard (45 CFR 164.312(b)) asks for a record of activity in systems
that hold electronic protected health information; every surface that shows a case's request
or decision (the REST case and notice routes, the reviewer app's case page and its notices, FHIR
PAS ``$inquire``) records the view here before it answers.

The rows form a hash chain of their own, built like the case trail's (``medpolicy.store.audit``):
each row's hash is ``sha256(previous hash + [seq, case_id, reader, actor_json, route, at])`` as
compact JSON, and the one-row ``read_head`` remembers the last sequence number and hash, so that
``verify_reads`` (run by ``medpolicy audit verify``) names an edited, inserted or deleted row,
the newest included. A chain of its own, because reads outnumber writes: appending to the case
trail would make every view wait on the lock every submission holds.

A view is answered only once it is durably recorded. When its row cannot be committed within
the wait (``READ_WAIT``, or ``BUSY_WAIT`` while the last attempt found the store locked) because
another process holds SQLite's write lock, the view is appended to the read spool beside the
database and fsync'd (``medpolicy.store.read_spool``), and answered; the next commit of the read
chain (a later view, ``drain``) first chains what the spool holds, in order, exactly once. Only
when neither the store nor the spool can be written is the view refused with ``StoreBusy`` (the
service answers 503 with Retry-After). PostgreSQL has no spool: there a view waits only on the
read chain's own head, which nothing but other views' brief commits locks.
Views waiting together share one transaction (``GroupCommit``), so concurrent readers share a
commit instead of queueing one by one.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from medpolicy.store.audit import GENESIS_HASH, Actor, chained_rows, sha256_text
from medpolicy.store.availability import StoreBusy
from medpolicy.store.group_commit import GroupCommit
from medpolicy.store.read_spool import ReadSpool, Spooled
from medpolicy.store.schema import read_events, read_head

__all__ = ["BUSY_WAIT", "READ_WAIT", "Read", "ReadLog", "verify_reads"]

log = logging.getLogger("medpolicy.store")

# The longest a view waits for its audit row to be committed before it is spooled (seconds).
READ_WAIT = 2.0
# ... while the last attempt found the store locked: the lock is likely still held.
BUSY_WAIT = 0.1


@dataclass(frozen=True)
class Read:
    """One recorded view of a case: in the chain, or pending in the spool (``seq`` None)."""

    seq: int | None
    case_id: str
    reader: str  # the token's (or signed-in reviewer's) name
    actor: dict[str, Any]  # kind, name, role, organization, token id
    route: str  # e.g. "GET /api/v1/cases/{case_id}"
    at: str  # ISO 8601, UTC
    hash: str | None
    spool_id: str | None = None  # set when the view went through the spool

    @property
    def pending(self) -> bool:
        """Recorded in the spool, not yet in the chain."""
        return self.seq is None


@dataclass(frozen=True)
class _NewRead:
    case_id: str
    reader: str
    actor_json: str
    route: str
    at: str
    spool_id: str | None = None


def read_hash(
    prev_hash: str,
    seq: int,
    case_id: str,
    reader: str,
    actor_json: str,
    route: str,
    at: str,
    spool_id: str | None = None,
) -> str:
    values: list[Any] = [seq, case_id, reader, actor_json, route, at]
    if spool_id is not None:  # rows chained from the spool (older rows hash as before)
        values.append(spool_id)
    canonical = json.dumps(values, separators=(",", ":"), ensure_ascii=False)
    return sha256_text(prev_hash + canonical)


_LOCK_HEAD = select(read_head.c.seq, read_head.c.hash).where(read_head.c.id == 1).with_for_update()
_MOVE_HEAD = (
    update(read_head)
    .where(read_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
Transaction = Callable[..., AbstractContextManager[Connection]]


class ReadLog:
    """Records views (``record``) and reports them (``reads``). ``spool``: where views go while
    the store is locked (SQLite's ``cases.db.read-spool.jsonl``; None on PostgreSQL)."""

    def __init__(
        self,
        engine: Engine,
        transaction: Transaction,
        clock: Callable[[], datetime],
        wait: float = READ_WAIT,
        spool: ReadSpool | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._transaction = transaction
        self._wait = wait
        self._spool = spool
        self._store_busy = False  # the last attempt found the store locked
        self._commit: GroupCommit[_NewRead, Read] = GroupCommit(
            self._begin, _append, busy=StoreBusy
        )

    @contextmanager
    def _begin(self, can_wait: bool) -> Iterator[Connection]:
        """A write transaction of the read chain that first chains the spool's views; the spool
        is emptied once it commits. It waits at most ``wait`` for its locks (on PostgreSQL,
        where the store's own ``lock_timeout`` may be longer, by ``SET LOCAL lock_timeout``)."""
        wait = min(BUSY_WAIT, self._wait) if self._store_busy else self._wait
        with ExitStack() as after_commit:
            with self._transaction(can_wait, timeout=wait) as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait * 1000)}")
                if self._spool is not None:
                    # Taken after the database's write lock, released after the commit.
                    spooled = after_commit.enter_context(self._spool.draining())
                    _chain_spooled(conn, spooled.entries)
                    for problem in spooled.problems:
                        log.error("read audit: %s (see medpolicy audit verify)", problem)
                yield conn
            self._store_busy = False

    def close(self) -> None:
        self._commit.close()

    def record(self, case_id: str, actor: Actor, route: str) -> Read:
        """Append the view and commit it, or, while the store is locked, spool it; ``StoreBusy``
        when neither could be done."""
        new = _NewRead(case_id, actor.name, actor.to_json(), route, self._clock().isoformat())
        try:
            return self._commit.run(new)
        except StoreBusy as exc:
            if self._spool is None:
                raise
            self._store_busy = True
            return self._spooled(new, exc)

    def _spooled(self, new: _NewRead, busy: StoreBusy) -> Read:
        entry = Spooled(
            uuid.uuid4().hex, new.case_id, new.reader, new.actor_json, new.route, new.at
        )
        assert self._spool is not None
        try:
            self._spool.append(entry)
        except OSError as exc:
            log.error(
                "read audit: a view of %s refused: the store is locked (%s) and the read spool "
                "%s cannot be written (%s)",
                new.case_id,
                busy,
                self._spool.path,
                exc.strerror,
            )
            raise StoreBusy("the view could not be recorded: the store is locked") from exc
        return _spooled_read(entry)

    def drain(self) -> bool:
        """Chain the views waiting in the spool now; False when the store could not be written
        within the wait (they stay in the spool)."""
        if self._spool is None:
            return True
        try:
            with self._begin(True):
                pass
        except StoreBusy:
            return False
        return True

    def pending(self) -> tuple[list[Read], list[str]]:
        """(views in the spool not yet chained, oldest first; each spool line that is not a
        recorded view, as a problem)."""
        if self._spool is None:
            return [], []
        contents = self._spool.read()
        with self._engine.connect() as conn:
            chained = _chained_ids(conn, [e.id for e in contents.entries])
        waiting = [_spooled_read(e) for e in contents.entries if e.id not in chained]
        return waiting, contents.problems

    def reads(
        self, *, case_id: str | None = None, reader: str | None = None, limit: int = 10_000
    ) -> list[Read]:
        """Recorded views, oldest first (then those pending in the spool): of one case, by one
        reader, or both."""
        # The spool first: a view chained meanwhile is then found in the chain (and dropped
        # from the pending), never missed.
        pending = [
            r
            for r in self.pending()[0]
            if case_id in (None, r.case_id) and reader in (None, r.reader)
        ]
        query = select(read_events).order_by(read_events.c.seq).limit(limit)
        if case_id is not None:
            query = query.where(read_events.c.case_id == case_id)
        if reader is not None:
            query = query.where(read_events.c.reader == reader)
        with self._engine.connect() as conn:
            found = [_row_read(r) for r in conn.execute(query)]
        chained = {r.spool_id for r in found}
        return (found + [r for r in pending if r.spool_id not in chained])[:limit]


def _chained_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    """Which of the spool ids ``ids`` are already in the chain."""
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        query = select(read_events.c.spool_id).where(read_events.c.spool_id.in_(part))
        found.update(conn.execute(query).scalars())
    return found


def _chain_spooled(conn: Connection, entries: Sequence[Spooled]) -> None:
    """Append the spool's views, in order, but those a commit already chained (a crash came
    between that commit and emptying the spool)."""
    chained = _chained_ids(conn, [e.id for e in entries])
    waiting = [
        _NewRead(e.case_id, e.reader, e.actor_json, e.route, e.at, e.id)
        for e in entries
        if e.id not in chained
    ]
    if waiting:
        _append(conn, waiting)
        log.warning("read audit: %d view(s) chained from the read spool", len(waiting))


def _append(conn: Connection, new: Sequence[_NewRead]) -> list[Read]:
    head = conn.execute(_LOCK_HEAD).one()
    seq, prev_hash = int(head.seq), str(head.hash)
    rows: list[dict[str, Any]] = []
    for r in new:
        seq += 1
        digest = read_hash(
            prev_hash, seq, r.case_id, r.reader, r.actor_json, r.route, r.at, r.spool_id
        )
        rows.append(
            {
                "seq": seq,
                "case_id": r.case_id,
                "reader": r.reader,
                "actor_json": r.actor_json,
                "route": r.route,
                "at": r.at,
                "spool_id": r.spool_id,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    conn.execute(read_events.insert(), rows)
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
    return [_row_read(_Row(row)) for row in rows]


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _row_read(row: Any) -> Read:
    return Read(
        seq=int(row.seq),
        case_id=row.case_id,
        reader=row.reader,
        actor=json.loads(row.actor_json),
        route=row.route,
        at=row.at,
        hash=row.hash,
        spool_id=row.spool_id,
    )


def _spooled_read(entry: Spooled) -> Read:
    actor = json.loads(entry.actor_json)
    return Read(None, entry.case_id, entry.reader, actor, entry.route, entry.at, None, entry.id)


def _rows(conn: Connection, batch: int) -> Iterator[Any]:
    return chained_rows(conn, read_events, batch)


def verify_reads(conn: Connection, batch: int = 1000) -> tuple[int, list[str]]:
    """(rows verified, problems): the read chain, row by row, then its head."""
    prev_hash, last_seq, count = GENESIS_HASH, 0, 0
    for row in _rows(conn, batch):
        seq = int(row.seq)
        if seq != last_seq + 1:
            return count, [f"read_events seq {last_seq + 1}: missing (deleted); the next is {seq}"]
        if row.prev_hash != prev_hash:
            return count, [f"read_events seq {seq}: prev_hash does not match seq {seq - 1}'s hash"]
        digest = read_hash(
            row.prev_hash,
            seq,
            row.case_id,
            row.reader,
            row.actor_json,
            row.route,
            row.at,
            row.spool_id,
        )
        if digest != row.hash:
            return count, [f"read_events seq {seq}: its contents do not match its hash (edited)"]
        actor = json.loads(row.actor_json)
        if actor.get("name") != row.reader:
            return count, [f"read_events seq {seq}: reader is not the actor's name (edited)"]
        prev_hash, last_seq, count = row.hash, seq, count + 1
    head = conn.execute(select(read_head).where(read_head.c.id == 1)).one_or_none()
    if head is None or (int(head.seq), head.hash) != (last_seq, prev_hash):
        recorded = head.seq if head is not None else "(missing)"
        return count, [
            f"read_events after seq {last_seq}: the read head records seq {recorded}; the "
            "newest reads were deleted or the head was edited"
        ]
    return count, []
