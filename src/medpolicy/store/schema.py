"""The case store's tables (SQLAlchemy Core). Migrations in ``migrations/`` create exactly these.

Four kinds of record:

- ``cases``: one prior-authorization case, its current (merged) request, the clinical record its
  latest decision was made on (when that was more than the request), and its current state;
- ``decisions``: every engine decision on a case, stored exactly as ``Decision.to_json()`` with the
  policy id, version, content hash and engine version beside it (append-only);
- ``reviewer_actions``: every reviewer's approve / deny / request-information with its reason;
- ``audit_events`` and ``audit_head``: the append-only, hash-chained trail of every transition.

``tokens`` holds API bearer tokens by their SHA-256 only; ``sessions`` the reviewer web app's
signed-in sessions, by the SHA-256 of their ids only.

``read_events`` and ``read_head``: who viewed which case's health information, when and through
which route (``medpolicy.store.reads``), in a hash chain of their own.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
)

__all__ = [
    "DOCUMENT_COLUMNS",
    "OPEN_PREDICATE",
    "OPEN_STATUS_VALUES",
    "audit_events",
    "audit_head",
    "cases",
    "decisions",
    "metadata",
    "read_events",
    "read_head",
    "reviewer_actions",
    "sessions",
    "tokens",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Timestamp = DateTime(timezone=True)

cases = Table(
    "cases",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("request_id", String(200), nullable=False, index=True),
    Column("organization", String(200), nullable=True, index=True),
    Column("status", String(40), nullable=False, index=True),
    Column("outcome", String(40), nullable=False),
    Column("urgency", String(20), nullable=False),
    Column("request_type", String(20), nullable=False),
    Column("pathways", String(500), nullable=False),
    Column("received_at", Timestamp, nullable=False),
    Column("due_at", Timestamp, nullable=False, index=True),
    Column("updated_at", Timestamp, nullable=False),
    Column("closed_at", Timestamp, nullable=True),
    Column("idempotency_scope", String(200), nullable=True),
    Column("idempotency_key", String(200), nullable=True),
    Column("request_sha256", String(64), nullable=False),
    Column("request_json", Text, nullable=False),
    Column("decision_count", Integer, nullable=False),
    # Who the case is for and who asked, copied from ``request_json`` so that a queue can show,
    # filter and search them without reading every request (``medpolicy.store.identity``;
    # ``verify`` holds them to the request they came from).
    Column("member_id", String(200), nullable=True, index=True),
    Column("member_birth_date", String(10), nullable=True),
    Column("member_sex", String(20), nullable=True),
    Column("line_of_business", String(40), nullable=True),
    Column("plan", String(200), nullable=True),
    Column("prescriber", String(300), nullable=True),
    # The policy of the latest engine decision.
    Column("policy_id", String(100), nullable=True),
    # The reviewer who has claimed the case (their token's name), and since when; the claim and
    # its release are audit events, and ``verify`` replays them.
    Column("assigned_to", String(200), nullable=True),
    Column("assigned_at", Timestamp, nullable=True),
    # The clinical record the latest engine decision was made on, when it was not the request
    # alone (facts only the record holds, e.g. answered in a DTR QuestionnaireResponse): its
    # canonical JSON and SHA-256, which that decision's audit event records (migration 0006).
    # NULL: the decision was made on ``request_json``.
    Column("record_sha256", String(64), nullable=True),
    Column("record_json", Text, nullable=True),
    UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_cases_idempotency"),
)

# A case's documents and their digests: what a case's summary (a queue row, a list) leaves out.
DOCUMENT_COLUMNS = frozenset({"request_json", "request_sha256", "record_json", "record_sha256"})

# The work queue reads open cases soonest due first, in pages after a (due_at, id) cursor: these
# partial indexes hold only open cases, so they stay small as closed cases pile up. The queue's
# query repeats their predicate (``OPEN_PREDICATE``) so that SQLite can use them.
OPEN_STATUS_VALUES = ("pending_information", "in_review")
# Literal values, not bound parameters: SQLite uses a partial index only when the query's WHERE
# repeats the index's predicate exactly, constants included.
OPEN_PREDICATE = cases.c.status.in_([literal_column(f"'{v}'") for v in OPEN_STATUS_VALUES])
_OPEN = OPEN_PREDICATE
for _name, _columns in (
    ("ix_cases_open_due", ("due_at", "id")),
    ("ix_cases_open_assignee", ("assigned_to", "due_at", "id")),
    ("ix_cases_open_organization", ("organization", "due_at", "id")),
):
    Index(
        _name,
        *(cases.c[c] for c in _columns),
        sqlite_where=_OPEN,
        postgresql_where=_OPEN,
    )

decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(40), ForeignKey("cases.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("decision_id", String(100), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("policy_id", String(100), nullable=False),
    Column("policy_version", String(100), nullable=False),
    Column("policy_content_hash", String(100), nullable=False),
    Column("engine_version", String(100), nullable=False),
    Column("decision_json", Text, nullable=False),
    Column("decision_sha256", String(64), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("case_id", "number", name="uq_decisions_case_number"),
)

reviewer_actions = Table(
    "reviewer_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", String(40), ForeignKey("cases.id"), nullable=False, index=True),
    Column("action", String(40), nullable=False),
    Column("reason", Text, nullable=False),
    Column("clauses_json", Text, nullable=False),
    Column("reviewer", String(200), nullable=False),
    Column("token_id", Integer, nullable=True),
    Column("created_at", Timestamp, nullable=False),
)

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("case_id", String(40), nullable=True, index=True),
    Column("event_type", String(60), nullable=False),
    Column("actor_json", Text, nullable=False),
    Column("at", String(40), nullable=False),
    Column("data_json", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row (id = 1): the last sequence number and hash. Appending locks it, so the chain never forks;
# it also lets ``verify`` notice that the newest events were deleted.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("organization", String(200), nullable=True),
    Column("name", String(200), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

# A reviewer's web session: the cookie holds its id (never the API token); it ends after an
# idle or an absolute timeout, on sign-out, and when its token is revoked.
sessions = Table(
    "sessions",
    metadata,
    Column("id_sha256", String(64), primary_key=True),
    Column("token_id", Integer, ForeignKey("tokens.id"), nullable=False, index=True),
    Column("created_at", Timestamp, nullable=False),
    Column("last_seen_at", Timestamp, nullable=False),
)

# Every view of a case's health information (45 CFR 164.312(b)): a chain of its own, so that a
# read never waits on the lock of the case trail's head (``medpolicy.store.reads``).
read_events = Table(
    "read_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("case_id", String(40), nullable=False, index=True),
    Column("reader", String(200), nullable=False, index=True),
    Column("actor_json", Text, nullable=False),
    Column("route", String(200), nullable=False),
    Column("at", String(40), nullable=False),
    # A view first recorded in the read spool (``medpolicy.store.read_spool``): its line's id,
    # so that a spool drained twice (a crash between commit and emptying) chains it once.
    Column("spool_id", String(32), nullable=True, unique=True, index=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row (id = 1): the read chain's last sequence number and hash, as ``audit_head``.
read_head = Table(
    "read_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

Index("ix_decisions_case_id", decisions.c.case_id)
