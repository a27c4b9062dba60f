"""The audit trail is hash-chained: any edited or deleted row makes ``audit verify`` fail."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import date
from functools import partial

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from medpolicy.cli import main
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import reviewer_authorization
from medpolicy.store import CaseStatus, CaseStore, ReviewerAction
from medpolicy.store.schema import audit_events, cases, decisions, reviewer_actions
from tests.api.support import missing_information_request, not_met_request
from tests.store.helpers import REVIEWER, resubmit, submit
from tests.support import EXAMPLES


def fill(store: CaseStore, registry: PolicyRegistry) -> None:
    """Five events: two submissions, a resubmission, two reviewer actions."""
    pended = submit(store, registry, missing_information_request("PA-AU-1")).case
    resubmit(store, registry, pended, not_met_request("PA-AU-1"))
    store.record_reviewer_action(
        pended.id, ReviewerAction.request_information, "ISH?", actor=REVIEWER
    )
    other = submit(store, registry, not_met_request("PA-AU-2")).case
    store.record_reviewer_action(
        other.id, ReviewerAction.deny, "HER2 negative", actor=REVIEWER, seen_decisions=1
    )


def verify_cli(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["audit", "verify", "--database", url])
    return result.exit_code, result.output


def test_an_untouched_trail_verifies(
    store: CaseStore, registry: PolicyRegistry, database_url: str
) -> None:
    fill(store, registry)
    result = store.verify_audit()
    assert result.ok and result.events == 5
    code, output = verify_cli(database_url)
    assert code == 0 and "5 events verified" in output


Tamper = Callable[[CaseStore], None]


def _execute(store: CaseStore, statement: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


TAMPERING: dict[str, tuple[Tamper, str]] = {
    "edit an event's data": (
        lambda s: _execute(
            s,
            update(audit_events)
            .where(audit_events.c.seq == 3)
            .values(data_json=audit_events.c.data_json + " "),
        ),
        "audit_events seq 3: its contents do not match its hash",
    ),
    "edit an event's time": (
        lambda s: _execute(
            s, update(audit_events).where(audit_events.c.seq == 2).values(at="2020-01-01T00:00:00")
        ),
        "audit_events seq 2:",
    ),
    "delete an event": (
        lambda s: _execute(s, delete(audit_events).where(audit_events.c.seq == 2)),
        "audit_events seq 2: missing (deleted)",
    ),
    "delete the newest event": (
        lambda s: _execute(s, delete(audit_events).where(audit_events.c.seq == 5)),
        "after seq 4",
    ),
    "edit a stored decision": (
        lambda s: _execute(
            s,
            update(decisions)
            .where(decisions.c.number == 1)
            .values(decision_json=func.replace(decisions.c.decision_json, "not_met", "approved")),
        ),
        "decisions id",
    ),
    "delete a reviewer action": (
        lambda s: _execute(s, delete(reviewer_actions).where(reviewer_actions.c.action == "deny")),
        "missing from its table (deleted)",
    ),
    "edit a reviewer's reason": (
        lambda s: _execute(s, update(reviewer_actions).values(reason="approved after all")),
        "reviewer_actions id",
    ),
    "edit a case's status": (
        lambda s: _execute(
            s,
            update(cases).where(cases.c.request_id == "PA-AU-2").values(status="approved"),
        ),
        "status 'approved' is not the status the trail recorded",
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_tampering_is_detected_and_named(
    store: CaseStore, registry: PolicyRegistry, database_url: str, tampering: str
) -> None:
    fill(store, registry)
    tamper, expected = TAMPERING[tampering]
    tamper(store)
    result = store.verify_audit()
    assert not result.ok
    assert expected in result.problems[0]
    code, output = verify_cli(database_url)
    assert code == 1
    assert expected in output


def test_the_chain_links_every_event_to_the_previous_one(
    store: CaseStore, registry: PolicyRegistry
) -> None:
    fill(store, registry)
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq)).all()
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash


def test_a_reviewer_approval_records_what_it_authorizes_under_the_chain(
    store: CaseStore, registry: PolicyRegistry, database_url: str
) -> None:
    """A not-met case approved by a reviewer authorizes the request as submitted (68.5 kg at
    3.6 mg/kg: 247 units of J9354 and 13 wasted, JW); without a weight, nothing is stated."""
    authorize = partial(reviewer_authorization, registry)
    body = json.loads((EXAMPLES / "breast-with-pertuzumab-not-met.json").read_text())
    case = submit(store, registry, body).case
    assert case.decision().outcome.value == "not_met" and case.decision().authorization is None
    approved = store.record_reviewer_action(
        case.id,
        ReviewerAction.approve,
        "Peer to peer",
        actor=REVIEWER,
        authorize=authorize,
        seen_decisions=1,
    )
    assert approved.status is CaseStatus.approved
    [decision] = store.reviewer_decisions(case.id)
    a = decision.authorization
    assert a is not None
    assert (a.period_start, a.period_end, a.months) == (date(2026, 11, 9), date(2027, 5, 8), 6)
    assert (a.units_per_administration, a.administrations, a.total_units) == (247, 9, 2223)
    assert [(ln.modifier, ln.units) for ln in a.claim_lines_per_administration] == [
        (None, 247),
        ("JW", 13),
    ]
    event = store.history(case.id)[-1]
    assert event.event_type == "review.approve"
    assert event.data["authorization"] == a.model_dump(mode="json")

    weightless = {k: v for k, v in body.items() if k != "body_weight"} | {"request_id": "PA-W"}
    other = submit(store, registry, weightless).case
    store.record_reviewer_action(
        other.id,
        ReviewerAction.approve,
        "Peer to peer",
        actor=REVIEWER,
        authorize=authorize,
        seen_decisions=1,
    )
    [decision] = store.reviewer_decisions(other.id)
    assert decision.action is ReviewerAction.approve and decision.authorization is None
    assert store.history(other.id)[-1].data["authorization"] is None

    assert store.verify_audit().ok
    code, output = verify_cli(database_url)
    assert code == 0 and "4 events verified" in output
    _execute(
        store,
        update(audit_events)
        .where(audit_events.c.seq == 2)
        .values(
            data_json=func.replace(
                audit_events.c.data_json, '"total_units":2223', '"total_units":4446'
            )
        ),
    )
    assert (
        "audit_events seq 2: its contents do not match its hash" in store.verify_audit().problems[0]
    )
