"""Tamper evidence: ``medpolicy audit verify`` names an edit to any stored fact a decision or a
right rests on, not only to the audit rows (changing the stored dose of an approved case from 3.6
to 36 mg/kg once passed verification)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select, update

from medpolicy.cli import main
from medpolicy.store import CaseStore, Role, TokenStore, open_store
from medpolicy.store.schema import cases, decisions, tokens
from tests.api.support import approved_request, not_met_request
from tests.hostile.conftest import backend_of, record
from tests.store.helpers import adapted, aetna_bundle, aetna_registry, submit, submit_adapted

Tamper = Callable[[Any], Any]
RECORD_CASE = "PA-FB-2026-1101"  # the Aetna PAS example's Claim identifier


def _case(column: str, value: Any) -> Tamper:
    return lambda conn: conn.execute(
        update(cases).where(cases.c.request_id == "PA-TAMPER-OK").values({column: value})
    )


def _token(column: str, value: Any) -> Tamper:
    return lambda conn: conn.execute(
        update(tokens).where(tokens.c.name == "Tampa").values({column: value})
    )


def _dose_and_digest(conn: Any) -> None:
    """The dose edited, and the row's own request_sha256 recomputed to match it."""
    import hashlib

    row = conn.execute(select(cases).where(cases.c.request_id == "PA-TAMPER-OK")).one()
    edited = row.request_json.replace('"value":"3.6"', '"value":"36"')
    digest = hashlib.sha256(edited.encode()).hexdigest()
    conn.execute(
        update(cases).where(cases.c.id == row.id).values(request_json=edited, request_sha256=digest)
    )


def _record_and_digest(conn: Any) -> None:
    """The DTR answer in the kept record edited, and the row's own record_sha256 recomputed."""
    import hashlib

    row = conn.execute(select(cases).where(cases.c.request_id == RECORD_CASE)).one()
    edited = row.record_json.replace('"result":"positive"', '"result":"negative"')
    assert edited != row.record_json
    digest = hashlib.sha256(edited.encode()).hexdigest()
    conn.execute(
        update(cases).where(cases.c.id == row.id).values(record_json=edited, record_sha256=digest)
    )


def _record_lent(conn: Any) -> None:
    """The record of the DTR-answered case put on a case decided on its request alone."""
    row = conn.execute(select(cases).where(cases.c.request_id == RECORD_CASE)).one()
    conn.execute(
        update(cases)
        .where(cases.c.request_id == "PA-TAMPER-OK")
        .values(record_json=row.record_json, record_sha256=row.record_sha256)
    )


def _forged_case(conn: Any) -> None:
    row = conn.execute(select(cases).where(cases.c.request_id == "PA-TAMPER-OK")).one()
    values = {**row._asdict(), "id": "case_forged", "idempotency_key": None}
    conn.execute(insert(cases).values(values))


def _forged_token(conn: Any) -> None:
    row = conn.execute(select(tokens).where(tokens.c.name == "Tampa")).one()
    values = {**row._asdict(), "id": row.id + 100, "token_sha256": "f" * 64, "role": "admin"}
    conn.execute(insert(tokens).values(values))


TAMPERING: dict[str, tuple[Tamper, str]] = {
    "the stored dose of an approved case": (
        lambda conn: conn.execute(
            update(cases)
            .where(cases.c.request_id == "PA-TAMPER-OK")
            .values(request_json=func.replace(cases.c.request_json, '"3.6"', '"36"'))
        ),
        "request_json does not match its request_sha256",
    ),
    "the dose and the row's own digest": (_dose_and_digest, "request_sha256"),
    "the organization": (_case("organization", "miami-cancer"), "organization 'miami-cancer'"),
    "the urgency": (_case("urgency", "expedited"), "urgency 'expedited'"),
    "the request id": (_case("request_id", "PA-OTHER"), "request_id 'PA-OTHER'"),
    "the due time": (_case("due_at", datetime(2099, 1, 1, tzinfo=UTC)), "due_at '2099-01-01"),
    "the decision count": (_case("decision_count", 7), "decision_count 7"),
    "the status": (_case("status", "denied"), "status 'denied'"),
    "the outcome": (_case("outcome", "not_met"), "outcome 'not_met'"),
    "the pathways": (_case("pathways", "other"), "pathways 'other'"),
    "the closing time": (_case("closed_at", None), "closed_at None"),
    "a decision's outcome column": (
        lambda conn: conn.execute(update(decisions).values(outcome="approved")),
        "outcome is not the one the trail recorded",
    ),
    "a decision's policy version": (
        lambda conn: conn.execute(update(decisions).values(policy_version="0")),
        "policy_version is not the one the trail recorded",
    ),
    "a case added behind the trail": (_forged_case, "cases id case_forged: not in the trail"),
    "the DTR answer in a case's record": (
        lambda conn: conn.execute(
            update(cases)
            .where(cases.c.request_id == RECORD_CASE)
            .values(
                record_json=func.replace(
                    cases.c.record_json, '"result":"positive"', '"result":"negative"'
                )
            )
        ),
        "record_json does not match its record_sha256",
    ),
    "the record and the row's own digest": (
        _record_and_digest,
        "record_sha256 '",
    ),
    "a record removed": (
        lambda conn: conn.execute(
            update(cases)
            .where(cases.c.request_id == RECORD_CASE)
            .values(record_json=None, record_sha256=None)
        ),
        "record_sha256 None is not the record_sha256 the trail recorded",
    ),
    "a record put on a case decided on its request": (
        _record_lent,
        "is not the record_sha256 the trail recorded",
    ),
    "a token's role": (_token("role", "admin"), "role is not the one the trail recorded"),
    "a token's organization": (_token("organization", "miami-cancer"), "organization is not"),
    "a token's hash": (_token("token_sha256", "0" * 64), "token_sha256 is not"),
    "a revoked token revived": (
        lambda conn: conn.execute(
            update(tokens).where(tokens.c.name == "Old").values(revoked=False)
        ),
        "revoked is not",
    ),
    "a token added behind the trail": (_forged_token, "not in the trail (added behind its back)"),
}


@pytest.fixture
def filled(database_url: str, registry: Any) -> Iterator[CaseStore]:
    store = open_store(database_url)
    submit(store, registry, approved_request("PA-TAMPER-OK"))
    submit(store, registry, not_met_request("PA-TAMPER-REVIEW"))
    # A case decided on the clinical record with a DTR answer (the overall HER2 result).
    submit_adapted(store, aetna_registry(), adapted(aetna_bundle(answered=True)))
    token_store = TokenStore(store)
    token_store.create(Role.provider, name="Tampa", organization="tampa-oncology")
    _, old = token_store.create(Role.reviewer, name="Old")
    token_store.revoke(old.id)
    assert store.verify_audit().ok, store.verify_audit().problems
    yield store
    store.close()


_DETECTED: dict[str, list[str]] = {}


@pytest.mark.parametrize("what", list(TAMPERING))
def test_audit_verify_names_an_edit_to_what_a_decision_or_right_rests_on(
    filled: CaseStore, database_url: str, what: str
) -> None:
    tamper, expected = TAMPERING[what]
    with filled.engine.begin() as conn:
        tamper(conn)
    result = filled.verify_audit()
    assert not result.ok and any(expected in p for p in result.problems), result.problems
    run = CliRunner().invoke(main, ["audit", "verify", "--database", database_url])
    assert run.exit_code == 1 and expected in run.output
    backend = backend_of(database_url)
    _DETECTED.setdefault(backend, []).append(what)
    record(
        "tamper",
        {
            b: {"edits": len(TAMPERING), "detected": len(found), "by_audit_verify": sorted(found)}
            for b, found in _DETECTED.items()
        },
    )
