"""The reviewer work queue: open cases, soonest due first, filtered, searched and paged.

Pages are keyset pages: a page ends with a cursor naming its last case's ``(due_at, id)``, and the
next page is the open cases after it in that order, so a page costs the same at the millionth case
as at the first (``OFFSET`` would read and throw away every case before it) and a case decided
while a reviewer pages never shifts the next page. The partial indexes in ``schema`` hold exactly
the open cases in this order. On SQLite the planner needs the tables' statistics to prefer
them to the status index: ``open_store`` refreshes them (``PRAGMA optimize``) when it opens a
SQLite store.

``counts`` break the cases a query matches (every page of it) down by status, urgency, due window,
organization, plan, policy, pathway and assignee: how many of what the reviewer is looking at are
overdue, expedited, theirs. They come with the first page only: they read every matching case
(about 100-300 ms at 100,000 on PostgreSQL here), while a page reads only its own rows.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    tuple_,
    union_all,
)

from medpolicy.store.model import CaseStatus, CaseSummary, utc
from medpolicy.store.schema import DOCUMENT_COLUMNS, OPEN_PREDICATE, cases

__all__ = [
    "DueWindow",
    "QueueCounts",
    "QueuePage",
    "QueueQuery",
    "decode_cursor",
    "encode_cursor",
    "page_statement",
    "read_queue",
]


class DueWindow(StrEnum):
    """A due filter: overdue, or due (not yet overdue) within the next 24 h, 72 h or 7 days."""

    overdue = "overdue"
    within_24h = "24h"
    within_72h = "72h"
    within_7d = "7d"


_WINDOW_SPAN = {
    DueWindow.within_24h: timedelta(hours=24),
    DueWindow.within_72h: timedelta(hours=72),
    DueWindow.within_7d: timedelta(days=7),
}
UNASSIGNED = ""  # QueueQuery.assignee for cases no one has claimed


@dataclass(frozen=True)
class QueueQuery:
    """What a reviewer asks of the queue; every field narrows it (None: any)."""

    status: CaseStatus | None = None  # pending_information or in_review
    urgency: str | None = None  # standard | expedited
    due: DueWindow | None = None
    organization: str | None = None
    plan: str | None = None
    policy: str | None = None  # policy id of the latest engine decision
    pathway: str | None = None  # an applicable pathway of the latest engine decision
    assignee: str | None = None  # a reviewer's name, or UNASSIGNED
    search: str | None = None  # a request id or a member id, exactly
    after: tuple[datetime, str] | None = None  # the cursor: the last case of the previous page
    limit: int = 50


@dataclass(frozen=True)
class QueueCounts:
    total: int = 0
    status: dict[str, int] = field(default_factory=dict)
    urgency: dict[str, int] = field(default_factory=dict)
    due: dict[str, int] = field(default_factory=dict)  # overdue, 24h, 72h, 7d (cumulative)
    organization: dict[str, int] = field(default_factory=dict)
    plan: dict[str, int] = field(default_factory=dict)
    policy: dict[str, int] = field(default_factory=dict)
    pathway: dict[str, int] = field(default_factory=dict)
    assignee: dict[str, int] = field(default_factory=dict)  # "" = unassigned


@dataclass(frozen=True)
class QueuePage:
    cases: list[CaseSummary]
    next_cursor: str | None  # None on the last page
    counts: QueueCounts | None  # on the first page only (no cursor)


def encode_cursor(due_at: datetime, case_id: str) -> str:
    raw = f"{utc(due_at).isoformat()}|{case_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, str]:
    """The ``(due_at, id)`` a cursor names; ``ValueError`` when it is not one this queue made."""
    if len(text) > 200:
        raise ValueError("too long")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("not a queue cursor") from exc
    due_text, sep, case_id = raw.partition("|")
    if not sep or not case_id.startswith("case_"):
        raise ValueError("not a queue cursor")
    due_at = datetime.fromisoformat(due_text)
    if due_at.tzinfo is None:
        raise ValueError("not a queue cursor")
    return utc(due_at), case_id


def _filters(query: QueueQuery, now: datetime) -> list[ColumnElement[bool]]:
    # The partial indexes' own predicate, always: SQLite uses a partial index only when the
    # query's WHERE repeats it.
    where: list[ColumnElement[bool]] = [OPEN_PREDICATE]
    equal = (
        (cases.c.status, query.status.value if query.status else None),
        (cases.c.urgency, query.urgency),
        (cases.c.organization, query.organization),
        (cases.c.plan, query.plan),
        (cases.c.policy_id, query.policy),
    )
    where += [column == value for column, value in equal if value is not None]
    if query.assignee == UNASSIGNED:
        where.append(cases.c.assigned_to.is_(None))
    elif query.assignee is not None:
        where.append(cases.c.assigned_to == query.assignee)
    if query.pathway is not None:
        listed = literal(",") + cases.c.pathways + literal(",")
        where.append(listed.contains(f",{query.pathway},", autoescape=True))
    if query.search is not None:
        where.append(or_(cases.c.request_id == query.search, cases.c.member_id == query.search))
    if query.due is DueWindow.overdue:
        where.append(cases.c.due_at < now)
    elif query.due is not None:
        where.append(and_(cases.c.due_at >= now, cases.c.due_at < now + _WINDOW_SPAN[query.due]))
    return where


_SUMMARY = [c for c in cases.c if c.name not in DOCUMENT_COLUMNS]


def page_statement(query: QueueQuery, now: datetime) -> Select[Any]:
    """The page's query: the matching open cases after the cursor, soonest due first, one more
    than the page holds (to know whether another page follows)."""
    page = select(*_SUMMARY).where(*_filters(query, now))
    if query.after is not None:
        page = page.where(tuple_(cases.c.due_at, cases.c.id) > tuple_(*query.after))
    return page.order_by(cases.c.due_at, cases.c.id).limit(query.limit + 1)


def read_queue(conn: Connection, query: QueueQuery, now: datetime) -> QueuePage:
    where = _filters(query, now)
    rows = [CaseSummary.from_row(r) for r in conn.execute(page_statement(query, now))]
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = encode_cursor(rows[-1].due_at, rows[-1].id) if more else None
    # Counts read every matching case, so only the first page pays for them: a later page is
    # the same query's, and costs only its own rows.
    counts = _counts(conn, where, now) if query.after is None else None
    return QueuePage(rows, cursor, counts)


def _counts(conn: Connection, where: list[ColumnElement[bool]], now: datetime) -> QueueCounts:
    """The matching cases grouped twice: by the facets with few values between them (status,
    urgency, due window, assignee: a few hundred combinations at most), and by those of the
    requests (organization, plan, policy, pathways). Grouping by all eight at once would return
    a row per combination (tens of thousands at 100,000 cases); a GROUP BY per facet would hash
    every case eight times."""
    bucket = case(
        (cases.c.due_at < now, "overdue"),
        *((cases.c.due_at < now + span, window.value) for window, span in _WINDOW_SPAN.items()),
        else_="later",
    )
    keyed = {
        "status": cases.c.status,
        "urgency": cases.c.urgency,
        "due": bucket,
        "assignee": func.coalesce(cases.c.assigned_to, UNASSIGNED),
        "organization": cases.c.organization,
        "plan": cases.c.plan,
        "policy": cases.c.policy_id,
        "pathway": cases.c.pathways,
    }
    if conn.dialect.name == "postgresql":  # both groupings in one scan
        inner = select(*(key.label(f) for f, key in keyed.items())).where(*where).subquery()
        first, second = ([inner.c[f] for f in group] for group in _GROUPS)
        query = select(
            *first, *second, func.grouping(first[0]).label("part"), func.count().label("n")
        ).group_by(func.grouping_sets(tuple_(*first), tuple_(*second)))
        return _tally(conn.execute(query))
    parts = [
        select(
            *(
                keyed[f].label(f) if f in group else literal(None).label(f)
                for f in (*_GROUPS[0], *_GROUPS[1])
            ),
            literal(part).label("part"),
            func.count().label("n"),
        )
        .where(*where)
        .group_by(*(keyed[f] for f in group))
        for part, group in enumerate(_GROUPS)
    ]
    return _tally(conn.execute(union_all(*parts)))


def _tally(rows: Iterable[Any]) -> QueueCounts:
    by: dict[str, Counter[str]] = {k: Counter() for k in _FACETS}
    for r in rows:
        n = int(r.n)
        for facet in _GROUPS[int(r.part)]:
            key = getattr(r, facet)
            if key is None:
                continue
            if facet == "pathway":
                for pathway in (p for p in key.split(",") if p):
                    by["pathway"][pathway] += n
            elif facet == "due":
                # Cumulative: a case due within 24 hours is also due within 72 h and 7 d.
                if key == "overdue":
                    by["due"]["overdue"] += n
                elif key in _WINDOWS:
                    for window in _WINDOWS[_WINDOWS.index(key) :]:
                        by["due"][window] += n
            else:
                by[facet][key] += n
    facets = {k: dict(sorted(v.items())) for k, v in by.items()}
    facets["due"] = {w: by["due"][w] for w in ("overdue", *_WINDOWS)}
    return QueueCounts(total=sum(by["status"].values()), **facets)


_GROUPS = (("status", "urgency", "due", "assignee"), ("organization", "plan", "policy", "pathway"))
_FACETS = ("status", "urgency", "due", "organization", "plan", "policy", "pathway", "assignee")
_WINDOWS = ("24h", "72h", "7d")
