"""``verify_chain``: the audit trail's hash chain, then every stored fact it vouches for.

The chain (``medpolicy.store.audit``) proves that no event was edited, deleted or inserted. What
the events record then proves the rest of the store, by replaying them:

- each engine decision: the SHA-256 of its JSON and its provenance columns (outcome, policy id,
  version and content hash, engine version, decision id);
- each reviewer action: the SHA-256 of its action, reason, clauses and reviewer;
- each case, column by column: the request it holds (``request_json`` must hash to the
  ``request_sha256`` the last submission or resubmission recorded), the clinical record its latest
  decision was made on (``record_json`` must hash to the ``record_sha256`` that event recorded;
  none when it recorded none, or was written before records were kept), its organization, urgency,
  request id and type, due and receipt times, status, outcome, pathways, decision count, and when
  it was last updated and closed, and who holds it (claims, releases and reassignments), as its
  events set them; who it is for (member, plan, line of business, prescriber), as its request says;
- each API token: its hash, role, organization and name as created, and whether it was revoked
  (a token's row is what every right of its holder rests on).

The read audit's own chain (``medpolicy.store.reads``: who viewed which case) is verified too.

So editing the stored dose of an approved case, moving a case to another organization, pushing
its due time, or lending a token another role is named by ``medpolicy audit verify``, as is a row
added or deleted behind the trail's back. Events written before a fact was recorded (older
stores) leave that fact unchecked rather than failing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from medpolicy.store.audit import (
    GENESIS_HASH,
    Verification,
    action_sha256,
    check_row,
    events,
    sha256_text,
)
from medpolicy.store.identity import identity_columns
from medpolicy.store.model import utc
from medpolicy.store.reads import verify_reads
from medpolicy.store.schema import audit_head, cases, decisions, reviewer_actions, tokens

__all__ = ["verify_chain"]

_ASSIGNMENT_EVENTS = frozenset({"case.claimed", "case.released", "case.reassigned"})
_FINAL_STATUSES = frozenset({"approved", "denied", "out_of_scope"})
# Facts a case's first event records about it, when it records them (newer stores).
_SUBMITTED_FACTS = ("request_id", "organization", "urgency", "request_type", "pathways")
_DECISION_FACTS = (
    ("outcome", "outcome"),
    ("decision_id", "decision_id"),
    ("engine_version", "engine_version"),
)
_POLICY_FACTS = (
    ("policy_id", "id"),
    ("policy_version", "version"),
    ("policy_content_hash", "content_hash"),
)


@dataclass
class _Expected:
    """What the events say the tables hold, built while walking the chain."""

    decisions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    actions: dict[tuple[str, int], str] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[int, dict[str, Any]] = field(default_factory=dict)

    def remember(self, row: Any) -> None:
        data = json.loads(row.data_json)
        case_id, kind = row.case_id, row.event_type
        if "decision_sha256" in data:
            self.decisions[(case_id, int(data["decision_number"]))] = data
        if "action_sha256" in data:
            self.actions[(case_id, int(data["action_id"]))] = data["action_sha256"]
        if case_id is not None:
            self._case(case_id, kind, row.at, data)
        elif kind == "token.created":
            self.tokens[int(data["token_id"])] = {
                k: data[k] for k in ("role", "organization", "name", "token_sha256") if k in data
            } | {"revoked": False}
        elif kind == "token.revoked" and int(data["token_id"]) in self.tokens:
            self.tokens[int(data["token_id"])]["revoked"] = True

    def _case(self, case_id: str, kind: str, at: str, data: dict[str, Any]) -> None:
        state = self.cases.setdefault(case_id, {})
        if kind == "case.submitted":
            # No case was claimed when it was opened (nor before claims existed).
            state["assigned_to"] = state["assigned_at"] = None
            state["received_at"] = at
            state["idempotency_key"] = data.get("idempotency_key")
            if "due_at" in data:
                state["due_at"] = data["due_at"]
            state.update({k: data[k] for k in _SUBMITTED_FACTS if k in data})
        if "request_sha256" in data:
            state["request_sha256"] = data["request_sha256"]
            # A submission or resubmission recorded before records were kept had none.
            state["record_sha256"] = data.get("record_sha256")
        if kind in _ASSIGNMENT_EVENTS:
            state["assigned_to"] = data["assigned_to"]
            state["assigned_at"] = None if data["assigned_to"] is None else at
        if "decision_number" in data:
            state["decision_count"] = int(data["decision_number"])
            state["outcome"] = data["outcome"]
            if "id" in (data.get("policy") or {}):
                state["policy_id"] = data["policy"]["id"]
            if "pathways" in data:
                state["pathways"] = data["pathways"]
        if "status" in data:
            state["status"] = data["status"]
            state["updated_at"] = at
            state["closed_at"] = at if data["status"] in _FINAL_STATUSES else None


def verify_chain(engine: Engine, batch: int = 1000) -> Verification:
    """Check the whole trail; the first problem listed names the first bad row."""
    result = Verification()
    expected = _Expected()
    with engine.connect() as conn:
        prev_hash, last_seq = GENESIS_HASH, 0
        for row in events(conn, batch):
            problem = check_row(row, last_seq + 1, prev_hash)
            if problem:
                result.problems.append(problem)
                return result
            result.events += 1
            prev_hash, last_seq = row.hash, int(row.seq)
            expected.remember(row)
        head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).one_or_none()
        if head is None or (int(head.seq), head.hash) != (last_seq, prev_hash):
            result.problems.append(
                f"audit_events after seq {last_seq}: the chain head records seq "
                f"{head.seq if head else '(missing)'}; the newest events were deleted or the head "
                "was edited"
            )
            return result
        result.problems.extend(_check_decisions(conn, expected))
        result.problems.extend(_check_actions(conn, expected))
        result.problems.extend(_check_cases(conn, expected))
        result.problems.extend(_check_tokens(conn, expected))
        result.reads, read_problems = verify_reads(conn, batch)
        result.problems.extend(read_problems)
    return result


def _streamed(conn: Connection, query: Any) -> Iterator[Any]:
    # Stream: decisions are tens of kilobytes each, and a store holds many.
    yield from conn.execution_options(yield_per=500).execute(query)


def _check_decisions(conn: Connection, expected: _Expected) -> Iterator[str]:
    wanted = dict(expected.decisions)
    for d in _streamed(conn, select(decisions)):
        recorded = wanted.pop((d.case_id, int(d.number)), None)
        if recorded is None or recorded["decision_sha256"] != sha256_text(d.decision_json):
            yield f"decisions id {d.id}: does not match the decision the trail recorded"
            continue
        policy = recorded.get("policy") or {}
        for column, key in _DECISION_FACTS:
            if key in recorded and getattr(d, column) != recorded[key]:
                yield f"decisions id {d.id}: {column} is not the one the trail recorded"
        for column, key in _POLICY_FACTS:
            if key in policy and getattr(d, column) != policy[key]:
                yield f"decisions id {d.id}: {column} is not the one the trail recorded"
    yield from _deleted("decision", wanted)


def _check_actions(conn: Connection, expected: _Expected) -> Iterator[str]:
    wanted = dict(expected.actions)
    for a in _streamed(conn, select(reviewer_actions)):
        digest = wanted.pop((a.case_id, int(a.id)), None)
        if digest != action_sha256(a.action, a.reason, a.clauses_json, a.reviewer):
            yield f"reviewer_actions id {a.id}: does not match the action the trail recorded"
    yield from _deleted("action", wanted)


def _deleted(kind: str, left: dict[tuple[str, int], Any]) -> Iterator[str]:
    for case_id, number in sorted(left):
        where = f"{kind} {case_id}#{number}"
        yield f"{where}: recorded in the trail but missing from its table (deleted)"


def _check_cases(conn: Connection, expected: _Expected) -> Iterator[str]:
    wanted = dict(expected.cases)
    for c in _streamed(conn, select(cases)):
        state = wanted.pop(c.id, None)
        if state is None:
            yield f"cases id {c.id}: not in the trail (added behind its back)"
            continue
        if sha256_text(c.request_json) != c.request_sha256:
            yield f"cases id {c.id}: request_json does not match its request_sha256 (edited)"
        if _record_digest(c.record_json) != c.record_sha256:
            yield f"cases id {c.id}: record_json does not match its record_sha256 (edited)"
        else:
            # Who the case is for: copied from the request the trail vouches for.
            for column, want in identity_columns(json.loads(c.request_json)).items():
                if getattr(c, column) != want:
                    yield f"cases id {c.id}: {column} is not the request's (edited)"
        for column, want in state.items():
            have = _as_recorded(getattr(c, column))
            if have != want:
                yield f"cases id {c.id}: {column} {have!r} is not the {column} the trail recorded"
    yield from (f"cases id {cid}: in the trail but missing (deleted)" for cid in sorted(wanted))


def _record_digest(text: str | None) -> str | None:
    return None if text is None else sha256_text(text)


def _as_recorded(value: Any) -> Any:
    """A column's value as an event records it (times as ISO 8601 in UTC)."""
    if isinstance(value, datetime):
        return utc(value).isoformat()
    return value


def _check_tokens(conn: Connection, expected: _Expected) -> Iterator[str]:
    wanted = dict(expected.tokens)
    for t in _streamed(conn, select(tokens)):
        state = wanted.pop(int(t.id), None)
        if state is None:
            yield f"tokens id {t.id}: not in the trail (added behind its back)"
            continue
        have = {
            "role": t.role,
            "organization": t.organization,
            "name": t.name,
            "token_sha256": t.token_sha256,
            "revoked": bool(t.revoked),
        }
        for column, want in state.items():
            if have[column] != want:
                yield f"tokens id {t.id}: {column} is not the one the trail recorded"
    yield from (f"tokens id {tid}: in the trail but missing (deleted)" for tid in sorted(wanted))
