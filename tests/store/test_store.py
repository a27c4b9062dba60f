"""The case store's Python API (shared by the REST and FHIR PAS surfaces), migrations, CLI verbs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select

from medpolicy.adapters.native import parse_request
from medpolicy.cli import main
from medpolicy.errors import RequestError
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from medpolicy.store import (
    AuditEvent,
    CaseConflict,
    CaseNotFound,
    CaseStatus,
    CaseStore,
    IdempotencyConflict,
    ReviewerAction,
    ServiceLevel,
    ServiceLevels,
    TokenStore,
    build_report,
    upgrade,
)
from medpolicy.store.audit import row_event
from medpolicy.store.cases import new_case_id
from medpolicy.store.database import current_revision
from medpolicy.store.schema import audit_events
from tests.api.support import (
    approved_request,
    missing_information_request,
    not_met_request,
    out_of_scope_request,
)
from tests.store.helpers import PROVIDER, REVIEWER, resubmit, submit


def test_submit_get_find(store: CaseStore, registry: PolicyRegistry) -> None:
    result = submit(store, registry, approved_request("PA-S-1"), key="k-1")
    assert result.created and result.case.status is CaseStatus.approved and result.case.final
    again = submit(store, registry, approved_request("PA-S-1"), key="k-1")
    assert not again.created and again.case.id == result.case.id
    with pytest.raises(IdempotencyConflict):
        submit(store, registry, approved_request("PA-S-1", urgency="expedited"), key="k-1")
    fetched = store.get(result.case.id)
    assert fetched is not None and fetched.decision().outcome.value == "approved"
    assert [c.id for c in store.find_by_request_id("PA-S-1")] == [result.case.id]
    assert store.find_by_request_id("PA-S-1", organization="elsewhere") == []
    assert store.get("case_missing") is None
    assert store.count() == 1


def test_lifecycle_transitions(store: CaseStore, registry: PolicyRegistry) -> None:
    case = submit(store, registry, missing_information_request("PA-S-2")).case
    assert case.status is CaseStatus.pending_information
    routed = resubmit(store, registry, case, not_met_request("PA-S-2"))
    assert routed.status is CaseStatus.in_review and routed.decision_count == 2
    with pytest.raises(PermissionError):
        store.record_reviewer_action(
            case.id, ReviewerAction.deny, "no", actor=PROVIDER, seen_decisions=2
        )
    with pytest.raises(RequestError) as blank:
        store.record_reviewer_action(
            case.id, ReviewerAction.deny, "  ", actor=REVIEWER, seen_decisions=2
        )
    assert blank.value.errors[0].field == "reason"
    with pytest.raises(RequestError) as unseen:
        store.record_reviewer_action(case.id, ReviewerAction.deny, "HER2-negative", actor=REVIEWER)
    assert unseen.value.errors[0].field == "decision_count"
    denied = store.record_reviewer_action(
        case.id, ReviewerAction.deny, "HER2-negative", actor=REVIEWER, seen_decisions=2
    )
    assert denied.status is CaseStatus.denied and denied.closed_at is not None
    [action] = store.reviewer_decisions(case.id)
    assert action.clauses and all(c.startswith("Position Statement") for c in action.clauses)
    with pytest.raises(CaseConflict):
        resubmit(store, registry, case, approved_request("PA-S-2"))
    with pytest.raises(CaseNotFound):
        store.record_reviewer_action(
            "case_nope", ReviewerAction.approve, "ok", actor=REVIEWER, seen_decisions=1
        )
    assert [e.event_type for e in store.history(case.id)] == [
        "case.submitted",
        "case.resubmitted",
        "review.deny",
    ]


def test_a_denial_without_any_unmet_clause_must_cite_one(
    store: CaseStore, registry: PolicyRegistry
) -> None:
    case = submit(store, registry, missing_information_request()).case
    with pytest.raises(RequestError) as missing:
        store.record_reviewer_action(
            case.id, ReviewerAction.deny, "no HER2 test", actor=REVIEWER, seen_decisions=1
        )
    assert missing.value.errors[0].field == "clauses"
    denied = store.record_reviewer_action(
        case.id,
        ReviewerAction.deny,
        "No HER2 result after two requests.",
        actor=REVIEWER,
        seen_decisions=1,
        clauses=["Position Statement > Initiation > 1.b"],
    )
    assert denied.status is CaseStatus.denied


def test_service_levels_are_configurable_per_line_of_business(
    store: CaseStore, registry: PolicyRegistry
) -> None:
    store.service_levels = ServiceLevels(
        default=ServiceLevel(timedelta(days=5), timedelta(hours=48)),
        by_line_of_business={
            "medicare_advantage": ServiceLevel(timedelta(hours=72), timedelta(hours=24))
        },
    )
    plain = submit(store, registry, not_met_request()).case
    assert plain.due_at - plain.received_at == timedelta(days=5)
    ma = not_met_request(urgency="expedited")
    ma["member"]["line_of_business"] = "medicare_advantage"
    fast = submit(store, registry, ma).case
    assert fast.due_at - fast.received_at == timedelta(hours=24)


def test_report_counts_and_median_time(
    store: CaseStore, registry: PolicyRegistry, database_url: str
) -> None:
    submit(store, registry, approved_request())
    submit(store, registry, out_of_scope_request())
    pended = submit(store, registry, missing_information_request()).case
    review = submit(store, registry, not_met_request()).case
    store.record_reviewer_action(
        review.id, ReviewerAction.deny, "HER2 negative", actor=REVIEWER, seen_decisions=1
    )
    resubmit(store, registry, pended, approved_request(pended.request_id))
    other = submit(store, registry, not_met_request()).case
    store.record_reviewer_action(
        other.id, ReviewerAction.approve, "peer to peer", actor=REVIEWER, seen_decisions=1
    )

    now = datetime.now(UTC)
    report = build_report(store, now - timedelta(days=1), now + timedelta(days=1), now)
    assert report.received == 5
    assert report.by_status["approved"] == 3
    assert (report.approved_by_engine, report.approved_by_reviewer) == (2, 1)
    assert report.denied == 1 and report.pended == 1 and report.routed_to_review == 2
    assert report.decided == 5 and report.median_hours_to_decision is not None
    empty = build_report(store, now - timedelta(days=9), now - timedelta(days=8), now)
    assert empty.received == 0 and empty.median_hours_to_decision is None

    result = CliRunner().invoke(main, ["report", "--json", "--database", database_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["denied"] == 1
    text = CliRunner().invoke(main, ["report", "--database", database_url])
    assert "Median time to final decision" in text.output
    bad = CliRunner().invoke(main, ["report", "--since", "2026-13-01", "--database", database_url])
    assert bad.exit_code == 2


def test_migrations_are_repeatable_and_at_head(store: CaseStore) -> None:
    upgrade(store.engine)  # a second run changes nothing
    assert current_revision(store.engine) == "0006"
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "cases",
        "decisions",
        "reviewer_actions",
        "audit_events",
        "audit_head",
        "tokens",
        "sessions",
    } <= tables


def test_db_upgrade_and_token_verbs(database_url: str, store: CaseStore) -> None:
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade", "--database", database_url])
    assert upgraded.exit_code == 0 and "at revision 0006" in upgraded.output
    created = runner.invoke(
        main,
        [
            "token",
            "create",
            "--role",
            "provider",
            "--organization",
            "tampa",
            "--database",
            database_url,
        ],
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[0]
    info = TokenStore(store).authenticate(secret)
    assert info is not None and info.organization == "tampa"
    no_org = runner.invoke(
        main, ["token", "create", "--role", "provider", "--database", database_url]
    )
    assert no_org.exit_code != 0
    listed = runner.invoke(main, ["token", "list", "--database", database_url])
    assert "tampa" in listed.output and secret not in listed.output
    revoked = runner.invoke(main, ["token", "revoke", str(info.id), "--database", database_url])
    assert revoked.exit_code == 0
    assert TokenStore(store).authenticate(secret) is None
    events = [e.event_type for e in _all_events(store)]
    assert events == ["token.created", "token.revoked"]


def _all_events(store: CaseStore) -> list[AuditEvent]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_events).order_by(audit_events.c.seq))
        return [row_event(r) for r in rows]


def test_serve_service_level_options() -> None:
    import click

    from medpolicy.api.commands import service_levels

    levels = service_levels(120, 48, ("medicare_advantage=72,24",))
    assert levels.default == ServiceLevel(timedelta(hours=120), timedelta(hours=48))
    assert levels.by_line_of_business["medicare_advantage"] == ServiceLevel(
        timedelta(hours=72), timedelta(hours=24)
    )
    with pytest.raises(click.BadParameter):
        service_levels(168, 72, ("medicare_advantage=fast",))


def test_stale_views_are_refused(store: CaseStore, registry: PolicyRegistry) -> None:
    """A resubmission merged into, or a reviewer action taken on, a decision that has since been
    replaced is a conflict, not a silent overwrite."""
    case = submit(store, registry, missing_information_request("PA-STALE-1")).case
    assert case.decision_count == 1
    updated = resubmit(store, registry, case, not_met_request("PA-STALE-1"))
    assert updated.decision_count == 2
    request = parse_request(approved_request("PA-STALE-1"))
    with pytest.raises(CaseConflict, match="now has 2 engine decisions"):
        store.resubmit(
            case.id,
            request,
            evaluate_request(registry, request),
            actor=PROVIDER,
            seen_decisions=1,
        )
    with pytest.raises(CaseConflict):
        store.record_reviewer_action(
            case.id, ReviewerAction.approve, "looked fine", actor=REVIEWER, seen_decisions=1
        )
    done = store.record_reviewer_action(
        case.id, ReviewerAction.approve, "looked fine", actor=REVIEWER, seen_decisions=2
    )
    assert done.status is CaseStatus.approved


def test_database_errors_never_quote_their_parameters(store: CaseStore) -> None:
    """A failed statement's message reaches logs: it must not carry member data."""
    from sqlalchemy.exc import IntegrityError

    from medpolicy.store.schema import tokens

    row = {
        "token_sha256": "duplicate",
        "role": "provider",
        "organization": None,
        "name": "M7730412",  # as a member identifier would sit in a request's JSON
        "created_at": datetime.now(UTC),
        "revoked": False,
    }
    with store.engine.begin() as conn:
        conn.execute(tokens.insert(), row)
    with pytest.raises(IntegrityError) as failed, store.engine.begin() as conn:
        conn.execute(tokens.insert(), row)
    assert "M7730412" not in str(failed.value)


def test_case_ids_are_time_ordered_uuid7s() -> None:
    """New cases sort after older ones (they go in at the end of each index); ids stay unique."""
    earlier = [new_case_id(now_ms=1_795_000_000_000) for _ in range(200)]
    later = new_case_id(now_ms=1_795_000_000_001)
    assert len(set(earlier)) == 200 and all(e < later for e in earlier)
    for case_id in (*earlier, later):
        assert case_id.startswith("case_") and len(case_id) == 37
        parsed = uuid.UUID(case_id.removeprefix("case_"))
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert parsed.int >> 80 in (1_795_000_000_000, 1_795_000_000_001)
