"""A case opened with a clinical record, resubmitted: a merge patch (of the record itself:
``api.resubmission``) must never decide on less than the record said. What the projection cannot
hold and that matters to safety (two different weights, an order for another condition) still
stops an approval after any patch that does not settle it."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from medpolicy.store import CaseStore, Role, TokenStore
from tests.api.conftest import Tokens
from tests.support import REPO

BREAST = REPO / "examples" / "records" / "breast-metastatic-approved.json"


def _record() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BREAST.read_bytes())
    return data


def _headers(app: FastAPI) -> dict[str, str]:
    store: CaseStore = app.state.services.store
    token = TokenStore(store).create(Role.provider, name="EHR", organization="tampa-oncology")
    return {**Tokens.auth(token[0]), "Content-Type": "application/json"}


def _two_weights(r: dict[str, Any]) -> None:
    r["order"]["dose"] = {"value": "430", "unit": "mg"}
    r["observations"] = [
        {"code": "29463-7", "value": "120", "unit": "kg", "date": "2026-10-30"},
        {"code": "29463-7", "value": "60", "unit": "kg", "date": "2026-10-30"},
    ]


def _ordered_for_lung(r: dict[str, Any]) -> None:
    r["order"]["condition"] = "C34.90"


# (the record's change, what the first decision asks for)
UNSAFE = {
    "two weights the same day": (_two_weights, "body_weight.kg"),
    "an order for another condition": (_ordered_for_lung, "indications"),
}
# patches that settle nothing the record left open
PATCHES = [{"urgency": "expedited"}, {"member": {"sex": "female"}}, {}]


@pytest.mark.parametrize("name", UNSAFE)
@pytest.mark.parametrize("patch", PATCHES, ids=json.dumps)
def test_a_record_case_resubmitted_still_asks_what_the_patch_left_unsettled(
    client: TestClient, app: FastAPI, name: str, patch: dict[str, Any]
) -> None:
    change, asked = UNSAFE[name]
    record = copy.deepcopy(_record())
    change(record)
    headers = _headers(app)
    opened = client.post("/api/v1/cases", json=record, headers=headers)
    assert opened.status_code == 201, opened.text
    case = opened.json()
    assert case["decision"]["outcome"] == "missing_information"
    assert asked in {m["fact"] for m in case["decision"]["missing_information"]}
    again = client.post(
        f"/api/v1/cases/{case['id']}/resubmissions",
        content=json.dumps(patch),
        headers={**headers, "Content-Type": "application/merge-patch+json"},
    )
    assert again.status_code == 200, again.text
    decision = again.json()["decision"]
    assert decision["outcome"] == "missing_information"
    assert asked in {m["fact"] for m in decision["missing_information"]}
