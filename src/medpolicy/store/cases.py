"""``CaseStore``: the durable record of prior-authorization cases, for every surface (REST, PAS).

Every method that changes a case runs in one write transaction that also appends the audit event,
and commits before it returns: a caller that got a result back may acknowledge it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, select, update

from medpolicy.engine.decision import Authorization, Decision, DecisionLike
from medpolicy.errors import FieldError, RequestError
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request
from medpolicy.store.assignment import assignment_target
from medpolicy.store.audit import (
    Actor,
    AuditEvent,
    NewEvent,
    Verification,
    append_event,
    append_events,
    sha256_text,
)
from medpolicy.store.availability import StoreBusy
from medpolicy.store.database import LOCK_TIMEOUT, is_sqlite
from medpolicy.store.group_commit import GroupCommit
from medpolicy.store.identity import identity_columns, refused_changes
from medpolicy.store.model import (
    ENGINE_STATUS,
    OPEN_STATUSES,
    REVIEWER_STATUS,
    Case,
    CaseAssigned,
    CaseConflict,
    CaseFormat,
    CaseNotFound,
    CaseRecords,
    CaseStatus,
    CaseSummary,
    IdempotencyConflict,
    ReviewerAction,
    ReviewerDecision,
    ServiceLevels,
    StoredDecision,
    SubmitResult,
    decided_on,
    utc,
)
from medpolicy.store.queries import (
    INSERT_CASE,
    INSERT_DECISION,
    decisions_of,
    history_of,
    latest_decision_json,
    opened_as,
    reviewer_decisions_of,
)
from medpolicy.store.queue import QueuePage, QueueQuery, read_queue
from medpolicy.store.read_spool import spool_beside
from medpolicy.store.reads import READ_WAIT, ReadLog
from medpolicy.store.review import cited_clauses, insert_action
from medpolicy.store.schema import DOCUMENT_COLUMNS, cases
from medpolicy.store.transactions import StoreConnection
from medpolicy.store.verify import verify_chain

__all__ = ["CaseStore"]

Clock = Callable[[], datetime]
# What a reviewer's approval of the request (as the engine decided it: its clinical record, when
# the case keeps one), under the engine's decision on it, authorizes (e.g.
# ``medpolicy.service.reviewer_authorization`` over the service's policy registry).
Authorizer = Callable[[Request | ClinicalRecord, DecisionLike], Authorization | None]


def _now() -> datetime:
    return datetime.now(UTC)


def new_case_id(now_ms: int | None = None) -> str:
    """``case_`` and a UUIDv7 (RFC 9562) in hex: 48 bits of Unix milliseconds, then random bits.

    Cases opened later sort later, so a new case's id, and its decisions' and audit events'
    references to it, go in at the right-hand edge of their indexes. A random id (UUIDv4) sends
    each insert to a random index page, so every case dirtied a page of each of three indexes,
    which the WAL then had to carry and checkpoint."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits: 12 for rand_a, 62 for rand_b
    value = (
        (ms & _MS_MASK) << 80 | 0x7 << 76 | (rand >> 62 & 0xFFF) << 64 | 0b10 << 62 | rand & _B_MASK
    )
    return f"case_{value:032x}"


_MS_MASK = (1 << 48) - 1
_B_MASK = (1 << 62) - 1


def request_json(request: Request) -> str:
    return request.model_dump_json(exclude_none=True)


def record_json(record: ClinicalRecord | None) -> str | None:
    """A clinical record's canonical JSON as a case keeps it (None: no record)."""
    return None if record is None else record.model_dump_json(exclude_none=True)


def _record_digest(text: str | None) -> str | None:
    return None if text is None else sha256_text(text)


class CaseStore(StoreConnection):
    """Cases, their engine decisions, reviewer actions and the audit trail, in one database."""

    def __init__(
        self,
        engine: Engine,
        service_levels: ServiceLevels | None = None,
        clock: Clock = _now,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        super().__init__(engine, lock_timeout)
        self.service_levels = service_levels or ServiceLevels()
        self._clock = clock
        self._group_commit: GroupCommit[_NewCase, AuditEvent | SubmitResult] = GroupCommit(
            self.transaction,
            self._write_new_cases,
            inline_async=is_sqlite(engine),
            writable=lambda: not self._writer_lock.locked(),
            busy=StoreBusy,
            wait_limit=lock_timeout,
        )
        # Who viewed which case (``medpolicy.store.reads``); on SQLite, a spool beside the file
        # for views recorded while another process holds its write lock.
        spool = spool_beside(engine.url.database) if is_sqlite(engine) else None
        self.reads = ReadLog(engine, self.transaction, clock, min(READ_WAIT, lock_timeout), spool)

    def close(self) -> None:
        """Stop the background threads and close the database connections."""
        self._group_commit.close()
        self.reads.close()
        super().close()

    def writes_held_back(self) -> int:
        """Submissions waiting on the event loop because the store could not take them yet."""
        return self._group_commit.held_back

    def submit(
        self,
        request: Request,
        decision: DecisionLike,
        *,
        actor: Actor,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        record: ClinicalRecord | None = None,
        opened_as: CaseFormat = "request",
    ) -> SubmitResult:
        """Open a case for ``request`` with the engine's ``decision`` and commit it.

        ``record``: the clinical record the decision was made on, when it holds more than the
        request (facts only the record holds, e.g. DTR answers); the case keeps it beside the
        request, and the case's first audit event records its SHA-256.

        ``opened_as``: the format the request was sent in (``CaseFormat``), which the first audit
        event records and ``opened_as()`` reads: "record" only when ``record`` is the clinical
        record the provider sent (its resubmissions then patch it), never for a record a surface
        built from a request.

        With an ``idempotency_key`` (unique within ``idempotency_scope``, e.g. the provider's
        organization), a repeated submission returns the case the first one created
        (``created=False``), however many arrive at once; the same key with a different request
        raises ``IdempotencyConflict``.
        """
        new = self._new_case(
            request, decision, actor, idempotency_key, idempotency_scope, record, opened_as
        )
        return new.result(self._group_commit.run(new))

    async def submit_async(
        self,
        request: Request,
        decision: DecisionLike,
        *,
        actor: Actor,
        idempotency_key: str | None = None,
        idempotency_scope: str | None = None,
        record: ClinicalRecord | None = None,
        opened_as: CaseFormat = "request",
    ) -> SubmitResult:
        """``submit`` for an event loop: this submission is committed with whatever others are
        waiting (on SQLite by the loop itself at its next pass, on PostgreSQL by the writer
        thread while the loop serves other requests), then this returns."""
        new = self._new_case(
            request, decision, actor, idempotency_key, idempotency_scope, record, opened_as
        )
        return new.result(await self._group_commit.submit_async(new))

    def _new_case(
        self,
        request: Request,
        decision: DecisionLike,
        actor: Actor,
        idempotency_key: str | None,
        idempotency_scope: str | None,
        record: ClinicalRecord | None = None,
        opened_as: CaseFormat = "request",
    ) -> _NewCase:
        """A new case's row (less its digests) and what its decision and audit event need."""
        if opened_as == "record" and record is None:
            raise ValueError("a case opened as a clinical record must keep that record")
        now = self._clock()
        status = ENGINE_STATUS[decision.outcome]
        lob = request.member.line_of_business
        values: dict[str, Any] = {
            "id": new_case_id(),
            "request_id": request.request_id,
            "organization": request.member.organization,
            "status": status.value,
            "outcome": decision.outcome.value,
            "urgency": request.urgency,
            "request_type": request.request_type,
            "pathways": _pathways(decision),
            "received_at": now,
            "due_at": self.service_levels.due(now, request.urgency, lob.value if lob else None),
            "updated_at": now,
            "closed_at": None if status in OPEN_STATUSES else now,
            # "" rather than NULL: a UNIQUE constraint treats NULLs as distinct.
            "idempotency_scope": (idempotency_scope or "") if idempotency_key is not None else None,
            "idempotency_key": idempotency_key,
            "request_json": request_json(request),
            "decision_count": 1,
            "policy_id": decision.policy.id,
            "assigned_to": None,
            "assigned_at": None,
            "record_json": record_json(record),
        }
        values.update(identity_columns(json.loads(values["request_json"])))
        return _NewCase(values, decision, decision.to_json(), actor, opened_as)

    def _write_new_cases(
        self, conn: Connection, batch: Sequence[_NewCase]
    ) -> list[AuditEvent | SubmitResult]:
        """Insert a batch of new cases inside one transaction, one statement per table. A case
        whose idempotency key is already taken is not inserted: its result is the replay."""
        rows = [new.rows() for new in batch]
        replays: dict[int, SubmitResult] = {}
        for i, (case_row, _, _) in enumerate(rows):
            key = case_row["idempotency_key"]
            if key is not None:
                existing = self._by_key(conn, case_row["idempotency_scope"], key)
                if existing is not None:
                    replays[i] = _replay(conn, existing, case_row)
        fresh = [r for i, r in enumerate(rows) if i not in replays]
        if fresh:
            conn.execute(INSERT_CASE, [case_row for case_row, _, _ in fresh])
            conn.execute(INSERT_DECISION, [decision_row for _, decision_row, _ in fresh])
        events = iter(append_events(conn, [event for _, _, event in fresh]))
        return [replays[i] if i in replays else next(events) for i in range(len(batch))]

    def _insert_decision(
        self,
        conn: Connection,
        case_id: str,
        number: int,
        decision: DecisionLike,
        text: str,
        now: datetime,
    ) -> dict[str, Any]:
        row, stored = _decision_row(case_id, number, decision, text, now)
        conn.execute(INSERT_DECISION, row)
        return stored

    def resubmit(
        self,
        case_id: str,
        request: Request,
        decision: DecisionLike,
        *,
        actor: Actor,
        seen_decisions: int | None = None,
        record: ClinicalRecord | None = None,
    ) -> Case:
        """Record the provider's added information: the merged ``request`` and the engine's new
        ``decision`` on the same case, and the clinical ``record`` that decision was made on when
        it was more than the request (the case keeps the newest: None clears an earlier one, since
        the new decision was made on the request alone). The case must be open, and the request
        must be for the same patient (``identity_problems``: else a ``RequestError``), whichever
        surface sent it; a
        refused attempt is kept in the case's trail (``case.resubmission_refused``: each field, the
        case's value and the one sent).

        ``seen_decisions``: the case's ``decision_count`` when the caller read the request it
        merged into; if another resubmission landed since, ``CaseConflict`` (merge again)."""
        body = request_json(request)
        documents = (body, record_json(record))
        text = decision.to_json()
        merged: dict[str, Any] = {}
        with self.transaction() as conn:
            row = self._locked_case(conn, case_id)
            _open_case(row, seen_decisions)
            now = self._clock()
            refused = refused_changes(json.loads(row.request_json), request)
            if refused:
                # Kept, not just answered: the case's history shows who tried to change whose
                # case it is. Committed with the transaction; the refusal is raised after it.
                append_event(
                    conn,
                    case_id=case_id,
                    event_type="case.resubmission_refused",
                    actor=actor,
                    at=now,
                    data={"changes": refused, "refused_request_sha256": sha256_text(body)},
                )
            else:
                merged = self._resubmitted(conn, row, documents, decision, text, actor, now)
        if refused:
            raise RequestError(
                [FieldError(c["field"], "cannot change on a resubmission") for c in refused]
            )
        return Case.from_rows(_Row(merged), text)

    def _resubmitted(
        self,
        conn: Connection,
        row: Any,
        documents: tuple[str, str | None],
        decision: DecisionLike,
        text: str,
        actor: Actor,
        now: datetime,
    ) -> dict[str, Any]:
        """Store the resubmission's request (and record) and decision on the locked case; its row
        after."""
        body, record = documents
        case_id = row.id
        number = int(row.decision_count) + 1
        status = ENGINE_STATUS[decision.outcome]
        stored = self._insert_decision(conn, case_id, number, decision, text, now)
        changes = {
            "status": status.value,
            "outcome": decision.outcome.value,
            "pathways": _pathways(decision),
            "updated_at": now,
            "closed_at": None if status in OPEN_STATUSES else now,
            "request_json": body,
            "request_sha256": sha256_text(body),
            "record_json": record,
            "record_sha256": _record_digest(record),
            "decision_count": number,
            "policy_id": decision.policy.id,
            **identity_columns(json.loads(body)),
        }
        conn.execute(update(cases).where(cases.c.id == case_id).values(**changes))
        append_event(
            conn,
            case_id=case_id,
            event_type="case.resubmitted",
            actor=actor,
            at=now,
            data={
                **stored,
                "request_sha256": changes["request_sha256"],
                "record_sha256": changes["record_sha256"],
                "status": status.value,
                "pathways": changes["pathways"],
            },
        )
        return {**row._asdict(), **changes}

    def record_reviewer_action(
        self,
        case_id: str,
        action: ReviewerAction,
        reason: str,
        *,
        actor: Actor,
        clauses: Sequence[str] = (),
        seen_decisions: int | None = None,
        authorize: Authorizer | None = None,
    ) -> Case:
        """A reviewer's decision on an open case, with the required reason.

        A denial must state its clauses; when none are given they default to the clauses the
        engine's reasons cite. Approve and deny close the case; request_information pends it.
        ``seen_decisions``: the ``decision_count`` the reviewer looked at, required to approve or
        deny (a ``RequestError`` without it); if the provider has resubmitted since,
        ``CaseConflict`` (the reviewer must look at the new decision).
        ``authorize``: on an approval, what it authorizes, computed from the case's request and
        decision as locked; recorded in the audit event (``authorization``, null when unknown).
        """
        reason = reason.strip()
        if not reason:
            raise RequestError([FieldError("reason", "required: state the reason for the action")])
        if action in _FINAL_ACTIONS and seen_decisions is None:
            raise RequestError(
                [
                    FieldError(
                        "decision_count",
                        f"required to {action.value}: the case's decision_count as you read it, "
                        "so that the action rests on the decision you saw",
                    )
                ]
            )
        if actor.role not in ("reviewer", "admin"):
            raise PermissionError("only a reviewer can decide a case")
        with self.transaction() as conn:
            row = self._locked_case(conn, case_id)
            summary = _open_case(row, seen_decisions)
            if summary.assigned_to is not None and summary.assigned_to != actor.name:
                raise CaseAssigned(summary, action.value.replace("_", " "))
            decision_text = self._latest_decision_json(conn, case_id)
            decision = Decision.model_validate_json(decision_text)
            cited = cited_clauses(action, clauses, decision)
            now = self._clock()
            action_data = insert_action(conn, case_id, action, reason, cited, actor, now)
            status = REVIEWER_STATUS[action]
            changes = {
                "status": status.value,
                "updated_at": now,
                "closed_at": None if status in OPEN_STATUSES else now,
            }
            conn.execute(update(cases).where(cases.c.id == case_id).values(**changes))
            data: dict[str, Any] = {
                **action_data,
                "status": status.value,
                "decision_id": decision.decision_id,
            }
            if action is ReviewerAction.deny:
                data["engine_reasons"] = [r.model_dump(mode="json") for r in decision.reasons]
            if action is ReviewerAction.approve and authorize is not None:
                authorization = authorize(decided_on(row.request_json, row.record_json), decision)
                data["authorization"] = (
                    None if authorization is None else authorization.model_dump(mode="json")
                )
            append_event(
                conn,
                case_id=case_id,
                event_type=f"review.{action.value}",
                actor=actor,
                at=now,
                data=data,
            )
            merged = {**row._asdict(), **changes}
        return Case.from_rows(_Row(merged), decision_text)

    def claim(self, case_id: str, *, actor: Actor) -> Case:
        """The reviewer takes the open case: until they release it (or an admin reassigns it),
        only they can act on it. Claiming one's own case again changes nothing; another
        reviewer's is ``CaseAssigned``."""
        return self._assign(case_id, actor, "claim")

    def release(self, case_id: str, *, actor: Actor) -> Case:
        """The holder (or an admin) gives the open case back to the queue."""
        return self._assign(case_id, actor, "release")

    def reassign(self, case_id: str, reviewer: str | None, *, actor: Actor) -> Case:
        """An admin gives the open case to ``reviewer`` (None: to no one)."""
        if actor.role != "admin":
            raise PermissionError("only an admin can reassign a case")
        return self._assign(case_id, actor, "reassign", reviewer)

    def _assign(self, case_id: str, actor: Actor, verb: str, to: str | None = None) -> Case:
        if actor.role not in ("reviewer", "admin"):
            raise PermissionError("only a reviewer can claim a case")
        with self.transaction() as conn:
            row = self._locked_case(conn, case_id)
            summary = _open_case(row, None)
            holder = summary.assigned_to
            target = assignment_target(summary, actor, verb, to)
            if target == holder:
                return Case.from_rows(row, self._latest_decision_json(conn, case_id))
            now = self._clock()
            changes = {"assigned_to": target, "assigned_at": None if target is None else now}
            conn.execute(update(cases).where(cases.c.id == case_id).values(**changes))
            append_event(
                conn,
                case_id=case_id,
                event_type=_ASSIGNMENT_EVENTS[verb],
                actor=actor,
                at=now,
                data={"assigned_to": target, "previous": holder},
            )
            merged = {**row._asdict(), **changes}
            return Case.from_rows(_Row(merged), self._latest_decision_json(conn, case_id))

    def queue_page(self, query: QueueQuery, now: datetime | None = None) -> QueuePage:
        """A page of the work queue (``medpolicy.store.queue``), with the query's counts."""
        with self.connect() as conn:
            return read_queue(conn, query, now or self._clock())

    def record_event(
        self, event_type: str, *, actor: Actor, data: dict[str, Any], case_id: str | None = None
    ) -> AuditEvent:
        """Append an event that changes no case (e.g. a token created) to the audit trail."""
        with self.transaction() as conn:
            return append_event(
                conn,
                case_id=case_id,
                event_type=event_type,
                actor=actor,
                at=self._clock(),
                data=data,
            )

    def _locked_case(self, conn: Connection, case_id: str) -> Any:
        row = conn.execute(select(cases).where(cases.c.id == case_id).with_for_update()).first()
        if row is None:
            raise CaseNotFound(case_id)
        return row

    # -- reading -----------------------------------------------------------------------------

    def get(self, case_id: str) -> Case | None:
        """The case with its request and latest decision, or None."""
        with self.connect() as conn:
            row = conn.execute(select(cases).where(cases.c.id == case_id)).first()
            if row is None:
                return None
            return Case.from_rows(row, self._latest_decision_json(conn, case_id))

    def opened_as(self, case_id: str) -> CaseFormat:
        """The format the case was opened in, as its first audit event recorded it ("request" for
        a case opened before formats were recorded)."""
        with self.connect() as conn:
            return opened_as(conn, case_id)

    def find_by_request_id(self, request_id: str, organization: str | None = None) -> list[Case]:
        """Cases opened for a request identifier (newest first), optionally of one organization."""
        query = select(cases).where(cases.c.request_id == request_id)
        if organization is not None:
            query = query.where(cases.c.organization == organization)
        with self.connect() as conn:
            rows = conn.execute(query.order_by(cases.c.received_at.desc())).all()
            return [Case.from_rows(r, self._latest_decision_json(conn, r.id)) for r in rows]

    def list_cases(
        self,
        *,
        organization: str | None = None,
        statuses: Sequence[CaseStatus] | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[CaseSummary]:
        """Cases newest first, optionally of one organization and in some statuses."""
        query = select(*_summary_columns())
        if organization is not None:
            query = query.where(cases.c.organization == organization)
        if statuses:
            query = query.where(cases.c.status.in_([s.value for s in statuses]))
        query = query.order_by(cases.c.received_at.desc(), cases.c.id).limit(limit).offset(offset)
        with self.connect() as conn:
            return [CaseSummary.from_row(r) for r in conn.execute(query)]

    def queue(self, *, limit: int = 200, offset: int = 0) -> list[CaseSummary]:
        """Open cases (pending information or in review), the soonest due first."""
        query = (
            select(*_summary_columns())
            .where(cases.c.status.in_([s.value for s in OPEN_STATUSES]))
            .order_by(cases.c.due_at, cases.c.id)
            .limit(limit)
            .offset(offset)
        )
        with self.connect() as conn:
            return [CaseSummary.from_row(r) for r in conn.execute(query)]

    def queue_stats(self) -> tuple[int, datetime | None]:
        """How many cases are open, and when the oldest of them was received."""
        query = select(func.count(), func.min(cases.c.received_at)).where(
            cases.c.status.in_([s.value for s in OPEN_STATUSES])
        )
        with self.connect() as conn:
            count, oldest = conn.execute(query).one()
        return int(count), utc(oldest) if oldest is not None else None

    def history(self, case_id: str) -> list[AuditEvent]:
        """The case's audit events, oldest first."""
        with self.connect() as conn:
            return history_of(conn, case_id)

    def decisions(self, case_id: str) -> list[StoredDecision]:
        """Every engine decision on the case, first to last, with its JSON."""
        with self.connect() as conn:
            return decisions_of(conn, case_id, with_json=True)

    def reviewer_decisions(self, case_id: str) -> list[ReviewerDecision]:
        """Every reviewer action on the case, first to last."""
        with self.connect() as conn:
            return reviewer_decisions_of(conn, case_id)

    def records(self, case_id: str) -> CaseRecords:
        """What a case view shows beside the case, in one round trip: its history, its reviewer
        actions and its decisions (their provenance only: ``decision_json`` is None)."""
        with self.connect() as conn:
            return CaseRecords(
                history=history_of(conn, case_id),
                reviewer_decisions=reviewer_decisions_of(conn, case_id),
                decisions=decisions_of(conn, case_id, with_json=False),
            )

    def count(self) -> int:
        with self.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(cases)).scalar_one())

    def verify_audit(self) -> Verification:
        """Check the hash chain and the records it covers (see ``medpolicy.store.verify``), and
        count the views waiting in the read spool (each line that is not one is a problem)."""
        result = verify_chain(self.engine)
        pending, problems = self.reads.pending()
        result.pending_reads = len(pending)
        result.problems.extend(problems)
        return result

    @staticmethod
    def _by_key(conn: Connection, scope: str, key: str) -> Case | None:
        row = conn.execute(_BY_IDEMPOTENCY_KEY, {"scope": scope, "key": key}).first()
        if row is None:
            return None
        return Case.from_rows(row, latest_decision_json(conn, row.id))

    @staticmethod
    def _latest_decision_json(conn: Connection, case_id: str) -> str:
        return latest_decision_json(conn, case_id)


_ASSIGNMENT_EVENTS = {
    "claim": "case.claimed",
    "release": "case.released",
    "reassign": "case.reassigned",
}

# Actions that close a case: each must name the decision it was made on.
_FINAL_ACTIONS = (ReviewerAction.approve, ReviewerAction.deny)

_BY_IDEMPOTENCY_KEY = select(cases).where(
    cases.c.idempotency_scope == bindparam("scope"), cases.c.idempotency_key == bindparam("key")
)


@dataclass(frozen=True)
class _NewCase:
    """A submission on its way to the batch writer, which computes its digests (hashing the
    decision document is the costly part) and rows when it writes the batch."""

    values: dict[str, Any]  # the cases row, less its digests (request_sha256, record_sha256)
    decision: DecisionLike
    decision_json: str
    actor: Actor
    opened_as: CaseFormat

    def rows(self) -> tuple[dict[str, Any], dict[str, Any], NewEvent]:
        """The cases row, the decisions row and the audit event."""
        case_row = {
            **self.values,
            "request_sha256": sha256_text(self.values["request_json"]),
            "record_sha256": _record_digest(self.values["record_json"]),
        }
        now = case_row["received_at"]
        decision_row, stored = _decision_row(
            case_row["id"], 1, self.decision, self.decision_json, now
        )
        event = NewEvent(
            case_id=case_row["id"],
            event_type="case.submitted",
            actor=self.actor,
            at=now,
            data={
                **stored,
                "request_sha256": case_row["request_sha256"],
                # null: decided on the request alone (``store.verify`` then expects no record)
                "record_sha256": case_row["record_sha256"],
                "status": case_row["status"],
                "due_at": case_row["due_at"].isoformat(),
                "idempotency_key": case_row["idempotency_key"],
                # What the case's rights rest on, under the chain (``store.verify``).
                "request_id": case_row["request_id"],
                "organization": case_row["organization"],
                "urgency": case_row["urgency"],
                "request_type": case_row["request_type"],
                "pathways": case_row["pathways"],
                # what a resubmission's merge patch applies to (``CaseStore.opened_as``)
                "format": self.opened_as,
            },
        )
        return case_row, decision_row, event

    def result(self, written: AuditEvent | SubmitResult) -> SubmitResult:
        """The caller's answer once the writer has committed (or found the idempotent case)."""
        if isinstance(written, SubmitResult):
            return written
        d = self.decision
        stored = StoredDecision(
            number=1,
            decision_id=d.decision_id,
            outcome=d.outcome,
            policy_id=d.policy.id,
            policy_version=d.policy.version,
            policy_content_hash=d.policy.content_hash,
            engine_version=d.engine_version,
            decision_json=None,
            created_at=self.values["received_at"],
        )
        return SubmitResult(
            case=Case.from_rows(_Row(self.values), self.decision_json),
            created=True,
            records=CaseRecords(history=[written], reviewer_decisions=[], decisions=[stored]),
        )


def _replay(conn: Connection, existing: Case, case_row: Mapping[str, Any]) -> SubmitResult:
    """An idempotent retry: the case the key first opened, if the request is the same one.

    Compared with the request and the clinical record as first submitted (the case's own may
    since have grown by resubmissions): their hashes are in the case's first audit event. A
    record is compared as well as the request: two records can have the same request of the
    earlier format (``record.projection``) and differ in what only a record holds."""
    first = next(e for e in history_of(conn, existing.id) if e.event_type == "case.submitted")
    sent = (case_row["request_sha256"], case_row["record_sha256"])
    if (first.data.get("request_sha256"), first.data.get("record_sha256")) != sent:
        raise IdempotencyConflict(existing)
    return SubmitResult(case=existing, created=False)


def _decision_row(
    case_id: str, number: int, decision: DecisionLike, text: str, now: datetime
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The decisions row for ``decision`` and what its audit event records about it."""
    digest = sha256_text(text)
    row = {
        "case_id": case_id,
        "number": number,
        "decision_id": decision.decision_id,
        "outcome": decision.outcome.value,
        "policy_id": decision.policy.id,
        "policy_version": decision.policy.version,
        "policy_content_hash": decision.policy.content_hash,
        "engine_version": decision.engine_version,
        "decision_json": text,
        "decision_sha256": digest,
        "created_at": now,
    }
    stored = {
        "decision_number": number,
        "decision_id": decision.decision_id,
        "decision_sha256": digest,
        "outcome": decision.outcome.value,
        "policy": {
            "id": decision.policy.id,
            "version": decision.policy.version,
            "content_hash": decision.policy.content_hash,
        },
        "engine_version": decision.engine_version,
    }
    return row, stored


def _open_case(row: Any, seen_decisions: int | None) -> CaseSummary:
    summary = CaseSummary.from_row(row)
    if summary.final:
        raise CaseConflict(summary, f"case {summary.id} is closed ({summary.status})")
    if seen_decisions is not None and seen_decisions != summary.decision_count:
        raise CaseConflict(
            summary,
            f"case {summary.id} changed: it now has {summary.decision_count} engine decisions, "
            f"not the {seen_decisions} seen; reload it and try again",
        )
    return summary


def _summary_columns() -> list[Any]:
    return [c for c in cases.c if c.name not in DOCUMENT_COLUMNS]


def _pathways(decision: DecisionLike) -> str:
    return ",".join(decision.applicable_pathways)


class _Row:
    """Attribute access over a dict, so freshly written values build a Case like a fetched row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
