"""Properties over generated requests: absence never helps, and evaluation is deterministic."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medpolicy.adapters.native import parse_request
from medpolicy.engine.decide import decide
from medpolicy.engine.decision import Outcome
from medpolicy.policy.cases import load_cases
from medpolicy.policy.tree import Policy
from tests.support import KADCYLA

DATES = st.sampled_from([None, "2026-09-18", "2026-03-02"])
SPECIMENS = st.sampled_from([None, "S1", "S2"])


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


ihc = st.fixed_dictionaries(
    {"score": st.sampled_from(["0", "1+", "2+", "3+"])},
    optional={"date": DATES, "specimen_id": SPECIMENS},
)
ish = st.fixed_dictionaries(
    {},
    optional={
        "ratio": st.sampled_from(["1.5", "1.99", "2.0", "2.4"]),
        "copy_number": st.sampled_from(["3.9", "4.0", "5.99", "6.0", "8.1"]),
        "date": DATES,
        "specimen_id": SPECIMENS,
    },
).filter(lambda d: "ratio" in d or "copy_number" in d)

FIELDS: dict[tuple[str, ...], st.SearchStrategy[Any]] = {
    ("request_type",): st.sampled_from(["initiation", "continuation"]),
    ("member", "line_of_business"): st.sampled_from(
        ["commercial", "medicare_advantage", "fep", "medicare_part_d", "medicaid"]
    ),
    ("medication", "dose"): st.one_of(
        st.fixed_dictionaries(
            {"value": st.sampled_from(["3.6", "3.0", "3.61"]), "unit": st.just("mg/kg")}
        ),
        st.fixed_dictionaries(
            {"value": st.sampled_from(["246.6", "246.61", "400"]), "unit": st.just("mg")}
        ),
    ),
    ("medication", "interval_days"): st.sampled_from([14, 21, 28]),
    ("medication", "line_of_therapy"): st.sampled_from([1, 2, 3]),
    ("medication", "concurrent_anticancer_drugs"): st.sampled_from([[], ["pertuzumab"]]),
    ("indications",): st.lists(
        st.sampled_from(
            [
                "breast_cancer",
                "cns_brain_metastases",
                "nsclc",
                "salivary_gland_tumor",
                "other_fda_or_nccn",
            ]
        ),
        max_size=2,
        unique=True,
    ),
    ("diagnoses",): st.lists(
        st.sampled_from(
            ["C50.912", "C79.31", "C34.12", "C08.0", "C50.A1", "Z85.3", "C50.9", "D05.10"]
        ),
        min_size=1,
        max_size=3,
        unique=True,
    ),
    ("disease_extent",): st.lists(
        st.sampled_from(
            [
                "locally_advanced",
                "inflammatory",
                "early_stage",
                "advanced",
                "metastatic",
                "recurrent",
            ]
        ),
        max_size=2,
        unique=True,
    ),
    ("body_weight",): st.fixed_dictionaries(
        {"value": st.sampled_from(["68.5", "151", "100"]), "unit": st.sampled_from(["kg", "lb"])}
    ),
    ("brain_metastases",): st.fixed_dictionaries(
        {"present": st.booleans()}, optional={"extent": st.sampled_from(["limited", "extensive"])}
    ),
    ("her2",): st.fixed_dictionaries(
        {}, optional={"ihc": st.lists(ihc, max_size=2), "ish": st.lists(ish, max_size=2)}
    ),
    ("erbb2_mutation",): st.fixed_dictionaries(
        {"status": st.sampled_from(["positive", "negative"])}
    ),
    ("prior_therapies",): st.lists(
        st.fixed_dictionaries(
            {"drug": st.sampled_from(["Kadcyla", "trastuzumab"])},
            optional={"reason_stopped": st.sampled_from(["progression", "toxicity", "completion"])},
        ),
        max_size=2,
    ),
    ("compendium",): st.fixed_dictionaries(
        {},
        optional={
            "fda_labeled_indication": st.booleans(),
            "fda_label_requirements_met": st.booleans(),
            "nccn_category": st.sampled_from(["1", "2A", "2B"]),
        },
    ),
    ("prior_authorizations",): st.lists(
        st.fixed_dictionaries(
            {
                "plan": st.sampled_from(["florida_blue", "other"]),
                "approved_on": st.sampled_from(["2026-05-01", "2023-01-01"]),
                "drug_hcpcs": st.sampled_from(["J9354", "J9355"]),
            },
            optional={"indication": st.sampled_from(["breast_cancer", "nsclc"])},
        ),
        max_size=2,
    ),
    ("initiation_criteria_previously_met",): st.booleans(),
    ("disease_status_on_treatment",): st.sampled_from(
        ["progressed", "stable", "improved", "undetermined"]
    ),
}
BASES, _ = load_cases(KADCYLA)


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    """A complete base request from the case file with a few facts changed: near the boundaries,
    where approvals and non-approvals sit side by side."""
    request = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    request = {k: v for k, v in request.items() if v is not None}
    for path in draw(st.lists(st.sampled_from(list(FIELDS)), max_size=4, unique=True)):
        target = request
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = draw(FIELDS[path])
    return request


# Fields a provider may leave out; removing one is "removing a fact". The stated indications are
# not among them: they choose the condition a request is for (one request, one condition), so a
# request without them is another request, decided on the condition its codes name.
REMOVABLE = [
    ("member", "line_of_business"),
    ("medication", "dose"),
    ("medication", "interval_days"),
    ("medication", "line_of_therapy"),
    ("medication", "concurrent_anticancer_drugs"),
    ("diagnoses",),
    ("disease_extent",),
    ("body_weight",),
    ("brain_metastases",),
    ("brain_metastases", "extent"),
    ("her2",),
    ("her2", "ihc"),
    ("her2", "ish"),
    ("erbb2_mutation",),
    ("prior_therapies",),
    ("compendium",),
    ("compendium", "nccn_category"),
    ("compendium", "fda_labeled_indication"),
    ("compendium", "fda_label_requirements_met"),
    ("prior_authorizations",),
    ("initiation_criteria_previously_met",),
    ("disease_status_on_treatment",),
]


def _without(request: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any] | None:
    out = copy.deepcopy(request)
    target = out
    for key in path[:-1]:
        if key not in target:
            return None
        target = target[key]
    if path[-1] not in target:
        return None
    del target[path[-1]]
    return out


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(requests())
def test_removing_a_fact_never_turns_a_non_approval_into_an_approval(
    kadcyla: Policy, request: dict[str, Any]
) -> None:
    original = decide(kadcyla, parse_request(request))
    if original.outcome is Outcome.approved:
        return
    for path in REMOVABLE:
        reduced = _without(request, path)
        if reduced is None:
            continue
        after = decide(kadcyla, parse_request(reduced))
        if _was_contradicted_by(original, path):
            continue
        assert after.outcome is not Outcome.approved, (
            f"removing {'.'.join(path)} turned {original.outcome.value} into approved"
        )


def _was_contradicted_by(decision: Any, path: tuple[str, ...]) -> bool:
    """Removing the record that contradicts a reported fact removes the contradiction itself:
    the history listing this drug stopped for progression, against a disease reported stable
    (the policy's ``contradictions``). Then the request is decided as it stands."""
    return path == ("prior_therapies",) and any(
        m.fact == "disease_status_on_treatment" and "stopped for progression" in (m.note or "")
        for m in decision.missing_information
    )


@SETTINGS
@given(requests())
def test_an_approval_always_rests_on_known_facts(kadcyla: Policy, request: dict[str, Any]) -> None:
    decision = decide(kadcyla, parse_request(request))
    if decision.outcome is Outcome.approved:
        assert decision.scope.applies is True
        assert decision.authorization is not None
        assert any(p.result == "met" for p in decision.pathways)
        assert not decision.missing_information


@SETTINGS
@given(requests())
def test_evaluation_is_deterministic(kadcyla: Policy, request: dict[str, Any]) -> None:
    first = decide(kadcyla, parse_request(request)).to_json()
    second = decide(kadcyla, parse_request(copy.deepcopy(request))).to_json()
    assert first == second


@SETTINGS
@given(requests())
def test_every_outcome_carries_its_explanation(kadcyla: Policy, request: dict[str, Any]) -> None:
    d = decide(kadcyla, parse_request(request))
    if d.outcome is Outcome.missing_information:
        assert d.missing_information and all(m.label for m in d.missing_information)
    if d.outcome is Outcome.not_met:
        assert d.reasons and all(r.clause and r.detail for r in d.reasons)
    if d.outcome is Outcome.out_of_scope:
        assert d.scope.route_to
