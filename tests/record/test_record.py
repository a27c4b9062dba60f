"""The clinical record: the earlier format read into it without loss, decided alike, and checked
like a request when sent as it is."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from medpolicy.adapters.native import parse_any, parse_record, parse_request, record_schema
from medpolicy.catalogue import build_catalogue, shared_catalogue
from medpolicy.catalogue.derive import Conflict, Reading
from medpolicy.engine.decide import decide, facts_used
from medpolicy.engine.screen import read_and_screen, screen
from medpolicy.errors import RequestError
from medpolicy.facts import extract_facts
from medpolicy.policy.cases import build_request, load_cases
from medpolicy.policy.tree import Policy
from medpolicy.record.legacy import RecordView, to_record
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request
from tests.engine.test_properties import SETTINGS, requests
from tests.support import EXAMPLES, KADCYLA, REPO

RECORDS = REPO / "examples" / "records"
BASES, ALL_CASES = load_cases(KADCYLA)
CASES = [c for c in ALL_CASES if "error" not in c["expect"]]


def _decided_alike(policy: Policy, request: Request) -> None:
    record = to_record(request)
    # what the adapter builds without validating is what validation builds
    assert ClinicalRecord.model_validate(record.model_dump()) == record
    from_request, from_record = decide(policy, request), decide(policy, record)
    a, b = from_request.record().model_dump(), from_record.record().model_dump()
    a.pop("decision_id"), b.pop("decision_id")  # a digest of what was sent, in its own format
    assert a == b


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_every_case_is_decided_alike_from_its_record(kadcyla: Policy, case: dict[str, Any]) -> None:
    _decided_alike(kadcyla, parse_request(build_request(BASES, case)))


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_example_is_decided_alike_from_its_record(kadcyla: Policy, path: Path) -> None:
    _decided_alike(kadcyla, parse_request(path.read_bytes()))


@SETTINGS
@given(requests())
def test_generated_requests_are_decided_alike_from_their_records(
    kadcyla: Policy, data: dict[str, Any]
) -> None:
    _decided_alike(kadcyla, parse_request(data))


@pytest.mark.parametrize("path", sorted(RECORDS.glob("*.json")), ids=lambda p: p.name)
def test_each_example_record_is_decided_as_the_same_request_in_the_earlier_format(
    kadcyla: Policy, path: Path
) -> None:
    """The published records put each finding under the condition it is about, with LOINC codes:
    the same decision as the earlier format's request."""
    record = parse_any(path.read_bytes())
    assert isinstance(record, ClinicalRecord)
    earlier = parse_request((EXAMPLES / path.name).read_bytes())
    assert decide(kadcyla, record).outcome is decide(kadcyla, earlier).outcome
    assert decide(kadcyla, record).results == decide(kadcyla, earlier).results


def test_a_record_is_checked_like_a_request() -> None:
    data = json.loads((RECORDS / "breast-metastatic-approved.json").read_bytes())
    data["conditions"][0]["code"] = "C99.99"
    data["observations"][0]["date"] = "2027-01-01"
    data["attestations"] = [{"statement": "lvef-reassessed-regularly", "value": True}]
    data["attestations"].append({**data["attestations"][0], "date": "2027-01-01"})
    data["order"]["dose"]["unit"] = "mg/dL"
    data["order"]["drug"]["hcpcs"] = "J9354"
    with pytest.raises(RequestError) as refused:
        parse_record(data)
    fields = {e.field for e in refused.value.errors}
    assert "order.dose.unit" in fields
    del data["order"]["dose"]
    with pytest.raises(RequestError) as refused:
        parse_record(data)
    fields = {e.field for e in refused.value.errors}
    # a statement dated after the request is as impossible as a measurement so dated
    assert fields == {"conditions[0].code", "observations[0].date", "attestations[1].date"}


@pytest.mark.parametrize(
    ("value", "unit", "refused"),
    [("4000", "kg", True), ("900", "lb", True), ("400", "kg", False), ("880", "lb", False)],
)
def test_an_implausible_body_weight_in_a_record_is_refused(
    kadcyla: Policy, value: str, unit: str, refused: bool
) -> None:
    """Grams sent as kilograms would size a dose of 14,400 mg: the record is refused, naming the
    observation, as the earlier format refuses such a weight (the catalogue's plausible_max)."""
    data = json.loads((RECORDS / "breast-metastatic-approved.json").read_bytes())
    [weight] = [o for o in data["observations"] if o["code"] == "29463-7"]
    weight.update(value=value, unit=unit)
    if not refused:
        assert decide(kadcyla, parse_record(data)).outcome.value == "approved"
        return
    with pytest.raises(RequestError) as refusal:
        parse_record(data)
    [error] = refusal.value.errors
    assert error.field == f"observations[{data['observations'].index(weight)}].value"
    assert "not a plausible body weight" in error.problem


def _weights(*observations: tuple[str, str, str | None]) -> list[dict[str, str]]:
    return [
        {"code": "29463-7", "value": v, "unit": u, **({"date": d} if d else {})}
        for v, u, d in observations
    ]


# A flat dose of 430 mg is within 3.6 mg/kg of 120 kg, not of 60 kg: whichever weight were read
# would decide the request, so reports that may be as recent and disagree decide nothing.
@pytest.mark.parametrize(
    ("observations", "outcome", "note"),
    [
        # the same day, in either order: a conflict, named with each report
        (
            _weights(("120", "kg", "2026-10-30"), ("60", "kg", "2026-10-30")),
            "missing_information",
            "conflicting body weights reported: 120 kg (2026-10-30); 60 kg (2026-10-30)",
        ),
        (
            _weights(("60", "kg", "2026-10-30"), ("120", "kg", "2026-10-30")),
            "missing_information",
            "conflicting body weights reported: 60 kg (2026-10-30); 120 kg (2026-10-30)",
        ),
        # an undated report may be the current one
        (
            _weights(("120", "kg", "2026-10-30"), ("60", "kg", None)),
            "missing_information",
            "conflicting body weights reported: 120 kg (2026-10-30); 60 kg (undated)",
        ),
        # the same weight in another unit is still another report: not read as agreeing
        (
            _weights(("120", "kg", "2026-10-30"), ("264.6", "lb", "2026-10-30")),
            "missing_information",
            "conflicting body weights reported: 120 kg (2026-10-30); 264.6 lb (2026-10-30)",
        ),
        # a unit a weight is not read in is named, not read as kilograms
        (
            _weights(("120000", "g", "2026-10-30")),
            "missing_information",
            "120000 g is not in kg (nor in a unit converted to kg)",
        ),
        # an earlier, different weight is history: the latest is read
        (_weights(("60", "kg", "2026-08-30"), ("120", "kg", "2026-10-30")), "approved", None),
        # the same report twice agrees with itself
        (_weights(("120", "kg", "2026-10-30"), ("120.0", "kg", "2026-10-30")), "approved", None),
    ],
)
def test_body_weights_that_may_be_as_recent_must_agree(
    kadcyla: Policy, observations: list[dict[str, str]], outcome: str, note: str | None
) -> None:
    data = json.loads((RECORDS / "breast-metastatic-approved.json").read_bytes())
    data["order"]["dose"] = {"value": "430", "unit": "mg"}
    data["observations"] = observations
    decision = decide(kadcyla, parse_record(data))
    assert decision.outcome.value == outcome
    if note is not None:
        [missing] = decision.missing_information
        assert (missing.fact, missing.note) == ("body_weight.kg", note)


def test_a_body_surface_area_is_read_only_in_square_metres(kadcyla: Policy) -> None:
    """17,000 cm² read as m² would size a dose in grams: it is named, and the area asked for."""
    data = json.loads((RECORDS / "breast-metastatic-approved.json").read_bytes())
    data["order"]["dose"] = {"value": "100", "unit": "mg/m2"}
    data["observations"].append(
        {"code": "8277-6", "value": "17000", "unit": "cm2", "date": "2026-10-30"}
    )
    decision = decide(kadcyla, parse_record(data))
    assert decision.outcome.value == "missing_information"
    [missing] = decision.missing_information
    assert missing.fact == "body_surface_area.m2"
    assert missing.note == "17000 cm2 is not in m2 (nor in a unit converted to m2)"
    data["observations"][-1].update(value="1.8", unit="m2")
    approved = decide(kadcyla, parse_record(data))
    assert approved.outcome.value == "approved"
    assert approved.authorization is not None and approved.authorization.dose_mg == "180"


@pytest.mark.parametrize(
    ("source", "refused"),
    [
        ({"observation": ["lvef"]}, True),  # read in whatever unit it came in
        ({"observation": ["lvef"], "unit": "mL"}, True),
        ({"observation": ["lvef"], "unit": "%"}, False),
        ({"observation": ["lvef"], "take": "date"}, False),  # a date has no unit
    ],
)
def test_a_catalogue_fact_read_from_observations_names_the_unit_it_is_read_in(
    source: dict[str, Any], refused: bool
) -> None:
    entry = {"label": "an LVEF", "kind": "decimal", "unit": "%", "from": source}
    if source.get("take") == "date":
        entry = {**entry, "kind": "date", "unit": None}
    if not refused:
        assert "x.lvef" in build_catalogue({"x.lvef": entry})
        return
    with pytest.raises(ValueError, match=r"facts\.x\.lvef: an observation's value is read in"):
        build_catalogue({"x.lvef": entry})


# The order's condition (order.condition) is what the drug is ordered for: it must agree with the
# indications stated and be one of the member's conditions, or the provider is asked which.
@pytest.mark.parametrize(
    ("ordered_for", "indications", "more_codes", "outcome", "note"),
    [
        # lung cancer ordered for, breast cancer stated: not approved under breast criteria
        ("C34.90", ["breast_cancer"], [], "missing_information", "the order is for C34.90"),
        # lung cancer ordered for, and the member has no lung cancer code
        ("C34.90", None, [], "missing_information", "none of the member's condition codes"),
        # gastric ordered for, breast and gastric coded: the order says which, and no pathway
        # is for it without its indication stated (as a request coding gastric cancer alone)
        ("C16.9", None, ["C16.9"], "not_met", None),
        # breast ordered for, breast and lung coded: the order says which one
        ("C50.912", None, ["C34.90"], "approved", None),
        ("C50.912", ["breast_cancer"], [], "approved", None),
        # a site of spread names no condition: the stated one stands
        ("C79.31", ["breast_cancer"], [], "approved", None),
    ],
)
def test_the_condition_an_order_names_must_be_the_one_requested(
    kadcyla: Policy,
    ordered_for: str,
    indications: list[str] | None,
    more_codes: list[str],
    outcome: str,
    note: str | None,
) -> None:
    data = json.loads((RECORDS / "breast-metastatic-approved.json").read_bytes())
    data["order"]["condition"] = ordered_for
    if indications is None:
        del data["order"]["indications"]
    else:
        data["order"]["indications"] = indications
    data["conditions"] += [{"code": code} for code in more_codes]
    decision = decide(kadcyla, parse_record(data))
    assert decision.outcome.value == outcome
    if note is not None:
        [asked] = decision.missing_information
        assert asked.fact == "indications"
        assert asked.note is not None and note in asked.note


def test_a_misspelt_record_field_is_not_dropped() -> None:
    data = json.loads((RECORDS / "breast-metastatic-approved.json").read_bytes())
    data["conditions"][0]["findngs"] = []
    with pytest.raises(RequestError) as refused:
        parse_record(data)
    assert [e.field for e in refused.value.errors] == ["conditions[0].findngs"]


def test_the_record_schema_is_published() -> None:
    schema = record_schema()
    assert schema["$id"].endswith("/record.json")
    assert {"member", "order", "conditions", "observations", "medication_history"} <= set(
        schema["properties"]
    )


def _by_derivations(record: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The catalogue read fact by fact, each by its own derivation: the generated reader's
    reference."""
    values: dict[str, Any] = {}
    conflicts: dict[str, str] = {}
    reading = Reading(record)
    for path, derive in shared_catalogue().derivations:
        value = derive(reading)
        if isinstance(value, Conflict):
            conflicts[path] = value.description
        elif value is not None:
            values[path] = value
    return values, conflicts


def _read_alike(request: Request) -> None:
    for record in (RecordView(request), to_record(request)):
        got = shared_catalogue().reader(Reading(record))
        assert got == _by_derivations(record)
        assert list(got[0]) == list(_by_derivations(record)[0])  # in the catalogue's order


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_the_generated_reader_reads_every_case_as_the_derivations_do(case: dict[str, Any]) -> None:
    _read_alike(parse_request(build_request(BASES, case)))


@SETTINGS
@given(requests())
def test_the_generated_reader_reads_generated_requests_as_the_derivations_do(
    data: dict[str, Any],
) -> None:
    _read_alike(parse_request(data))


def _screened_alike(policy: Policy, request: Request) -> None:
    """The engine's read-and-screen (the reader's dicts screened in place) is ``screen`` of the
    facts ``extract_facts`` reads, for either format of the request."""
    reads = policy.catalogue.only(facts_used(policy))
    for record in (RecordView(request), to_record(request)):
        got = read_and_screen(policy, record, reads)
        want = screen(policy, record, extract_facts(record, catalogue=reads))
        assert got.facts == want.facts
        assert (got.indications, got.gates) == (want.indications, want.gates)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_read_and_screen_is_screen_of_the_extracted_facts(
    kadcyla: Policy, case: dict[str, Any]
) -> None:
    _screened_alike(kadcyla, parse_request(build_request(BASES, case)))
