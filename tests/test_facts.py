"""``extract_facts`` against a plain reference: the same facts, in the same order, every time.

``extract_facts`` runs on every decision and is written for speed (a fast path for the usual HER2
reports, shallow copies of flat records). The reference below is the straightforward reading of
the fact catalogue, kept as the specification: every fact built, then the absent ones dropped;
records dumped through pydantic; the weight converted by ``weight_in_kg``; HER2 reports compared
in general. The two must agree on values, their types and key order, and on conflicts.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medpolicy.adapters.native import parse_request
from medpolicy.definitions.units import weight_in_kg
from medpolicy.errors import RequestError
from medpolicy.facts import FACTS, Facts, extract_facts
from medpolicy.policy.cases import build_request, load_cases
from medpolicy.request import (
    DrugRef,
    Her2Ihc,
    Her2Ish,
    Her2Results,
    PriorAuthorization,
    PriorTherapy,
    Request,
)
from tests.engine.test_properties import DATES, SPECIMENS, requests
from tests.support import EXAMPLES, KADCYLA


def reference_facts(request: Request) -> Facts:
    r, m = request, request.medication
    lob, compendium, erbb2 = r.member.line_of_business, r.compendium, r.erbb2_mutation
    reported: dict[str, Any] = {
        "request.date": r.submitted_at.date(),
        "request.type": r.request_type,
        "member.line_of_business": lob and lob.value,
        "member.age": _age(r),
        "medication.hcpcs": m.hcpcs,
        "medication.drug": m.drug,
        "medication.dose": m.dose and {"value": m.dose.value, "unit": m.dose.unit},
        "medication.interval_days": m.interval_days,
        "medication.start_date": m.start_date,
        "medication.line_of_therapy": m.line_of_therapy,
        "medication.concurrent_anticancer_drugs": _drugs(m.concurrent_anticancer_drugs),
        "body_weight.kg": r.body_weight and weight_in_kg(r.body_weight.value, r.body_weight.unit),
        "body_weight.date": r.body_weight and r.body_weight.date,
        "indications": r.indications,
        "diagnoses": _diagnoses(r),
        "disease_extent": r.disease_extent,
        "brain_metastases.extent": _brain(r),
        "erbb2_mutation.status": erbb2 and erbb2.status,
        "prior_therapies": _records(r.prior_therapies),
        "compendium.fda_labeled_indication": compendium and compendium.fda_labeled_indication,
        "compendium.fda_label_requirements_met": (
            compendium and compendium.fda_label_requirements_met
        ),
        "compendium.nccn_category": compendium and compendium.nccn_category,
        "prior_authorizations": _records(r.prior_authorizations),
        "initiation_criteria_previously_met": r.initiation_criteria_previously_met,
        "disease_status_on_treatment": r.disease_status_on_treatment,
    }
    values = {path: value for path, value in reported.items() if value is not None}
    conflicts: dict[str, str] = {}
    if r.her2 is not None:
        _her2_facts(r.her2.ihc, r.her2.ish, values, conflicts)
    return Facts(values, conflicts, {})


def _drugs(drugs: list[str | DrugRef] | None) -> list[dict[str, Any]] | None:
    if drugs is None:
        return None
    return [
        {"drug": d} if isinstance(d, str) else d.model_dump(mode="python", exclude_none=True)
        for d in drugs
    ]


def _age(r: Request) -> int | None:
    born, today = r.member.birth_date, r.submitted_at.date()
    if born is None:
        return None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _diagnoses(r: Request) -> list[str] | None:
    """The reported codes, then those a HER2 or ERBB2 finding says it is about (a finding about a
    condition is a diagnosis of it); none at all is "not reported"."""
    codes = list(r.diagnoses or [])
    about = [t.condition for t in (r.her2.ihc if r.her2 else [])]
    about += [t.condition for t in (r.her2.ish if r.her2 else [])]
    about.append(r.erbb2_mutation and r.erbb2_mutation.condition)
    codes += [c for c in dict.fromkeys(about) if c is not None and c not in codes]
    return codes or None


def _brain(r: Request) -> str | None:
    b = r.brain_metastases
    if b is None:
        return None
    if not b.present:
        return "none"
    return b.extent or "unspecified"


def _records(items: list[PriorTherapy] | list[PriorAuthorization] | None) -> Any:
    return None if items is None else [i.model_dump(mode="python") for i in items]


@dataclass(frozen=True)
class _Conflict:
    description: str


def _agreeing(reported: list[tuple[Any, date | None]], label: str) -> Any:
    if len(reported) <= 1:
        return reported[0][0] if reported else None
    if len({str(v) for v, _ in reported}) == 1:
        return reported[0][0]
    listed = "; ".join(f"{v} ({d.isoformat() if d else 'undated'})" for v, d in reported)
    return _Conflict(f"conflicting {label} reported: {listed}")


def _her2_facts(
    ihc: list[Her2Ihc], ish: list[Her2Ish], values: dict[str, Any], conflicts: dict[str, str]
) -> None:
    found = {
        "her2.ihc_score": _agreeing([(t.score, t.date) for t in ihc], "HER2 IHC scores"),
        "her2.ish_ratio": _agreeing(
            [(t.ratio, t.date) for t in ish if t.ratio is not None], "HER2/CEP17 ratios"
        ),
        "her2.ish_copy_number": _agreeing(
            [(t.copy_number, t.date) for t in ish if t.copy_number is not None],
            "average HER2 copy numbers",
        ),
        "her2.concurrent": _concurrent(ihc, ish),
    }
    for path, value in found.items():
        if isinstance(value, _Conflict):
            conflicts[path] = value.description
        elif value is not None:
            values[path] = value


def _concurrent(ihc: list[Her2Ihc], ish: list[Her2Ish]) -> bool | None:
    if not ihc or not ish:
        return None
    pairs = [(a, b) for a in ihc for b in ish]
    if any(a.specimen_id and a.specimen_id == b.specimen_id for a, b in pairs):
        return True
    if any(a.date and a.date == b.date and not (a.specimen_id and b.specimen_id) for a, b in pairs):
        return True
    if all((a.specimen_id and b.specimen_id) or (a.date and b.date) for a, b in pairs):
        return False
    return None


def _typed(value: Any) -> Any:
    """A value with the type of every part spelled out, so equal-but-differently-typed values
    (``1 == True``, ``Decimal("2") == 2``, a str enum member and its value) compare unequal."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value), value)


def assert_same_facts(request: Request) -> None:
    got, want = extract_facts(request), reference_facts(request)
    assert type(got.values) is type(want.values)
    # in the catalogue's order (which may differ from the reference's), every value its type
    assert _typed(dict(sorted(got.values.items()))) == _typed(dict(sorted(want.values.items())))
    assert type(got.conflicts) is type(want.conflicts)
    assert _typed(got.conflicts) == _typed(want.conflicts)
    assert dict(got.notes) == want.notes == {}
    assert set(got.values) <= set(FACTS) and set(got.conflicts) <= set(FACTS)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_example_requests(path: Any) -> None:
    assert_same_facts(parse_request(path.read_bytes()))


BASES, CASES = load_cases(KADCYLA)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_policy_cases(case: dict[str, Any]) -> None:
    try:
        request = parse_request(build_request(BASES, case))
    except RequestError:
        return  # a case whose request is rejected has no facts
    assert_same_facts(request)


SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(requests())
def test_generated_requests(request: dict[str, Any]) -> None:
    assert_same_facts(parse_request(request))


# Several HER2 reports (agreeing, conflicting, on shared or separate specimens and dates), and the
# records and weights beside them: the general paths the requests above reach less often.
VALUE = st.sampled_from(["2.0", "2.00", "1.99", "6.0", "0", "100"])
IHC = st.fixed_dictionaries(
    {"score": st.sampled_from(["0", "1+", "2+", "3+"])},
    optional={"date": DATES, "specimen_id": SPECIMENS},
)
ISH = st.fixed_dictionaries(
    {}, optional={"ratio": VALUE, "copy_number": VALUE, "date": DATES, "specimen_id": SPECIMENS}
).filter(lambda d: "ratio" in d or "copy_number" in d)
HER2 = st.fixed_dictionaries(
    {}, optional={"ihc": st.lists(IHC, max_size=3), "ish": st.lists(ISH, max_size=3)}
)
WEIGHT = st.fixed_dictionaries(
    {"value": st.sampled_from(["0.0001", "68.5", "151", "879.9999"]), "unit": st.just("lb")},
    optional={"date": DATES},
)
THERAPY = st.fixed_dictionaries(
    {"drug": st.sampled_from(["Kadcyla", " trastuzumab "])},
    optional={
        "start_date": st.sampled_from([None, "2025-01-10"]),
        "end_date": st.sampled_from([None, "2026-08-01"]),
        "line": st.sampled_from([1, 20]),
        "reason_stopped": st.sampled_from(["progression", "ongoing", None]),
    },
)


@SETTINGS
@given(
    base=st.sampled_from(sorted(BASES)),
    her2=st.one_of(st.none(), HER2),
    weight=st.one_of(st.none(), WEIGHT),
    therapies=st.one_of(st.none(), st.lists(THERAPY, max_size=3)),
)
def test_her2_reports_records_and_pounds(base: str, her2: Any, weight: Any, therapies: Any) -> None:
    data = copy.deepcopy(BASES[base])
    data.update(her2=her2, body_weight=weight, prior_therapies=therapies)
    assert_same_facts(parse_request(data))


def test_conflicting_reports_stay_conflicts() -> None:
    data = copy.deepcopy(BASES[sorted(BASES)[0]])
    data["her2"] = {
        "ihc": [{"score": "2+", "date": "2026-09-18"}, {"score": "3+"}],
        "ish": [{"ratio": "2.0"}, {"ratio": "2.00", "copy_number": "6"}],
    }
    facts = extract_facts(parse_request(data))
    assert "her2.ihc_score" not in facts.values and "her2.ish_ratio" not in facts.values
    assert facts.conflicts == {
        "her2.ihc_score": "conflicting HER2 IHC scores reported: 2+ (2026-09-18); 3+ (undated)",
        "her2.ish_ratio": "conflicting HER2/CEP17 ratios reported: 2.0 (undated); 2.00 (undated)",
    }
    assert facts.values["her2.ish_copy_number"] == 6


def test_concurrency_on_every_combination_of_specimens_and_dates() -> None:
    """Up to two IHC and two ISH reports, each with or without one of two specimens and dates."""
    request = parse_request(BASES[sorted(BASES)[0]])
    labels = [
        {"specimen_id": s, "date": d}
        for s in (None, "S1", "S2")
        for d in (None, date(2026, 3, 2), date(2026, 9, 18))
    ]
    lists = [[], *([a] for a in labels), *([a, b] for a in labels for b in labels)]
    ihcs = [[Her2Ihc(score="2+", **label) for label in reports] for reports in lists]
    ishes = [[Her2Ish(ratio=Decimal("2.0"), **label) for label in reports] for reports in lists]
    for ihc, ish in itertools.product(ihcs, ishes):
        assert_same_facts(request.model_copy(update={"her2": Her2Results(ihc=ihc, ish=ish)}))
