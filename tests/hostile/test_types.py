"""Strict types: a number is a JSON number (or, for decimals, a decimal string), a boolean is
``true`` or ``false``; nothing is coerced (``interval_days: true`` once read as 1). Every list in
a request has a length limit, refused with one error rather than one per item."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.support import approved_request
from tests.hostile.conftest import Hostile


def _set(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    node = body
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return body


COERCIONS = [
    ("medication.interval_days", True),
    ("medication.interval_days", "21"),
    ("medication.interval_days", 21.0),
    ("medication.line_of_therapy", False),
    ("medication.line_of_therapy", "2"),
    ("medication.dose.value", True),
    ("body_weight.value", False),
    ("brain_metastases.present", 1),
    ("brain_metastases.present", "yes"),
    ("brain_metastases.present", "true"),
    ("compendium.fda_labeled_indication", 0),
    ("compendium.fda_label_requirements_met", "false"),
    ("initiation_criteria_previously_met", 1),
]


@pytest.mark.parametrize(("path", "value"), COERCIONS, ids=[f"{p}={v!r}" for p, v in COERCIONS])
def test_numbers_and_booleans_are_never_coerced(hostile: Hostile, path: str, value: Any) -> None:
    body = _set(approved_request(), path, value)
    if path.startswith("brain_metastases"):
        body["brain_metastases"].setdefault("extent", "limited")
    response = hostile.post("/api/v1/evaluate", hostile.tokens.provider, json=body)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [path]


def test_a_decimal_may_be_a_number_or_a_decimal_string(hostile: Hostile) -> None:
    for value in (3.6, "3.6", 3):
        body = _set(approved_request(), "medication.dose.value", value)
        response = hostile.post("/api/v1/evaluate", hostile.tokens.provider, json=body)
        assert response.status_code == 200, (value, response.text)


LISTS = [
    ("indications", "breast_cancer", 20),
    ("diagnoses", "C50.912", 50),
    ("disease_extent", "metastatic", 20),
    ("medication.concurrent_anticancer_drugs", "pertuzumab", 20),
    ("her2.ihc", {"score": "3+"}, 20),
    ("her2.ish", {"ratio": "2.5"}, 20),
    ("prior_therapies", {"drug": "trastuzumab"}, 50),
    (
        "prior_authorizations",
        {"plan": "other", "approved_on": "2026-01-01", "drug_hcpcs": "J9354"},
        50,
    ),
]


@pytest.mark.parametrize(("path", "item", "limit"), LISTS, ids=[p for p, _, _ in LISTS])
def test_every_list_has_a_length_limit(hostile: Hostile, path: str, item: Any, limit: int) -> None:
    body = _set(approved_request(), path, [item] * (limit + 1))
    response = hostile.post("/api/v1/evaluate", hostile.tokens.provider, json=body)
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["field"] == path and f"at most {limit} items" in error["problem"]
    many = _set(approved_request(), path, [item] * 100_000)
    response = hostile.post("/api/v1/evaluate", hostile.tokens.provider, json=many)
    assert response.status_code in (413, 422) and len(response.content) < 2_000
