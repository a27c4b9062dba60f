"""The append-only, hash-chained audit trail.

Each event's hash is ``sha256(previous hash + canonical event JSON)``, where the canonical event
JSON is the compact JSON array of the row's own columns
``[seq, case_id, event_type, actor_json, at, data_json]`` (``data_json`` with sorted keys).
Editing any column of any row, deleting a row, or deleting the newest rows (the one-row
``audit_head`` remembers the last sequence number and hash) breaks the chain, and ``verify_chain``
names the first row where it breaks. Events that record an engine decision or a reviewer action
carry the SHA-256 of the stored record too, so editing or deleting a decision or a reviewer action
is caught as well, and each case's status must be the one its last event recorded.

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

from sqlalchemy import Connection, Engine, bindparam, select, update

from medpolicy.store.schema import audit_events, audit_head, cases, decisions, reviewer_actions

__all__ = [
    "GENESIS_HASH",
    "Actor",
    "AuditEvent",
    "NewEvent",
    "Verification",
    "append_event",
    "append_events",
    "verify_chain",
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

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(engine: Engine, batch: int = 1000) -> Verification:
    """Check the whole trail; the first problem listed names the first bad row."""
    result = Verification()
    expected: dict[tuple[str, str], str] = {}  # ("decision", case#number) -> record sha256
    last_status: dict[str, str] = {}
    with engine.connect() as conn:
        prev_hash, last_seq = GENESIS_HASH, 0
        for row in _events(conn, batch):
            problem = _check_row(row, last_seq + 1, prev_hash)
            if problem:
                result.problems.append(problem)
                return result
            result.events += 1
            prev_hash, last_seq = row.hash, int(row.seq)
            _remember(row, expected, last_status)
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one_or_none()
        if head is None or (int(head.seq), head.hash) != (last_seq, prev_hash):
            result.problems.append(
                f"audit_events after seq {last_seq}: the chain head records seq "
                f"{head.seq if head else '(missing)'}; the newest events were deleted or the head "
                "was edited"
            )
            return result
        result.problems.extend(_check_records(conn, expected, last_status))
    return result


def _events(conn: Connection, batch: int) -> Iterator[Any]:
    after = 0
    while True:
        rows = conn.execute(
            select(audit_events)
            .where(audit_events.c.seq > after)
            .order_by(audit_events.c.seq)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        after = int(rows[-1].seq)


def _check_row(row: Any, want_seq: int, prev_hash: str) -> str | None:
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


def _remember(row: Any, expected: dict[tuple[str, str], str], last_status: dict[str, str]) -> None:
    data = json.loads(row.data_json)
    if "decision_sha256" in data:
        expected[("decision", f"{row.case_id}#{data['decision_number']}")] = data["decision_sha256"]
    if "action_sha256" in data:
        expected[("action", f"{row.case_id}#{data['action_id']}")] = data["action_sha256"]
    if row.case_id is not None and "status" in data:
        last_status[row.case_id] = data["status"]


def _check_records(
    conn: Connection, expected: dict[tuple[str, str], str], last_status: dict[str, str]
) -> list[str]:
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    # Stream: decisions are tens of kilobytes each, and a store holds many.
    streamed = conn.execution_options(yield_per=500)
    for d in streamed.execute(
        select(decisions.c.id, decisions.c.case_id, decisions.c.number, decisions.c.decision_json)
    ):
        key = ("decision", f"{d.case_id}#{d.number}")
        seen.add(key)
        if expected.get(key) != sha256_text(d.decision_json):
            problems.append(f"decisions id {d.id}: does not match the decision the trail recorded")
    for a in streamed.execute(select(reviewer_actions)):
        key = ("action", f"{a.case_id}#{a.id}")
        seen.add(key)
        if expected.get(key) != action_sha256(a.action, a.reason, a.clauses_json, a.reviewer):
            problems.append(
                f"reviewer_actions id {a.id}: does not match the action the trail recorded"
            )
    for kind, ref in sorted(set(expected) - seen):
        problems.append(f"{kind} {ref}: recorded in the trail but missing from its table (deleted)")
    for c in streamed.execute(select(cases.c.id, cases.c.status)):
        if last_status.get(c.id) != c.status:
            problems.append(
                f"cases id {c.id}: status {c.status!r} is not the status the trail recorded"
            )
        last_status.pop(c.id, None)
    problems.extend(
        f"cases id {cid}: in the trail but missing (deleted)" for cid in sorted(last_status)
    )
    return problems


def action_sha256(action: str, reason: str, clauses_json: str, reviewer: str) -> str:
    return sha256_text(canonical_json([action, reason, clauses_json, reviewer]))
