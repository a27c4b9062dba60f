"""The engine held to an independent reference (``tests/reference/kadcyla.py``), and attacked.

Requests are generated the way an adversary would make them: an approvable (or nearly
approvable) request of each pathway, then a few *mutations*, each of which adds, renames,
relabels, duplicates, ages or contradicts a fact. Every request is decided by the engine and by
the reference, which was written by hand from the guideline text; they must agree on the outcome.
A disagreement is a bug, unless it is a reading listed in ``DOCUMENTED`` with its reason (the
list is empty: none is known).

Beside it, metamorphic properties that need no reference: an equivalent spelling of a drug never
changes the outcome; a fact about another condition never turns a non-approval into an approval;
a later date never makes a stale fact usable.

The generation is bounded and deterministic (``derandomize``): the same requests in every run.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medpolicy.adapters.native import parse_request
from medpolicy.engine.decide import decide
from medpolicy.engine.decision import Outcome
from medpolicy.errors import RequestError
from medpolicy.policy.cases import load_cases
from medpolicy.policy.tree import Policy
from medpolicy.request import Request
from tests.reference.kadcyla import decide as reference
from tests.support import KADCYLA

BASES, _ = load_cases(KADCYLA)

SETTINGS = settings(
    max_examples=1500,
    derandomize=True,  # the same requests in every run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROPERTY = settings(SETTINGS, max_examples=500)

# Spellings of one drug that a careful reviewer reads alike; the engine must too.
SPELLINGS = {
    "kadcyla": [
        "Kadcyla",
        "KADCYLA",
        "Kadcyla®",
        "Kadcyla™",
        "kadcyla 100 mg",
        "Kadcyla 160mg",
        "ado-trastuzumab emtansine",
        "Ado-Trastuzumab Emtansine",
        "ado\u2011trastuzumab emtansine",  # non-breaking hyphen
        "ado\u2013trastuzumab emtansine",  # en dash
        "ado trastuzumab emtansine",
        "ado-trastuzumab-emtansine",
        "T-DM1",
        "T DM1",
        "TDM1",
        "t\u2010dm1",
        "trastuzumab emtansine",
        "Kadcyla (ado-trastuzumab emtansine)",
        "KADCYLA® (ado\u2011trastuzumab emtansine) 100 mg vial",
    ],
    "trastuzumab": ["trastuzumab", "Herceptin", "HERCEPTIN®", "Kanjinti", "trastuzumab-anns"],
    "pertuzumab": ["pertuzumab", "Perjeta", "PERJETA®"],
    "paclitaxel": ["paclitaxel", "Paclitaxel 175 mg"],
    "docetaxel": ["docetaxel"],
    "t-dxd": ["Enhertu", "fam-trastuzumab deruxtecan-nxki"],
}
UNKNOWN_NAMES = ["Kadcila", "XR-2231", "Herceptin (not Kadcyla)", "Kadcyla (Herceptin)", "TDM"]
DRUG_CODES = [{"rxnorm": "1371046"}, {"rxnorm": "1371041"}, {"hcpcs": "J9355"}, {"rxnorm": "9999"}]
ANY_NAME = st.sampled_from([n for names in SPELLINGS.values() for n in names] + UNKNOWN_NAMES)
CODES = [
    "C50.912",
    "C50.A1",
    "C50.9",
    "C34.12",
    "C34.90",
    "C08.0",
    "C07",
    "C06.9",
    "C79.31",
    "C16.9",
    "C18.9",
    "C61",
    "Z85.3",
    "Z00.00",
    "D05.10",
]
REASONS = ["progression", "toxicity", "completion", "ongoing", None]


def _at(request: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = request
    for key in parents:
        if node.get(key) is None:
            node[key] = {}
        node = node[key]
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value


# -- mutations: each draws what it changes --------------------------------------------------------

Mutation = Callable[[st.DrawFn, dict[str, Any]], None]


def add_fact(draw: st.DrawFn, r: dict[str, Any]) -> None:
    path, value = draw(
        st.sampled_from(
            [
                ("brain_metastases", {"present": True, "extent": "limited"}),
                ("brain_metastases", {"present": True}),
                ("brain_metastases", {"present": False}),
                ("compendium", {"nccn_category": "2A"}),
                (
                    "compendium",
                    {"fda_labeled_indication": True, "fda_label_requirements_met": True},
                ),
                ("erbb2_mutation", {"status": "positive"}),
                ("medication.line_of_therapy", 2),
                ("disease_status_on_treatment", "stable"),
                ("initiation_criteria_previously_met", True),
                ("disease_extent", ["metastatic", "recurrent"]),
            ]
        )
    )
    _at(r, path, copy.deepcopy(value))


def add_drug(draw: st.DrawFn, r: dict[str, Any]) -> None:
    name = draw(ANY_NAME)
    if draw(st.booleans()):
        therapy = {"drug": name, "reason_stopped": draw(st.sampled_from(REASONS))}
        if draw(st.booleans()):
            therapy = {
                **draw(st.sampled_from(DRUG_CODES)),
                "reason_stopped": therapy["reason_stopped"],
            }
        r["prior_therapies"] = [*(r.get("prior_therapies") or []), therapy]
    else:
        med = r.setdefault("medication", {})
        entry: Any = name if draw(st.booleans()) else draw(st.sampled_from(DRUG_CODES))
        med["concurrent_anticancer_drugs"] = [
            *(med.get("concurrent_anticancer_drugs") or []),
            entry,
        ]


def rename_drug(draw: st.DrawFn, r: dict[str, Any]) -> None:
    """The drug ordered, a prior therapy or a concurrent drug, spelled otherwise."""
    where = draw(st.sampled_from(["ordered", "prior", "concurrent"]))
    if where == "ordered":
        r["medication"]["drug"] = draw(ANY_NAME)
    elif where == "prior" and r.get("prior_therapies"):
        i = draw(st.integers(0, len(r["prior_therapies"]) - 1))
        therapy = {k: v for k, v in r["prior_therapies"][i].items() if k not in ("hcpcs", "rxnorm")}
        r["prior_therapies"][i] = {**therapy, "drug": draw(ANY_NAME)}
    elif where == "concurrent":
        r["medication"]["concurrent_anticancer_drugs"] = [draw(ANY_NAME)]


def relabel_indication(draw: st.DrawFn, r: dict[str, Any]) -> None:
    ids = ["breast_cancer", "cns_brain_metastases", "nsclc", "salivary_gland_tumor"]
    chosen = draw(st.lists(st.sampled_from([*ids, "other_fda_or_nccn"]), max_size=2, unique=True))
    r["indications"] = chosen or None


def add_code(draw: st.DrawFn, r: dict[str, Any]) -> None:
    codes = list(r.get("diagnoses") or [])
    code = draw(st.sampled_from(CODES))
    if code not in codes:
        codes.append(code)
    r["diagnoses"] = codes


def replace_codes(draw: st.DrawFn, r: dict[str, Any]) -> None:
    r["diagnoses"] = draw(st.lists(st.sampled_from(CODES), min_size=1, max_size=2, unique=True))


def duplicate_report(draw: st.DrawFn, r: dict[str, Any]) -> None:
    her2 = r.get("her2") or {}
    lists = [k for k in ("ihc", "ish") if her2.get(k)]
    if lists and draw(st.booleans()):
        key = draw(st.sampled_from(lists))
        her2[key] = [*her2[key], copy.deepcopy(her2[key][0])]
    elif r.get("prior_therapies"):
        r["prior_therapies"] = [*r["prior_therapies"], copy.deepcopy(r["prior_therapies"][0])]


def change_her2(draw: st.DrawFn, r: dict[str, Any]) -> None:
    ihc = {"score": draw(st.sampled_from(["0", "1+", "2+", "3+"])), "specimen_id": "S9"}
    ish: dict[str, Any] = {"specimen_id": draw(st.sampled_from(["S9", "S8"]))}
    for key, values in (
        ("ratio", ["1.5", "1.99", "2.0", "2.4"]),
        ("copy_number", ["3.9", "4.0", "5.0", "6.0", "6.5"]),
    ):
        if draw(st.booleans()):
            ish[key] = draw(st.sampled_from(values))
    her2: dict[str, Any] = {"ihc": [ihc]}
    if "ratio" in ish or "copy_number" in ish:
        her2["ish"] = [ish]
    r["her2"] = her2


def attribute(draw: st.DrawFn, r: dict[str, Any]) -> None:
    """Say which condition a finding is about: the request's own, or another's."""
    code = draw(st.sampled_from(["C50.912", "C08.0", "C34.12", "C16.9", "C79.31"]))
    if r.get("her2") and r["her2"].get("ihc"):
        r["her2"]["ihc"][0]["condition"] = code
    elif r.get("erbb2_mutation"):
        r["erbb2_mutation"]["condition"] = code


def age_date(draw: st.DrawFn, r: dict[str, Any]) -> None:
    today = date.fromisoformat(r["submitted_at"][:10])
    what = draw(st.sampled_from(["weight", "undated", "start", "authorization"]))
    if what in ("weight", "undated") and r.get("body_weight"):
        if what == "undated":
            r["body_weight"].pop("date", None)
        else:
            days = draw(st.sampled_from([0, 29, 30, 31, 365, 365 * 36]))
            r["body_weight"]["date"] = (today - timedelta(days=days)).isoformat()
    elif what == "start":
        days = draw(st.sampled_from([-9000, -15, -14, 0, 7, 90, 91, 3000]))
        r["medication"]["start_date"] = (today + timedelta(days=days)).isoformat()
    elif r.get("prior_authorizations"):
        days = draw(st.sampled_from([0, 700, 731, 1000]))
        r["prior_authorizations"][0]["approved_on"] = (today - timedelta(days=days)).isoformat()


def contradict(draw: st.DrawFn, r: dict[str, Any]) -> None:
    """Report a course on this drug that its own history contradicts."""
    r["disease_status_on_treatment"] = draw(st.sampled_from(["stable", "improved", "progressed"]))
    spelled = draw(st.sampled_from(SPELLINGS["kadcyla"]))
    r["prior_therapies"] = [
        *(r.get("prior_therapies") or []),
        {"drug": spelled, "reason_stopped": "progression"},
    ]


def remove_fact(draw: st.DrawFn, r: dict[str, Any]) -> None:
    path = draw(
        st.sampled_from(
            [
                "member.line_of_business",
                "medication.dose",
                "medication.interval_days",
                "medication.concurrent_anticancer_drugs",
                "diagnoses",
                "disease_extent",
                "body_weight",
                "her2",
                "prior_therapies",
                "prior_authorizations",
                "disease_status_on_treatment",
            ]
        )
    )
    _at(r, path, None)


def change_phase_or_plan(draw: st.DrawFn, r: dict[str, Any]) -> None:
    if draw(st.booleans()):
        r["request_type"] = draw(st.sampled_from(["initiation", "continuation"]))
    else:
        r["member"]["line_of_business"] = draw(
            st.sampled_from(["commercial", "medicaid", "medicare_advantage", "fep"])
        )


MUTATIONS: list[Mutation] = [
    remove_fact,
    change_phase_or_plan,
    add_fact,
    add_drug,
    rename_drug,
    relabel_indication,
    add_code,
    replace_codes,
    duplicate_report,
    change_her2,
    attribute,
    age_date,
    contradict,
]


@st.composite
def attacked(draw: st.DrawFn) -> dict[str, Any]:
    """A base request of some pathway, then up to four mutations."""
    request = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    request = {k: v for k, v in request.items() if v is not None}
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=4)):
        mutation(draw, request)
    return request


def _parsed(data: dict[str, Any]) -> Request | None:
    try:
        return parse_request(data)
    except RequestError:
        return None  # a mutation made it impossible (e.g. a date after the request): refused


# Disagreements that are documented readings, each with the predicate that recognises it and
# why. Empty: every disagreement found so far was a bug, and was fixed.
DOCUMENTED: list[tuple[Callable[[Request], bool], str]] = []


@SETTINGS
@given(attacked())
def test_the_engine_agrees_with_the_independent_reference(
    kadcyla: Policy, data: dict[str, Any]
) -> None:
    request = _parsed(data)
    if request is None:
        return
    engine = decide(kadcyla, request)
    ref = reference(request)
    if engine.outcome.value == ref.outcome:
        return
    documented = [why for matches, why in DOCUMENTED if matches(request)]
    assert documented, (
        f"engine {engine.outcome.value}, reference {ref.outcome} ({ref.why}); "
        f"engine says: {engine.summary}"
    )


def test_the_reference_agrees_on_every_case_and_example(kadcyla: Policy) -> None:
    """The reference is no straw man: it gives the outcome of every case in the case file."""
    from medpolicy.policy.cases import build_request

    _, cases = load_cases(KADCYLA)
    checked = 0
    for case in cases:
        request = _parsed(build_request(BASES, case))
        if request is None or "error" in case["expect"]:
            continue
        assert reference(request).outcome == case["expect"].get(
            "outcome", decide(kadcyla, request).outcome.value
        ), case["name"]
        checked += 1
    assert checked > 150


# -- metamorphic properties -----------------------------------------------------------------------


def _respelled(data: dict[str, Any], draw: st.DrawFn) -> dict[str, Any] | None:
    """The request with one drug spelled another way that names the same drug."""
    out = copy.deepcopy(data)
    places: list[tuple[dict[str, Any], str]] = []
    for therapy in out.get("prior_therapies") or []:
        if isinstance(therapy.get("drug"), str):
            places.append((therapy, "drug"))
    if isinstance(out["medication"].get("drug"), str):
        places.append((out["medication"], "drug"))
    if not places:
        return None
    holder, key = draw(st.sampled_from(places))
    for names in SPELLINGS.values():
        if holder[key] in names:
            holder[key] = draw(st.sampled_from(names))
            return out
    return None


@PROPERTY
@given(attacked(), st.data())
def test_an_equivalent_spelling_never_changes_the_outcome(
    kadcyla: Policy, data: dict[str, Any], more: st.DataObject
) -> None:
    request = _parsed(data)
    respelled = _respelled(data, more.draw)
    if request is None or respelled is None:
        return
    other = _parsed(respelled)
    assert other is not None
    assert decide(kadcyla, other).outcome is decide(kadcyla, request).outcome


ANOTHER_CONDITION = {
    "breast_cancer": "C08.0",
    "cns_brain_metastases": "C34.12",
    "nsclc": "C50.912",
    "salivary_gland_tumor": "C50.912",
    "other_fda_or_nccn": "C50.912",
}


@PROPERTY
@given(attacked(), st.sampled_from(["code", "her2", "erbb2"]))
def test_a_fact_about_another_condition_never_turns_a_non_approval_into_an_approval(
    kadcyla: Policy, data: dict[str, Any], what: str
) -> None:
    request = _parsed(data)
    if request is None or decide(kadcyla, request).outcome is Outcome.approved:
        return
    stated = (data.get("indications") or ["breast_cancer"])[0]
    other = ANOTHER_CONDITION[stated]
    out = copy.deepcopy(data)
    if what == "code":
        out["diagnoses"] = [*(out.get("diagnoses") or []), other]
    elif what == "her2":
        her2 = out.setdefault("her2", {}) or {}
        out["her2"] = her2
        her2["ihc"] = [*(her2.get("ihc") or []), {"score": "3+", "condition": other}]
    else:
        out["erbb2_mutation"] = {"status": "positive", "condition": other}
    mutated = _parsed(out)
    if mutated is not None:
        assert decide(kadcyla, mutated).outcome is not Outcome.approved


@PROPERTY
@given(attacked(), st.sampled_from([1, 15, 31, 400, 4000]))
def test_a_later_date_never_makes_a_stale_fact_usable(
    kadcyla: Policy, data: dict[str, Any], days: int
) -> None:
    """The request dated later (its planned start moved with it), or the weight measured
    earlier: never an approval that was not one."""
    request = _parsed(data)
    if request is None or decide(kadcyla, request).outcome is Outcome.approved:
        return
    later = copy.deepcopy(data)
    submitted = datetime.fromisoformat(later["submitted_at"].replace("Z", "+00:00"))
    later["submitted_at"] = (submitted + timedelta(days=days)).isoformat()
    start = later["medication"].get("start_date")
    if start:
        later["medication"]["start_date"] = (
            date.fromisoformat(start) + timedelta(days=days)
        ).isoformat()
    earlier = copy.deepcopy(data)
    if (earlier.get("body_weight") or {}).get("date"):
        weighed = date.fromisoformat(earlier["body_weight"]["date"])
        earlier["body_weight"]["date"] = (weighed - timedelta(days=days)).isoformat()
    for mutated in (later, earlier):
        parsed = _parsed(mutated)
        if parsed is not None:
            assert decide(kadcyla, parsed).outcome is not Outcome.approved


@pytest.mark.parametrize("identity", sorted(SPELLINGS))
def test_every_listed_spelling_names_its_drug(kadcyla: Policy, identity: str) -> None:
    """The engine's vocabulary reads each spelling a reviewer would, as that drug (and the
    reference's spellings table is the same drug list)."""
    ids = {kadcyla.drugs.identify(name).id for name in SPELLINGS[identity]}
    assert len(ids) == 1 and None not in ids, (identity, ids)
    for name in UNKNOWN_NAMES:
        assert kadcyla.drugs.identify(name).id is None, name
