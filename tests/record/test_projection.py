"""A clinical record projected onto the earlier request format (``record.projection``): what a
case shows of a request sent as a record. Each fact the earlier format has a field for goes to
it; what it cannot hold is named by its record path, never forced into another field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medpolicy.adapters.native import parse_record, parse_request
from medpolicy.record.legacy import to_record
from medpolicy.record.projection import project
from tests.support import REPO

RECORDS = sorted((REPO / "examples" / "records").glob("*.json"))
REQUESTS = REPO / "examples" / "requests"
BREAST = REPO / "examples" / "records" / "breast-metastatic-approved.json"


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name)
def test_each_example_record_projects_onto_its_earlier_format_request(path: Path) -> None:
    """The published records and requests say the same; the projection says, besides, which
    condition each HER2 result is about (the record puts it under that condition)."""
    projection = project(parse_record(path.read_bytes()))
    assert projection.left_out == ()
    earlier = json.loads((REQUESTS / path.name).read_bytes())
    projected = projection.request.model_dump(mode="json", exclude_none=True)
    for ihc in projected["her2"]["ihc"]:
        assert ihc.pop("condition") in projected["diagnoses"]
    assert projected == parse_request(earlier).model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize("path", sorted(REQUESTS.glob("*.json")), ids=lambda p: p.name)
def test_a_request_read_as_a_record_projects_back_onto_itself(path: Path) -> None:
    """The inverse of ``record.legacy``: every earlier-format example, made a record and
    projected, is the request it was (but for the prescriber, which a record does not hold)."""
    request = parse_request(path.read_bytes())
    projection = project(parse_record(to_record(request).model_dump(mode="json")))
    assert projection.left_out == ()
    assert projection.request == request.model_copy(update={"prescriber": None})


def _breast() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(BREAST.read_bytes())
    return data


def _findings(*findings: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["conditions"][0]["findings"] += copy.deepcopy(list(findings))

    return change


def _observations(*observations: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        data["observations"] += copy.deepcopy(list(observations))

    return change


def _order(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["order"].update(fields)


def _history(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data["medication_history"][0].update(fields)


def _attest(*attestations: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.update(attestations=list(attestations))


def _many_ihc(data: dict[str, Any]) -> None:
    data["conditions"][0]["findings"] = [
        {"code": "85319-2", "result": "3+", "specimen_id": f"S{i}"} for i in range(22)
    ]


LVEF = {"code": "10230-1", "value": "61", "unit": "%", "date": "2026-10-30"}
STATEMENT = "initiation-criteria-previously-met"

# (what the record has, the change to the breast example, the record paths left out)
LEFT_OUT: list[tuple[str, Callable[[dict[str, Any]], None], tuple[str, ...]]] = [
    ("a dose in mg/m2", _order(dose={"value": "3.6", "unit": "mg/m2"}), ("order.dose",)),
    ("the setting and condition", _order(setting="adjuvant", condition="C50.912"), (
        "order.setting", "order.condition")),
    ("an LVEF", _observations(LVEF), ("observations[1]",)),
    ("a weight in grams", _observations({"code": "29463-7", "value": "68500", "unit": "g"}), (
        "observations[1]",)),
    ("two weights", _observations({"code": "body-weight", "value": "70", "unit": "kg"}), (
        "observations[0]", "observations[1]")),
    ("an overall HER2 result", _findings({"code": "48676-1", "result": "positive"}), (
        "conditions[0].findings[1]",)),
    ("an IHC score outside 0-3+", _findings({"code": "85319-2", "result": "4+"}), (
        "conditions[0].findings[1]",)),
    ("a test kind", _findings({"code": "85319-2", "result": "3+", "test": "fda_approved"}), (
        "conditions[0].findings[1].test",)),
    ("two disease statuses", _findings(
        {"code": "97509-4", "result": "stable"}, {"code": "disease-status", "result": "improved"}
    ), ("conditions[0].findings[1]", "conditions[0].findings[2]")),
    ("a ratio finer than the earlier format's", _findings(
        {"code": "49683-6", "value": "2.1234"}), ("conditions[0].findings[1]",)),
    ("more IHC reports than it holds", _many_ihc, (
        "conditions[0].findings[20]", "conditions[0].findings[21]")),
    ("a therapy's setting and response", _history(setting="neoadjuvant", response="none"), (
        "medication_history[0].setting", "medication_history[0].response")),
    ("another payer's plan id", lambda d: d.update(prior_authorizations=[
        {"plan": "aetna", "approved_on": "2026-05-01", "drug_hcpcs": "J9354"}]), (
        "prior_authorizations[0]",)),
    ("a policy's own attestation", _attest({"statement": "aetna.x", "value": True}), (
        "attestations[0]",)),
    ("two attestations that disagree", _attest(
        {"statement": STATEMENT, "value": True}, {"statement": STATEMENT, "value": False}
    ), ("attestations[0]", "attestations[1]")),
    ("a stage and a recurrence", lambda d: d["conditions"][0].update(
        stage="IV", recurrence_date="2026-01-05"), (
        "conditions[0].stage", "conditions[0].recurrence_date")),
]  # fmt: skip


@pytest.mark.parametrize(("what", "change", "left"), LEFT_OUT, ids=[x[0] for x in LEFT_OUT])
def test_what_the_earlier_format_cannot_hold_is_named_and_left_out(
    what: str, change: Callable[[dict[str, Any]], None], left: tuple[str, ...]
) -> None:
    data = _breast()
    change(data)
    projection = project(parse_record(data))
    assert projection.left_out == left, what
    # the rest is carried as it was
    assert (
        projection.request.member
        == parse_request(json.loads((REQUESTS / BREAST.name).read_bytes())).member
    )


def test_a_ratio_and_copy_number_of_one_report_are_one_ish_result() -> None:
    data = _breast()
    day = {"specimen_id": "S26-4471", "date": "2026-09-18"}
    _findings(
        {"code": "49683-6", "value": "2.4", **day},
        {"code": "74860-8", "value": "6.1", "unit": "signals/cell", **day},
        {"code": "her2-ish-ratio", "value": "1.1", "date": "2026-10-01"},
    )(data)
    her2 = project(parse_record(data)).request.her2
    assert her2 is not None
    assert [(str(r.ratio), r.copy_number and str(r.copy_number)) for r in her2.ish] == [
        ("2.4", "6.1"),
        ("1.1", None),
    ]
    assert {r.condition for r in her2.ish} == {"C50.912"}


def test_a_weight_in_pounds_and_the_facts_of_one_finding_each_are_carried() -> None:
    data = _breast()
    data["observations"] = [{"code": "29463-7", "value": "151", "unit": "lb"}]
    _findings(
        {"code": "brain-metastases", "result": "none"},
        {"code": "erbb2-mutation", "result": "negative", "variant": "none found"},
        {"code": "97509-4", "result": "stable"},
    )(data)
    _attest({"statement": STATEMENT, "value": True, "by": "Dr A"})(data)
    projection = project(parse_record(data))
    request = projection.request
    assert request.body_weight is not None and request.body_weight.unit == "lb"
    assert request.brain_metastases is not None and request.brain_metastases.present is False
    assert request.erbb2_mutation is not None and request.erbb2_mutation.condition == "C50.912"
    assert request.disease_status_on_treatment == "stable"
    assert request.initiation_criteria_previously_met is True
    assert projection.left_out == ("attestations[0].by",)
