"""A decision made on a clinical record (DTR answers for facts only the record holds) is kept with
that record: the case on file holds what its decision was made on, deciding it again from the
stored case gives the same decision byte for byte, and the audit trail covers the record.
SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from alembic import command
from sqlalchemy import inspect, text

from medpolicy.adapters.native import parse_request
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request
from medpolicy.service import evaluate_request
from medpolicy.store import CaseStore, connect, upgrade
from medpolicy.store.cases import record_json
from medpolicy.store.database import alembic_config, current_revision
from tests.api.support import approved_request
from tests.store.helpers import (
    PROVIDER,
    adapted,
    aetna_bundle,
    aetna_registry,
    submit,
    submit_adapted,
)


@pytest.fixture(scope="module")
def aetna() -> PolicyRegistry:
    return aetna_registry()


def test_a_case_decided_on_the_record_keeps_it(store: CaseStore, aetna: PolicyRegistry) -> None:
    item = adapted(aetna_bundle(answered=True))
    assert item.record is not None
    opened = submit_adapted(store, aetna, item).case
    case = store.get(opened.id)
    assert case is not None and case.outcome.value == "approved"
    assert case.record_json == record_json(item.record) == opened.record_json
    assert case.record() == item.record
    decided_on = case.decided_on()
    assert isinstance(decided_on, ClinicalRecord)
    # what the engine read: the overall HER2 result answered in DTR
    conditions = decided_on.conditions or []
    assert any(f.result == "positive" for c in conditions for f in c.findings)
    # the request alone lacks it: deciding on it would pend the case
    assert item.request is not None
    assert evaluate_request(aetna, item.request).outcome.value == "missing_information"
    assert store.verify_audit().ok, store.verify_audit().problems


def test_deciding_the_stored_case_again_gives_the_same_decision(
    store: CaseStore, aetna: PolicyRegistry
) -> None:
    for answered in (True, False):
        case = submit_adapted(store, aetna, adapted(aetna_bundle(answered=answered))).case
        stored = store.get(case.id)
        assert stored is not None
        again = evaluate_request(aetna, stored.decided_on())
        assert again.to_json() == stored.decision_json  # byte for byte
        assert (stored.record_json is None) is (not answered)


def test_a_case_decided_on_its_request_keeps_no_record(
    store: CaseStore, registry: PolicyRegistry
) -> None:
    case = submit(store, registry, approved_request("PA-NO-RECORD")).case
    stored = store.get(case.id)
    assert stored is not None and stored.record_json is None and stored.record() is None
    assert isinstance(stored.decided_on(), Request)
    assert evaluate_request(registry, stored.decided_on()).to_json() == stored.decision_json
    history = store.history(case.id)
    assert history[0].data["record_sha256"] is None


def test_a_resubmission_keeps_the_newest_record(store: CaseStore, aetna: PolicyRegistry) -> None:
    pended = submit_adapted(store, aetna, adapted(aetna_bundle(answered=False))).case
    assert pended.status.value == "pending_information" and pended.record_json is None
    item = adapted(aetna_bundle(answered=True))
    assert item.request is not None and item.record is not None
    decision = evaluate_request(aetna, item.record)
    answered = store.resubmit(pended.id, item.request, decision, actor=PROVIDER, record=item.record)
    assert answered.status.value == "approved"
    stored = store.get(pended.id)
    assert stored is not None and stored.record_json == record_json(item.record)
    assert evaluate_request(aetna, stored.decided_on()).to_json() == stored.decision_json
    events = store.history(pended.id)
    assert events[-1].event_type == "case.resubmitted"
    assert events[-1].data["record_sha256"] is not None
    assert store.verify_audit().ok, store.verify_audit().problems


def test_a_store_before_records_keeps_its_cases_unchanged(
    database_url: str, registry: PolicyRegistry
) -> None:
    """Migration 0006 on a store that holds a case: it has no record, is read and verified as
    before, and the migration downgrades cleanly."""
    engine = connect(database_url)
    upgrade(engine, "0005")
    body = approved_request("PA-LEGACY")
    decision = evaluate_request(registry, parse_request(body))
    row = {
        "id": "case_legacy",
        "request_id": "PA-LEGACY",
        "status": "in_review",
        "outcome": "not_met",
        "urgency": "standard",
        "request_type": "initiation",
        "pathways": "",
        "received_at": "2026-11-02 14:30:00",
        "due_at": "2026-11-09 14:30:00",
        "updated_at": "2026-11-02 14:30:00",
        "request_sha256": "0" * 64,
        "request_json": json.dumps(body),
        "decision_count": 1,
    }
    with engine.begin() as conn:
        columns = ", ".join(row)
        conn.execute(
            text(f"INSERT INTO cases ({columns}) VALUES ({', '.join(':' + k for k in row)})"), row
        )
        conn.execute(
            text(
                "INSERT INTO decisions (case_id, number, decision_id, outcome, policy_id,"
                " policy_version, policy_content_hash, engine_version, decision_json,"
                " decision_sha256, created_at) VALUES ('case_legacy', 1, 'd', 'approved', 'p',"
                " 'v', 'h', 'e', :json, 'x', :at)"
            ),
            {"json": decision.to_json(), "at": row["received_at"]},
        )
    upgrade(engine)
    assert current_revision(engine) == "0006"
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM cases WHERE id = 'case_legacy'")).mappings().one()
    assert stored["record_json"] is None and stored["record_sha256"] is None
    store = CaseStore(engine)
    try:
        case = store.get("case_legacy")
        assert case is not None and case.record_json is None
        assert isinstance(case.decided_on(), Request)
        assert evaluate_request(registry, case.decided_on()).to_json() == case.decision_json
    finally:
        store.close()
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
    assert "record_json" not in {c["name"] for c in inspect(engine).get_columns("cases")}
    engine.dispose()


def test_a_case_records_the_format_it_was_opened_in(
    store: CaseStore, aetna: PolicyRegistry
) -> None:
    """A record a surface built (PAS and DTR answers) leaves the case a request-format case; only
    the provider's own record makes a record case, whose resubmissions patch that record."""
    item = adapted(aetna_bundle(answered=True))
    assert item.record is not None and item.request is not None
    built = submit_adapted(store, aetna, item).case
    assert store.opened_as(built.id) == "request"
    decision = evaluate_request(aetna, item.record)
    request = Request.model_validate(item.request.model_dump() | {"request_id": "PA-FORMAT-1"})
    sent = store.submit(request, decision, actor=PROVIDER, record=item.record, opened_as="record")
    assert store.opened_as(sent.case.id) == "record"
    [first] = [e for e in store.history(sent.case.id) if e.event_type == "case.submitted"]
    assert first.data["format"] == "record"
    with pytest.raises(ValueError, match="must keep that record"):
        store.submit(request, decision, actor=PROVIDER, opened_as="record")
    assert store.verify_audit().ok
