"""The append-only, hash-chained audit trail.

Each event's hash is ``sha256(previous hash + canonical event JSON)``, where the canonical event
JSON is the compact JSON array of the row's own columns
``[seq, case_id, event_type, actor_json, at, data_json]`` (``data_json`` with sorted keys).
Editing any column of any row, deleting a row, or deleting the newest rows (the one-row
``audit_head`` remembers the last sequence number and hash) breaks the chain, and
``medpolicy.store.verify.verify_chain`` names the first row where it breaks. Events record what
they changed (the SHA-256 of a decision, a reviewer action and the request; a case's organization,
urgency, due time, status and decision count; a token's hash and role), so that the same
verification also catches an edit to any of those records.

The chain detects tampering by anyone who cannot also rewrite every later hash; anchoring the head
hash outside the database (e.g. printing it in a daily report) extends that to a database owner.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, update

from medpolicy.store.schema import audit_events, audit_head

__all__ = [
    "GENESIS_HASH",
    "Actor",
    "AuditEvent",
    "NewEvent",
    "Verification",
    "action_sha256",
    "append_event",
    "append_events",
    "chained_rows",
    "check_row",
    "events",
]

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who caused a transition: a token holder (with role and organization), or the system."""

    kind: str  # "token" | "system" | "cli"
    name: str
    role: str | None = None
    organization: str | None = None
    token_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """In key order, as the stored ``actor_json`` reads back."""
        return {
            "kind": self.kind,
            "name": self.name,
            "organization": self.organization,
            "role": self.role,
            "token_id": self.token_id,
        }

    def to_json(self) -> str:
        return canonical_json(self.as_dict())


SYSTEM = Actor(kind="system", name="medpolicy")


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    case_id: str | None
    event_type: str
    actor: dict[str, Any]
    at: str
    data: dict[str, Any]
    hash: str


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash(
    prev_hash: str,
    seq: int,
    case_id: str | None,
    event_type: str,
    actor_json: str,
    at: str,
    data_json: str,
) -> str:
    canonical = json.dumps(
        [seq, case_id, event_type, actor_json, at, data_json],
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return sha256_text(prev_hash + canonical)


# Built once: constructing a statement per call costs more than running it.
_LOCK_HEAD = (
    select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
)
_INSERT_EVENT = audit_events.insert()
_MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)


@dataclass(frozen=True)
class NewEvent:
    """An event to append: everything but its place in the chain (``seq``, hashes)."""

    case_id: str | None
    event_type: str
    actor: Actor
    at: datetime
    data: Mapping[str, Any]


def append_event(
    conn: Connection,
    *,
    case_id: str | None,
    event_type: str,
    actor: Actor,
    at: datetime,
    data: Mapping[str, Any],
) -> AuditEvent:
    """Append one event inside the caller's transaction (which must be a write transaction)."""
    [event] = append_events(conn, [NewEvent(case_id, event_type, actor, at, data)])
    return event


def append_events(conn: Connection, new: Sequence[NewEvent]) -> list[AuditEvent]:
    """Append ``new`` in order inside the caller's write transaction: the chain head is locked and
    moved once, and the rows go in with one statement."""
    if not new:
        return []
    head = conn.execute(_LOCK_HEAD).one()
    seq, prev_hash = int(head.seq), str(head.hash)
    rows: list[dict[str, Any]] = []
    events: list[AuditEvent] = []
    for e in new:
        seq += 1
        actor_json = e.actor.to_json()
        at_text = e.at.isoformat()
        data = dict(e.data)
        data_json = canonical_json(data)
        digest = event_hash(prev_hash, seq, e.case_id, e.event_type, actor_json, at_text, data_json)
        rows.append(
            {
                "seq": seq,
                "case_id": e.case_id,
                "event_type": e.event_type,
                "actor_json": actor_json,
                "at": at_text,
                "data_json": data_json,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        events.append(
            AuditEvent(seq, e.case_id, e.event_type, e.actor.as_dict(), at_text, data, digest)
        )
        prev_hash = digest
    conn.execute(_INSERT_EVENT, rows)
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
    return events


def row_event(row: Any) -> AuditEvent:
    return AuditEvent(
        seq=int(row.seq),
        case_id=row.case_id,
        event_type=row.event_type,
        actor=json.loads(row.actor_json),
        at=row.at,
        data=json.loads(row.data_json),
        hash=row.hash,
    )


@dataclass
class Verification:
    """The result of ``verify_chain``: ``ok``, how many events were checked, and every problem."""

    events: int = 0
    problems: list[str] = field(default_factory=list)
    reads: int = 0  # rows of the read audit's chain verified (``medpolicy.store.reads``)
    pending_reads: int = 0  # views in the read spool, not yet chained

    @property
    def ok(self) -> bool:
        return not self.problems


def events(conn: Connection, batch: int) -> Iterator[Any]:
    """Every event row, in order, read in batches."""
    return chained_rows(conn, audit_events, batch)


def chained_rows(conn: Connection, table: Table, batch: int) -> Iterator[Any]:
    """Every row of a hash-chained ``table``, in ``seq`` order, read in batches of ``batch``."""
    after = 0
    while True:
        rows = conn.execute(
            select(table).where(table.c.seq > after).order_by(table.c.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = int(rows[-1].seq)


def check_row(row: Any, want_seq: int, prev_hash: str) -> str | None:
    """Why the event ``row`` breaks the chain after ``prev_hash``, or None."""
    seq = int(row.seq)
    if seq != want_seq:
        return f"audit_events seq {want_seq}: missing (deleted); the next row is seq {seq}"
    if row.prev_hash != prev_hash:
        return f"audit_events seq {seq}: prev_hash does not match the hash of seq {seq - 1}"
    digest = event_hash(
        row.prev_hash, seq, row.case_id, row.event_type, row.actor_json, row.at, row.data_json
    )
    if digest != row.hash:
        return f"audit_events seq {seq}: its contents do not match its hash (the row was edited)"
    return None


def action_sha256(action: str, reason: str, clauses_json: str, reviewer: str) -> str:
    return sha256_text(canonical_json([action, reason, clauses_json, reviewer]))
