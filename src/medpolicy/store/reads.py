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

A view is answered only once its row is committed (fail closed): when the row cannot be written
within ``READ_WAIT`` seconds (e.g. another process holds SQLite's write lock), the view is
refused with ``StoreBusy`` (the service answers 503 with Retry-After) and nothing is shown.
Views waiting together share one transaction (``GroupCommit``), so concurrent readers share a
commit instead of queueing one by one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from medpolicy.store.audit import GENESIS_HASH, Actor, sha256_text
from medpolicy.store.availability import StoreBusy
from medpolicy.store.group_commit import GroupCommit
from medpolicy.store.schema import read_events, read_head

__all__ = ["READ_WAIT", "Read", "ReadLog", "verify_reads"]

# The longest a view waits for its audit row to be written before it is refused (seconds).
READ_WAIT = 2.0


@dataclass(frozen=True)
class Read:
    """One recorded view of a case."""

    seq: int
    case_id: str
    reader: str  # the token's (or signed-in reviewer's) name
    actor: dict[str, Any]  # kind, name, role, organization, token id
    route: str  # e.g. "GET /api/v1/cases/{case_id}"
    at: str  # ISO 8601, UTC
    hash: str


@dataclass(frozen=True)
class _NewRead:
    case_id: str
    actor: Actor
    route: str
    at: datetime


def read_hash(
    prev_hash: str, seq: int, case_id: str, reader: str, actor_json: str, route: str, at: str
) -> str:
    canonical = json.dumps(
        [seq, case_id, reader, actor_json, route, at], separators=(",", ":"), ensure_ascii=False
    )
    return sha256_text(prev_hash + canonical)


_LOCK_HEAD = select(read_head.c.seq, read_head.c.hash).where(read_head.c.id == 1).with_for_update()
_MOVE_HEAD = (
    update(read_head)
    .where(read_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
Transaction = Callable[..., AbstractContextManager[Connection]]


class ReadLog:
    """Records views (``record``) and reports them (``reads``)."""

    def __init__(
        self,
        engine: Engine,
        transaction: Transaction,
        clock: Callable[[], datetime],
        wait: float = READ_WAIT,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._transaction = transaction
        self._wait = wait
        self._commit: GroupCommit[_NewRead, Read] = GroupCommit(
            self._begin, _append, busy=StoreBusy
        )

    @contextmanager
    def _begin(self, can_wait: bool) -> Iterator[Connection]:
        """A write transaction that waits at most ``wait`` for its locks (on PostgreSQL, where
        the store's own ``lock_timeout`` may be longer, by ``SET LOCAL lock_timeout``)."""
        with self._transaction(can_wait, timeout=self._wait) as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(self._wait * 1000)}")
            yield conn

    def close(self) -> None:
        self._commit.close()

    def record(self, case_id: str, actor: Actor, route: str) -> Read:
        """Append the view and commit it; ``StoreBusy`` when that could not be done in time."""
        return self._commit.run(_NewRead(case_id, actor, route, self._clock()))

    def reads(
        self, *, case_id: str | None = None, reader: str | None = None, limit: int = 10_000
    ) -> list[Read]:
        """Recorded views, oldest first: of one case, by one reader, or both."""
        query = select(read_events).order_by(read_events.c.seq).limit(limit)
        if case_id is not None:
            query = query.where(read_events.c.case_id == case_id)
        if reader is not None:
            query = query.where(read_events.c.reader == reader)
        with self._engine.connect() as conn:
            return [_row_read(r) for r in conn.execute(query)]


def _append(conn: Connection, new: Sequence[_NewRead]) -> list[Read]:
    head = conn.execute(_LOCK_HEAD).one()
    seq, prev_hash = int(head.seq), str(head.hash)
    rows: list[dict[str, Any]] = []
    for r in new:
        seq += 1
        actor_json = r.actor.to_json()
        at = r.at.isoformat()
        digest = read_hash(prev_hash, seq, r.case_id, r.actor.name, actor_json, r.route, at)
        rows.append(
            {
                "seq": seq,
                "case_id": r.case_id,
                "reader": r.actor.name,
                "actor_json": actor_json,
                "route": r.route,
                "at": at,
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
    )


def _rows(conn: Connection, batch: int) -> Iterator[Any]:
    after = 0
    while True:
        rows = conn.execute(
            select(read_events)
            .where(read_events.c.seq > after)
            .order_by(read_events.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = int(rows[-1].seq)


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
            row.prev_hash, seq, row.case_id, row.reader, row.actor_json, row.route, row.at
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
