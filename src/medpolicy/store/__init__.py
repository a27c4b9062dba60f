"""The durable case store: cases, engine decisions, reviewer actions, a hash-chained audit trail.

The public Python API, shared by the REST service and the FHIR PAS routes::

    from medpolicy.store import CaseStore, open_store

    store = open_store("sqlite:///cases.db")          # runs the packaged migrations
    result = store.submit(request, decision, actor=actor, idempotency_key=key,
                          idempotency_scope=organization)
    case = result.case                                  # result.created: False on a retry
    result = await store.submit_async(request, decision, actor=actor)  # from an event loop
    store.get(case.id); store.find_by_request_id(request.request_id)
    store.resubmit(case.id, merged_request, new_decision, actor=actor)
    store.record_reviewer_action(case.id, ReviewerAction.deny, "reason", actor=reviewer)
    store.claim(case.id, actor=reviewer); store.release(case.id, actor=reviewer)
    store.reassign(case.id, "Dr Chen", actor=admin)    # claims are audit events too
    page = store.queue_page(QueueQuery(due=DueWindow.overdue, assignee="Dr Chen"))
    page.cases, page.next_cursor, page.counts           # medpolicy.store.queue
    store.history(case.id)                              # the case's audit events
    store.reads.record(case.id, actor, "GET /api/v1/cases/{case_id}")  # a view, recorded
    store.reads.reads(case_id=case.id)                  # who viewed the case (read audit)
    store.reads.drain()                                 # chain the views the read spool holds
    store.verify_audit()                                # the hash chains, both

Every writing method commits before it returns.
"""

from __future__ import annotations

import contextlib

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from medpolicy.store.audit import SYSTEM, Actor, AuditEvent, Verification
from medpolicy.store.availability import StoreBusy, StoreUnavailable
from medpolicy.store.cases import CaseStore
from medpolicy.store.database import (
    LOCK_TIMEOUT,
    STATEMENT_TIMEOUT,
    connect,
    default_database_url,
    normalize_url,
    upgrade,
)
from medpolicy.store.model import (
    OPEN_STATUSES,
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
    ServiceLevel,
    ServiceLevels,
    StoredDecision,
    SubmitResult,
)
from medpolicy.store.report import Report, build_report
from medpolicy.store.tokens import Role, TokenInfo, TokenStore

__all__ = [
    "LOCK_TIMEOUT",
    "OPEN_STATUSES",
    "STATEMENT_TIMEOUT",
    "SYSTEM",
    "Actor",
    "AuditEvent",
    "Case",
    "CaseAssigned",
    "CaseConflict",
    "CaseFormat",
    "CaseNotFound",
    "CaseRecords",
    "CaseStatus",
    "CaseStore",
    "CaseSummary",
    "IdempotencyConflict",
    "Report",
    "ReviewerAction",
    "ReviewerDecision",
    "Role",
    "ServiceLevel",
    "ServiceLevels",
    "StoreBusy",
    "StoreUnavailable",
    "StoredDecision",
    "SubmitResult",
    "TokenInfo",
    "TokenStore",
    "Verification",
    "build_report",
    "connect",
    "default_database_url",
    "normalize_url",
    "open_store",
    "upgrade",
]


def open_store(
    url: str | None = None,
    *,
    service_levels: ServiceLevels | None = None,
    migrate: bool = True,
    sqlite_synchronous: str = "NORMAL",
    sqlite_checkpoint_pages: int = 1000,
    lock_timeout: float = LOCK_TIMEOUT,
    statement_timeout: float | None = None,
) -> CaseStore:
    """Connect to the store at ``url`` (default: the SQLite file in the user's data directory)
    and, unless ``migrate`` is False, bring its tables up to date. ``lock_timeout``: the longest
    a write waits for the database's write lock before ``StoreBusy``; ``statement_timeout``: the
    longest a PostgreSQL statement runs (None: no limit, for the command line's long reads; the
    service sets ``STATEMENT_TIMEOUT``)."""
    engine: Engine = connect(
        url or default_database_url(),
        sqlite_synchronous=sqlite_synchronous,
        sqlite_checkpoint_pages=sqlite_checkpoint_pages,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
    )
    if migrate:
        upgrade(engine)
    if engine.dialect.name == "sqlite":
        # Statistics, so that the planner picks the queue's partial indexes over the status index
        # (``medpolicy.store.queue``).
        _refresh_statistics(engine)
    return CaseStore(engine, service_levels=service_levels, lock_timeout=lock_timeout)


def _refresh_statistics(engine: Engine) -> None:
    """SQLite: ``ANALYZE cases`` if it never was, else ``PRAGMA optimize`` (which re-analyzes
    what has changed much); ``analysis_limit`` bounds either to a sample of each index. Only an
    optimisation: a store that cannot be written now (read-only, locked) opens without it."""
    with contextlib.suppress(OperationalError):
        _analyse(engine)


def _analyse(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        stats = conn.exec_driver_sql(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'"
        ).first()
        analysed = (
            stats and conn.exec_driver_sql("SELECT 1 FROM sqlite_stat1 WHERE tbl = 'cases'").first()
        )
        conn.exec_driver_sql("PRAGMA optimize=0x10002" if analysed else "ANALYZE cases")
        conn.commit()
