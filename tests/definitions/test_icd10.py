"""ICD-10-CM look-ups, tabular-order ranges and value sets (fact sheet §3)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from medpolicy.definitions.icd10 import (
    Match,
    ValueSet,
    ValueSetError,
    code_set_version,
    description,
    expand_range,
    is_billable,
    is_valid,
    normalize,
)

# Test data: the ranges of the Kadcyla guideline's Billing/Coding section.
GUIDELINE: list[Mapping[str, Any]] = [
    {"code": "C06.9"},
    {"code": "C07"},
    {"range": ["C08.0", "C08.9"]},
    {"range": ["C50.011", "C50.929"]},
    {"code": "C33"},
    {"range": ["C34.00", "C34.32"]},
    {"range": ["C34.80", "C34.92"]},
    {"code": "C79.31"},
]
IBC_REASON = "the guideline covers inflammatory breast cancer; C50.A* are new for FY2026"
BY_TEXT: Mapping[str, Any] = {
    "accepted_by_text": ["C50.A0", "C50.A1", "C50.A2"],
    "reason": IBC_REASON,
}

BREAST_54 = {f"C50.{site}{sex}{side}" for site in "012345689" for sex in "12" for side in "129"}


def test_code_set_version_names_the_release() -> None:
    assert code_set_version() == "ICD-10-CM FY2026 (April 1, 2026)"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("c50911", "C50.911"),
        ("C50.911", "C50.911"),
        (" c50.911\n", "C50.911"),
        ("C07", "C07"),
        ("c07", "C07"),
        ("C3432", "C34.32"),
        ("C50A0", "C50.A0"),
        ("c4a0", "C4A.0"),
        ("QA00101", "QA0.0101"),  # FY2026: first code with a letter in position 2
        ("S060XAS", "S06.0XAS"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "C5",
        "C50.",
        "C509.11",
        "C50.91111",
        "150.9",
        "C50-C50",
        "C00-C14",
        "C50..9",
        "C50 911",
        "2",
        "C50.9-",
        "Ç50",
    ],
)
def test_normalize_refuses_malformed(raw: str) -> None:
    with pytest.raises(ValueError, match="malformed"):
        normalize(raw)


@pytest.mark.parametrize(
    ("code", "valid", "billable"),
    [
        ("C07", True, True),  # 3-character billable category
        ("C33", True, True),
        ("C06.9", True, True),
        ("C34.2", True, True),  # 4-character leaf
        ("C50.019", True, True),
        ("C50.A0", True, True),  # new for FY2026
        ("c50a1", True, True),
        ("Z17.31", True, True),
        ("C50.9", True, False),  # headers exist but are not valid on a claim
        ("C34.1", True, False),
        ("C34", True, False),
        ("C08", True, False),
        ("C79.3", True, False),
        ("C50.A", True, False),
        ("C50.939", False, False),  # does not exist
        ("C50.93", False, False),
        ("C08.2", False, False),
        ("C00-C14", False, False),  # a block, not a code
        ("2", False, False),  # a chapter
        ("junk", False, False),
    ],
)
def test_valid_and_billable(code: str, valid: bool, billable: bool) -> None:
    assert (is_valid(code), is_billable(code)) == (valid, billable)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("C07", "Malignant neoplasm of parotid gland"),
        ("C33", "Malignant neoplasm of trachea"),
        ("c50a0", "Malignant inflammatory neoplasm of unspecified breast"),
        ("C79.81", "Secondary malignant neoplasm of breast"),
        ("Z85.3", "Personal history of malignant neoplasm of breast"),
    ],
)
def test_description(code: str, text: str) -> None:
    assert description(code) == text


@pytest.mark.parametrize("code", ["C50.939", "junk"])
def test_description_of_unknown_code_raises(code: str) -> None:
    with pytest.raises(ValueError):
        description(code)


# Fact sheet §3.1: billable codes per guideline entry (77 in all).
@pytest.mark.parametrize(
    ("first", "last", "count"),
    [
        ("C06.9", "C06.9", 1),
        ("C07", "C07", 1),
        ("C08.0", "C08.9", 3),
        ("C50.011", "C50.929", 54),
        ("C33", "C33", 1),
        ("C34.00", "C34.32", 10),
        ("C34.80", "C34.92", 6),
        ("C79.31", "C79.31", 1),
    ],
)
def test_guideline_range_sizes(first: str, last: str, count: int) -> None:
    codes = expand_range(first, last)
    assert len(codes) == count
    assert len(set(codes)) == count
    assert all(is_billable(c) for c in codes)


@pytest.mark.parametrize(
    ("first", "last", "codes"),
    [
        ("C08.0", "C08.9", ("C08.0", "C08.1", "C08.9")),
        ("C08", "C08", ("C08.0", "C08.1", "C08.9")),  # a header stands for its sub-codes
        (
            "C34.00",
            "C34.32",
            (
                "C34.00",
                "C34.01",
                "C34.02",
                "C34.10",
                "C34.11",
                "C34.12",
                "C34.2",
                "C34.30",
                "C34.31",
                "C34.32",
            ),
        ),
        ("C34.80", "C34.92", ("C34.80", "C34.81", "C34.82", "C34.90", "C34.91", "C34.92")),
        ("c3480", "c3492", ("C34.80", "C34.81", "C34.82", "C34.90", "C34.91", "C34.92")),
        ("C79.31", "C79.31", ("C79.31",)),
        ("C50.A", "C50.A", ("C50.A0", "C50.A1", "C50.A2")),
    ],
)
def test_range_members(first: str, last: str, codes: tuple[str, ...]) -> None:
    assert expand_range(first, last) == codes


def test_breast_range_is_the_54_codes_and_omits_inflammatory() -> None:
    codes = expand_range("C50.011", "C50.929")
    assert set(codes) == BREAST_54
    assert "C50.019" in codes
    assert not {"C50.A0", "C50.A1", "C50.A2"} & set(codes)


def test_both_lung_ranges_cover_every_lung_code() -> None:
    both = set(expand_range("C34.00", "C34.32")) | set(expand_range("C34.80", "C34.92"))
    assert both == set(expand_range("C34", "C34"))


def test_guideline_ranges_read_the_same_in_tabular_and_alphabetical_order() -> None:
    # The fact sheet resolved these ranges alphabetically; for them the two readings agree.
    for entry in GUIDELINE:
        first, last = entry["range"] if "range" in entry else (entry["code"], entry["code"])
        category = expand_range(first[:3], first[:3])
        alphabetical = [
            c
            for c in category
            if first.replace(".", "") <= c.replace(".", "") <= last.replace(".", "")
        ]
        assert list(expand_range(first, last)) == alphabetical


@pytest.mark.parametrize(
    ("first", "last", "inside", "outside"),
    [
        # Tabular order puts C84.A*/C84.Z* before C84.9*, and C4A between C43 and C44.
        ("C84.40", "C84.99", {"C84.A0", "C84.ZA", "C84.90"}, {"C84.00", "C84.Z0" + "X"}),
        ("C43.0", "C44.00", {"C4A.0", "C4A.9", "C44.00"}, {"C44.01", "C7A.00"}),
        ("C79.0", "C79.31", {"C79.00", "C79.2"}, {"C79.32", "C79.40"}),
    ],
)
def test_ranges_follow_tabular_order(
    first: str, last: str, inside: set[str], outside: set[str]
) -> None:
    codes = set(expand_range(first, last))
    assert inside <= codes
    assert not outside & codes


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("C50.929", "C50.011", "comes before"),
        ("C50.011", "C50.939", "C50.939 does not exist"),
        ("C08.2", "C08.9", "C08.2 does not exist"),
        ("C50.011", "C5", "malformed"),
        ("C50.011", "nope", "NOP.E does not exist"),  # letters only: well-formed, unknown
    ],
)
def test_bad_ranges_raise(first: str, last: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        expand_range(first, last)


def test_expansions_are_cached() -> None:
    assert expand_range("C50.011", "C50.929") is expand_range("c50011", "C50929")


# -- value sets -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guideline_set() -> ValueSet:
    return ValueSet.build("kadcyla_diagnoses", [*GUIDELINE, BY_TEXT])


def test_value_set_size(guideline_set: ValueSet) -> None:
    assert len(ValueSet.build("literal", GUIDELINE).codes) == 77
    assert len(guideline_set.codes) == 80
    assert guideline_set.code_set == "ICD-10-CM FY2026 (April 1, 2026)"
    assert guideline_set.entries[3] == "C50.011–C50.929"
    assert guideline_set.entries[-1] == "C50.A0, C50.A1, C50.A2"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("C07", Match("C07", "listed", "C07")),
        ("C33", Match("C33", "listed", "C33")),
        ("C06.9", Match("C06.9", "listed", "C06.9")),
        ("C08.1", Match("C08.1", "range", "C08.0–C08.9")),
        ("C50.911", Match("C50.911", "range", "C50.011–C50.929")),
        ("c50019", Match("C50.019", "range", "C50.011–C50.929")),
        ("C50.929", Match("C50.929", "range", "C50.011–C50.929")),
        ("C34.2", Match("C34.2", "range", "C34.00–C34.32")),
        ("C34.92", Match("C34.92", "range", "C34.80–C34.92")),
        ("C79.31", Match("C79.31", "listed", "C79.31")),
        ("C50.A1", Match("C50.A1", "accepted_by_text", "C50.A0, C50.A1, C50.A2", IBC_REASON)),
        # near misses (fact sheet §3.2)
        ("C79.32", None),
        ("C79.81", None),  # secondary neoplasm OF breast
        ("C79.49", None),
        ("D05.10", None),  # carcinoma in situ
        ("D05.11", None),
        ("D05.90", None),
        ("Z85.3", None),  # history of breast cancer
        ("C77.0", None),
        ("C06.80", None),
        ("C06.89", None),
        ("Z17.31", None),  # HER2-positive status: corroborating, not a listed diagnosis
        # headers are never valid on a claim
        ("C34.1", None),
        ("C50.9", None),
        ("C50", None),
        ("C08", None),
        ("C79.3", None),
        ("C50.A", None),
        # not codes at all
        ("C50.939", None),
        ("junk", None),
        ("", None),
    ],
)
def test_match(guideline_set: ValueSet, code: str, expected: Match | None) -> None:
    assert guideline_set.match(code) == expected
    assert (code.strip() != "" and normalize(code) in guideline_set.codes) is (expected is not None)


def test_headers_are_explained_by_is_billable(guideline_set: ValueSet) -> None:
    assert guideline_set.match("C34.1") is None
    assert is_valid("C34.1") and not is_billable("C34.1")


def test_inflammatory_codes_only_through_accepted_by_text() -> None:
    literal = ValueSet.build("literal", GUIDELINE)
    assert all(literal.match(c) is None for c in ("C50.A0", "C50.A1", "C50.A2"))


def test_members_are_in_tabular_order(guideline_set: ValueSet) -> None:
    codes = list(guideline_set.members)
    assert codes[:5] == ["C06.9", "C07", "C08.0", "C08.1", "C08.9"]
    assert codes[-4:] == ["C50.A0", "C50.A1", "C50.A2", "C79.31"]


def test_first_entry_covering_a_code_is_cited() -> None:
    vs = ValueSet.build("overlap", [{"code": "C34.2", "note": "middle lobe"}, {"code": "C34"}])
    assert vs.match("C34.2") == Match("C34.2", "listed", "C34.2", "middle lobe")
    assert vs.match("C34.10") == Match("C34.10", "listed", "C34")


# Each bad entry, the path of its problem, and what the problem says.
BAD_ENTRIES: list[tuple[Any, str, str]] = [
    ({"code": "C50.939"}, "code", "C50.939 does not exist in ICD-10-CM FY2026"),
    ({"range": ["C50.011", "C50.93"]}, "range[1]", "C50.93 does not exist"),
    ({"range": ["C08.2", "C08.9"]}, "range[0]", "C08.2 does not exist"),
    ({"code": "C5"}, "code", "'C5' is not an ICD-10-CM code"),
    ({"code": "banana"}, "code", "'banana' (read as BAN.ANA) does not exist"),
    ({"code": "c50939"}, "code", "'c50939' (read as C50.939) does not exist"),
    ({"code": 50}, "code", "50 is not an ICD-10-CM code"),
    ({"range": ["C50.929", "C50.011"]}, "range", "C50.011 comes before C50.929"),
    ({"range": "C50.011-C50.929"}, "range", "expected [first, last]"),
    ({"range": ["C50.011"]}, "range", "expected [first, last]"),
    ({"accepted_by_text": ["C50.A9"], "reason": "x"}, "accepted_by_text[0]", "C50.A9 does not"),
    ({"accepted_by_text": ["C50.A0"]}, "reason", "accepted_by_text needs the guideline's reason"),
    ({"accepted_by_text": "C50.A0", "reason": "x"}, "accepted_by_text", "expected a list"),
    ({"accepted_by_text": ["C50.A"], "reason": "x"}, "accepted_by_text[0]", "C50.A is a header"),
    ({"code": "C07", "label": "parotid"}, "", "unknown key 'label'"),
    ({}, "", "needs exactly one of 'code', 'range', 'accepted_by_text'"),
    ({"code": "C07", "range": ["C08.0", "C08.9"]}, "", "needs exactly one of"),
    ("C07", "", "expected a mapping"),
    ({"accepted_by_text": ["C50.911"], "reason": "x"}, "", "C50.911 is already covered by"),
]
GOOD = {"range": ["C50.011", "C50.929"]}


def _problem(index: int, path: str, text: str) -> str:
    return f"entries[{index}]{'.' + path if path else ''}: {text}"


def test_every_problem_is_reported_at_once() -> None:
    entries = [GOOD, *(entry for entry, _, _ in BAD_ENTRIES), GOOD]
    with pytest.raises(ValueSetError) as caught:
        ValueSet.build("broken", entries)
    problems = caught.value.problems
    assert len(problems) == len(BAD_ENTRIES)
    for i, (_, path, text) in enumerate(BAD_ENTRIES, start=1):
        assert any(p.startswith(_problem(i, path, text)) for p in problems), (i, problems)
    assert isinstance(caught.value, ValueError)
    assert f"value set 'broken' has {len(BAD_ENTRIES)} problem(s)" in str(caught.value)


@pytest.mark.parametrize(("entry", "path", "text"), BAD_ENTRIES)
def test_each_problem_alone(entry: Any, path: str, text: str) -> None:
    with pytest.raises(ValueSetError) as caught:
        ValueSet.build("one", [GOOD, entry])
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(_problem(1, path, text))


def test_building_the_guideline_sets_again_is_fast() -> None:
    ValueSet.build("warm", [*GUIDELINE, BY_TEXT])
    start = time.perf_counter()
    for _ in range(20):
        ValueSet.build("again", [*GUIDELINE, BY_TEXT])
    assert time.perf_counter() - start < 1.0
