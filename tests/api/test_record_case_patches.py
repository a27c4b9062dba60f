"""A case opened with a clinical record is resubmitted in that record: the merge patch applies to
the record (objects merge, arrays and values replace, null removes), the patched record is checked
as a submitted record is and decided on as it stands, and the case keeps it. A case opened in the
earlier format is patched in its request, as before. SQLite and PostgreSQL, through the real app.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medpolicy.adapters.native import parse_record
from medpolicy.engine.decide import decide
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.record.projection import project
from medpolicy.store import CaseStore, Role, TokenStore
from tests.api.conftest import Tokens
from tests.api.support import approved_request, missing_information_request
from tests.support import REPO

BREAST = REPO / "examples" / "records" / "breast-metastatic-approved.json"
WEIGHT = "29463-7"
LVEF = {"code": "10230-1", "value": "61", "unit": "%", "date": "2026-10-30"}
IHC_3 = {"code": "85319-2", "result": "3+", "method": "IHC", "date": "2026-09-18"}
# The laboratory's overall HER2 result: a finding the earlier format has no field for.
HER2_STATUS = {"code": "her2-status", "result": "positive", "date": "2026-09-18"}


def _opened_record() -> dict[str, Any]:
    """The breast example with what only a record holds beside it: the first course's setting
    and response, and an LVEF beside the weight."""
    data: dict[str, Any] = json.loads(BREAST.read_bytes())
    data["medication_history"][0].update(setting="metastatic", response="progression")
    data["observations"].append(LVEF)
    return data


def _merged(target: Any, patch: Any) -> Any:
    """RFC 7396, as the test's own oracle: objects merge, anything else replaces, null removes."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merged(merged.get(key), value)
    return merged


def _store(app: FastAPI) -> CaseStore:
    store: CaseStore = app.state.services.store
    return store


def _headers(app: FastAPI, organization: str = "tampa-oncology") -> dict[str, str]:
    token = TokenStore(_store(app)).create(Role.provider, name="EHR", organization=organization)
    return Tokens.auth(token[0])


def _open(client: TestClient, app: FastAPI, record: dict[str, Any]) -> dict[str, Any]:
    opened = client.post("/api/v1/cases", json=record, headers=_headers(app))
    assert opened.status_code == 201, opened.text
    case: dict[str, Any] = opened.json()
    return case


def _resubmit(client: TestClient, app: FastAPI, case_id: str, patch: dict[str, Any]) -> Any:
    headers = {**_headers(app), "Content-Type": "application/merge-patch+json"}
    return client.post(
        f"/api/v1/cases/{case_id}/resubmissions", content=json.dumps(patch), headers=headers
    )


def _condition(*findings: dict[str, Any]) -> dict[str, Any]:
    return {"code": "C50.912", "extent": ["metastatic"], "findings": list(findings)}


def _at_aetna(r: dict[str, Any]) -> None:
    r["member"]["payer"] = "aetna"


def _no_her2(r: dict[str, Any]) -> None:
    r["conditions"] = [_condition()]


def _two_weights(r: dict[str, Any]) -> None:
    r["order"]["dose"] = {"value": "430", "unit": "mg"}
    r["observations"] = [
        {"code": WEIGHT, "value": "120", "unit": "kg", "date": "2026-10-30"},
        {"code": WEIGHT, "value": "60", "unit": "kg", "date": "2026-10-30"},
        LVEF,
    ]


# (the record as opened, the fact it pends on, the patch, the outcome after)
PATCHED: dict[str, tuple[Callable[[dict[str, Any]], None], str, dict[str, Any], str]] = {
    "a peer policy's overall HER2 result, which only the record holds": (
        _at_aetna,
        "her2.status",
        {"conditions": [_condition(IHC_3, HER2_STATUS)]},
        "approved",
    ),
    "the HER2 finding the record left out": (
        _no_her2,
        "her2.ihc_score",
        {"conditions": [_condition(IHC_3)]},
        "approved",
    ),
    "one weight replacing two of the same day": (
        _two_weights,
        "body_weight.kg",
        {"observations": [{"code": WEIGHT, "value": "120", "unit": "kg", "date": "2026-10-30"}]},
        "approved",
    ),
    "an unrelated patch leaves two weights of the same day in conflict": (
        _two_weights,
        "body_weight.kg",
        {"member": {"sex": "female"}, "urgency": "expedited"},
        "missing_information",
    ),
}


@pytest.mark.parametrize("name", PATCHED)
def test_a_record_case_is_patched_in_its_record_and_decided_on_it(
    client: TestClient, app: FastAPI, registry: PolicyRegistry, name: str
) -> None:
    change, pended_on, patch, outcome = PATCHED[name]
    sent = _opened_record()
    change(sent)
    case = _open(client, app, sent)
    assert case["decision"]["outcome"] == "missing_information", name
    assert pended_on in {m["fact"] for m in case["decision"]["missing_information"]}, name

    response = _resubmit(client, app, case["id"], patch)
    assert response.status_code == 200, response.text
    patched = parse_record(_merged(sent, patch))
    policy = registry.get(case["decision"]["policy"]["id"])
    assert policy is not None
    expected = decide(policy, patched).to_json()
    after = response.json()
    assert after["decision"]["outcome"] == outcome, name
    assert after["decision"] == json.loads(expected)
    stored = _store(app).get(case["id"])
    assert stored is not None
    assert stored.decision_json == expected, "byte for byte the engine's on the patched record"
    assert stored.decided_on() == patched
    assert after["record"] == patched.model_dump(mode="json", exclude_none=True)
    assert after["request"] == project(patched).request.model_dump(mode="json", exclude_none=True)
    # what the patch did not touch is as the record said it
    for key in set(case["record"]) - set(patch):
        assert after["record"][key] == case["record"][key], key
    assert after["decision_count"] == 2
    assert [e["type"] for e in after["history"]] == ["case.submitted", "case.resubmitted"]
    assert _store(app).verify_audit().ok, _store(app).verify_audit().problems


def test_a_patch_of_other_parts_keeps_what_only_the_record_held(
    client: TestClient, app: FastAPI
) -> None:
    sent = _opened_record()
    _no_her2(sent)
    case = _open(client, app, sent)
    response = _resubmit(client, app, case["id"], {"conditions": [_condition(IHC_3)]})
    assert response.status_code == 200, response.text
    record = response.json()["record"]
    assert record["medication_history"][0]["setting"] == "metastatic"
    assert record["medication_history"][0]["response"] == "progression"
    assert [o["code"] for o in record["observations"]] == [WEIGHT, LVEF["code"]]


def _ahead() -> dict[str, Any]:
    return {"submitted_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}


def _lvef_without_unit() -> dict[str, Any]:
    weight = {"code": WEIGHT, "value": "68.5", "unit": "kg", "date": "2026-10-30"}
    return {"observations": [weight, {k: v for k, v in LVEF.items() if k != "unit"}]}


# (what is wrong, the patch, the status, the fields named)
REFUSED: list[tuple[str, dict[str, Any], int, set[str]]] = [
    ("a record field left out", _lvef_without_unit(), 422, {"observations[1].unit"}),
    ("a misspelt record field", {"observation": []}, 422, {"observation"}),
    (
        "a dose in a unit no record has",
        {"order": {"dose": {"unit": "g"}}},
        422,
        {"order.dose.unit"},
    ),
    ("a drug no policy covers", {"order": {"drug": {"hcpcs": "J9355"}}}, 422, {"order.drug.hcpcs"}),
    ("dated ahead of the service's clock", _ahead(), 422, {"submitted_at"}),
    ("another request id", {"request_id": "PA-OTHER"}, 422, {"request_id"}),
    ("another member", {"member": {"id": "M999"}}, 422, {"member.id"}),
    ("another birth date", {"member": {"birth_date": "1970-01-01"}}, 422, {"member.birth_date"}),
    (
        "another organization than the provider token's",
        {"member": {"organization": "miami-cancer"}},
        403,
        {"member.organization"},
    ),
    (
        "the earlier format's medication",
        {"medication": approved_request()["medication"]},
        422,
        {"medication"},
    ),
    (
        "the earlier format's HER2 results beside a record field",
        {"her2": approved_request()["her2"], "urgency": "expedited"},
        422,
        {"her2"},
    ),
]


@pytest.mark.parametrize(("why", "patch", "status", "named"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_bad_record_patch_is_refused_naming_the_record_path(
    client: TestClient,
    app: FastAPI,
    why: str,
    patch: dict[str, Any],
    status: int,
    named: set[str],
) -> None:
    sent = _opened_record()
    _no_her2(sent)
    case = _open(client, app, sent)
    response = _resubmit(client, app, case["id"], copy.deepcopy(patch))
    assert response.status_code == status, (why, response.text)
    assert {e["field"] for e in response.json()["errors"]} == named, why
    assert all(e["problem"] for e in response.json()["errors"])
    stored = _store(app).get(case["id"])
    assert stored is not None and stored.decision_count == 1, "nothing stored"
    assert stored.record() == parse_record(sent)


def test_the_format_a_case_was_opened_in_is_in_its_first_audit_event(
    client: TestClient, app: FastAPI
) -> None:
    record_case = _open(client, app, _opened_record())
    request_case = _open(client, app, missing_information_request())
    store = _store(app)
    for case, opened_as in ((record_case, "record"), (request_case, "request")):
        [first] = [e for e in store.history(case["id"]) if e.event_type == "case.submitted"]
        assert first.data["format"] == opened_as
        assert store.opened_as(case["id"]) == opened_as
    assert store.verify_audit().ok


def test_a_request_case_is_still_patched_in_its_request(client: TestClient, app: FastAPI) -> None:
    case = _open(client, app, missing_information_request())
    assert case["record"] is None
    # a record's shape is not the request's: named, never ignored
    refused = _resubmit(client, app, case["id"], {"order": {"line_of_therapy": 2}})
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["order"]
    response = _resubmit(client, app, case["id"], {"her2": approved_request()["her2"]})
    assert response.status_code == 200, response.text
    assert response.json()["decision"]["outcome"] == "approved"
    assert response.json()["record"] is None
