"""The audit trail is hash-chained: any edited or deleted row makes ``audit verify`` fail."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, func, select, update

from medpolicy.cli import main
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import CaseStore, ReviewerAction
from medpolicy.store.schema import audit_events, cases, decisions, reviewer_actions
from tests.api.support import missing_information_request, not_met_request
from tests.store.helpers import REVIEWER, resubmit, submit


def fill(store: CaseStore, registry: PolicyRegistry) -> None:
    """Five events: two submissions, a resubmission, two reviewer actions."""
    pended = submit(store, registry, missing_information_request("PA-AU-1")).case
    resubmit(store, registry, pended, not_met_request("PA-AU-1"))
    store.record_reviewer_action(
        pended.id, ReviewerAction.request_information, "ISH?", actor=REVIEWER
    )
    other = submit(store, registry, not_met_request("PA-AU-2")).case
    store.record_reviewer_action(other.id, ReviewerAction.deny, "HER2 negative", actor=REVIEWER)


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
