"""``medpolicy report``: approvals, pends, denials and time to decision over a period."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

from sqlalchemy import select

from medpolicy.store.cases import CaseStore
from medpolicy.store.model import CaseStatus, utc
from medpolicy.store.schema import audit_events, cases

__all__ = ["Report", "build_report"]


@dataclass(frozen=True)
class Report:
    since: datetime
    until: datetime
    received: int
    by_status: dict[str, int]  # current status of the cases received in the period
    approved_by_engine: int
    approved_by_reviewer: int
    denied: int
    pended: int  # cases pended for information at least once
    routed_to_review: int  # cases the engine sent to a reviewer at least once
    decided: int  # cases with a final decision
    median_hours_to_decision: float | None  # receipt to final decision
    past_due_open: int
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        data: dict[str, Any] = asdict(self)
        data["since"], data["until"] = self.since.isoformat(), self.until.isoformat()
        return json.dumps(data, indent=2)

    def to_text(self) -> str:
        median_text = (
            "n/a"
            if self.median_hours_to_decision is None
            else f"{self.median_hours_to_decision:.1f} h"
        )
        lines = [
            f"Cases received {self.since.isoformat()} to {self.until.isoformat()}: {self.received}",
            f"  approved            {self.by_status.get('approved', 0):>6}"
            f"  (engine {self.approved_by_engine}, reviewer {self.approved_by_reviewer})",
            f"  denied (reviewer)   {self.denied:>6}",
            f"  out of scope        {self.by_status.get('out_of_scope', 0):>6}",
            f"  open: pending info  {self.by_status.get('pending_information', 0):>6}",
            f"  open: in review     {self.by_status.get('in_review', 0):>6}",
            f"  open past due       {self.past_due_open:>6}",
            f"  ever pended         {self.pended:>6}",
            f"  ever routed to review {self.routed_to_review:>4}",
            f"Median time to final decision: {median_text} (over {self.decided} decided cases)",
        ]
        return "\n".join(lines)


def build_report(store: CaseStore, since: datetime, until: datetime, now: datetime) -> Report:
    window = (cases.c.received_at >= since) & (cases.c.received_at < until)
    with store.connect() as conn:
        rows = conn.execute(
            select(
                cases.c.id, cases.c.status, cases.c.received_at, cases.c.due_at, cases.c.closed_at
            ).where(window)
        ).all()
        ids = [r.id for r in rows]
        events = conn.execute(
            select(
                audit_events.c.case_id, audit_events.c.event_type, audit_events.c.data_json
            ).where(audit_events.c.case_id.in_(select(cases.c.id).where(window)))
        ).all()
    by_status: dict[str, int] = {s.value: 0 for s in CaseStatus}
    durations: list[timedelta] = []
    past_due = 0
    for r in rows:
        by_status[r.status] += 1
        if r.closed_at is not None:
            durations.append(utc(r.closed_at) - utc(r.received_at))
        elif utc(r.due_at) < now:
            past_due += 1
    pended: set[str] = set()
    review: set[str] = set()
    by_reviewer: set[str] = set()
    for e in events:
        status = json.loads(e.data_json).get("status")
        if status == CaseStatus.pending_information:
            pended.add(e.case_id)
        if e.event_type.startswith("case.") and status == CaseStatus.in_review:
            review.add(e.case_id)
        if e.event_type == "review.approve":
            by_reviewer.add(e.case_id)
    hours = [d.total_seconds() / 3600 for d in durations]
    return Report(
        since=since,
        until=until,
        received=len(ids),
        by_status=by_status,
        approved_by_engine=by_status[CaseStatus.approved] - len(by_reviewer),
        approved_by_reviewer=len(by_reviewer),
        denied=by_status[CaseStatus.denied],
        pended=len(pended),
        routed_to_review=len(review),
        decided=len(durations),
        median_hours_to_decision=round(median(hours), 2) if hours else None,
        past_due_open=past_due,
    )
