"""Billing units, least-waste vial choice and JW/JZ claim lines (fact sheet §2)."""

from __future__ import annotations

import itertools
import math
import time
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medpolicy.definitions.billing import (
    ClaimLine,
    VialPlan,
    billing_units,
    claim_lines,
    least_waste_vials,
)

D = Decimal
ONE_MG = D("1")
VIALS = (100, 160)  # test data: the two single-dose vial strengths in the fact sheet
HCPCS = "J9354"  # test data: a 1 mg-per-unit code


@pytest.mark.parametrize(
    ("dose", "mg_per_unit", "units"),
    [
        ("180", "1", 180),
        ("246.6", "1", 247),  # administered amount rounds up
        ("260.28", "1", 261),
        ("400.0001", "1", 401),
        ("100.0000000000000000000000000001", "1", 101),  # 31 digits: Decimal division rounds
        ("0", "1", 0),
        ("95", "10", 10),
        ("100", "10", 10),
        ("100.1", "10", 11),
        ("0.5", "0.5", 1),
    ],
)
def test_billing_units(dose: str, mg_per_unit: str, units: int) -> None:
    assert billing_units(D(dose), D(mg_per_unit)) == units


@pytest.mark.parametrize(("dose", "mg_per_unit"), [("-1", "1"), ("NaN", "1"), ("10", "0")])
def test_billing_units_refuses_impossible_values(dose: str, mg_per_unit: str) -> None:
    with pytest.raises(ValueError):
        billing_units(D(dose), D(mg_per_unit))


# Fact sheet §2.2 worked examples at 3.6 mg/kg: weight, administered, vials, JW units (0 → JZ).
WORKED = [
    ("50", 180, ((100, 2),), 20),
    ("60", 216, ((160, 1), (100, 1)), 44),
    ("68.5", 247, ((160, 1), (100, 1)), 13),
    ("70", 252, ((160, 1), (100, 1)), 8),
    ("72.3", 261, ((100, 3),), 39),  # 260 mg is *just* short of 260.28
    ("80", 288, ((100, 3),), 12),
    ("100", 360, ((160, 1), (100, 2)), 0),
    ("111.2", 401, ((160, 2), (100, 1)), 19),
]


@pytest.mark.parametrize(("weight", "administered", "vials", "waste"), WORKED)
def test_worked_examples(
    weight: str, administered: int, vials: tuple[tuple[int, int], ...], waste: int
) -> None:
    dose = D("3.6") * D(weight)
    plan = least_waste_vials(dose, VIALS, ONE_MG)
    total = sum(size * n for size, n in vials)
    assert plan == VialPlan(vials=vials, total_mg=total, waste_units=waste)
    assert billing_units(dose, ONE_MG) == administered
    expected = (
        (ClaimLine(HCPCS, None, administered), ClaimLine(HCPCS, "JW", waste))
        if waste
        else (ClaimLine(HCPCS, "JZ", administered),)
    )
    assert claim_lines(HCPCS, dose, VIALS, ONE_MG) == expected


def _brute_force(dose: Decimal, sizes: tuple[int, ...]) -> tuple[int, int]:
    """(smallest total ≥ dose, fewest vials for it) by trying every combination."""
    top = math.ceil(Fraction(dose)) + max(sizes)
    ranges = [range(top // s + 1) for s in sizes]
    best = min(
        (sum(s * n for s, n in zip(sizes, ns, strict=True)), sum(ns))
        for ns in itertools.product(*ranges)
        if sum(s * n for s, n in zip(sizes, ns, strict=True)) >= dose
    )
    return best


@pytest.mark.parametrize(
    ("sizes", "doses"),
    [
        (VIALS, [D(mg) for mg in range(1, 2001)]),
        (VIALS, [D(tenths).scaleb(-2) for tenths in range(1, 60001, 97)]),  # fractional mg
        ((20, 100, 160), [D(mg) for mg in range(1, 801, 3)]),
        ((150, 420), [D(mg) for mg in range(1, 1501, 7)]),
        ((7, 13), [D(mg) for mg in range(1, 301)]),  # past 110 mg, 13s counted apart
        ((3, 5, 8), [D(mg) for mg in range(1, 180, 7)]),  # past 72 mg, likewise
        ((100, 200), [D(mg) for mg in range(1, 801, 5)]),  # ties: 1×200 beats 2×100
        ((50,), [D(mg) for mg in range(1, 501, 9)]),
    ],
)
def test_least_waste_matches_brute_force(sizes: tuple[int, ...], doses: list[Decimal]) -> None:
    for dose in doses:
        plan = least_waste_vials(dose, sizes, ONE_MG)
        assert (plan.total_mg, plan.vial_count) == _brute_force(dose, sizes), dose
        assert plan.total_mg == sum(size * n for size, n in plan.vials)
        assert [s for s, _ in plan.vials] == sorted({s for s, _ in plan.vials}, reverse=True)
        assert all(n > 0 for _, n in plan.vials)
        assert plan.waste_units == plan.total_mg - billing_units(dose, ONE_MG)


def test_a_dose_of_billions_of_mg_is_planned_without_a_table_as_large() -> None:
    # a table of every total up to 10^12 mg would not fit in memory (MemoryError)
    plan = least_waste_vials(D(10**12), VIALS, ONE_MG)
    assert plan.vials == ((160, 6_250_000_000),) and plan.waste_units == 0
    assert least_waste_vials(D(10**12 + 1), VIALS, ONE_MG).total_mg == 10**12 + 20


@pytest.mark.parametrize(
    ("dose", "sizes", "vials"),
    [
        ("200", (100, 200), ((200, 1),)),  # same total, fewer vials
        ("100", (40, 60, 100), ((100, 1),)),
        ("320", (160, 100), ((160, 2),)),  # order of sizes given does not matter
        ("320", (100, 160, 160), ((160, 2),)),  # duplicate sizes are harmless
        ("1", (100, 160), ((100, 1),)),
    ],
)
def test_vial_choice(dose: str, sizes: tuple[int, ...], vials: tuple[tuple[int, int], ...]) -> None:
    assert least_waste_vials(D(dose), sizes, ONE_MG).vials == vials


@pytest.mark.parametrize(
    ("dose", "sizes"),
    [("0", VIALS), ("-5", VIALS), ("NaN", VIALS), ("100", ()), ("100", (0, 100)), ("100", (-1,))],
)
def test_least_waste_refuses_impossible_values(dose: str, sizes: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        least_waste_vials(D(dose), sizes, ONE_MG)


def test_least_waste_is_fast_for_large_doses() -> None:
    start = time.perf_counter()
    for mg in range(1900, 2001):
        least_waste_vials(D(mg), VIALS, ONE_MG)
    assert time.perf_counter() - start < 1.0  # ~100 plans; each is a few ms at most


@pytest.mark.parametrize("mg_per_unit", ["1", "10", "2.5"])
def test_claim_lines_never_mix_jw_and_jz(mg_per_unit: str) -> None:
    unit = D(mg_per_unit)
    for tenths in range(1, 6001, 13):
        dose = D(tenths).scaleb(-1)
        lines = claim_lines(HCPCS, dose, VIALS, unit)
        modifiers = [line.modifier for line in lines]
        assert modifiers in ([None, "JW"], ["JZ"]), dose
        assert lines[0].units == billing_units(dose, unit)
        assert all(line.units >= 1 and line.hcpcs == HCPCS for line in lines)
        # Administered + discarded never bills more than the opened vials hold.
        total = least_waste_vials(dose, VIALS, unit).total_mg
        assert sum(line.units for line in lines) * unit <= total


@pytest.mark.parametrize(
    ("dose", "mg_per_unit", "sizes", "expected"),
    [
        # 10 mg units: 85 mg → 9 units (90 mg); vial 105 mg; 15 mg left → 1 whole unit of waste.
        ("85", "10", (105,), ((None, 9), ("JW", 1))),
        # 95 mg → 10 units = 100 mg; 5 mg left is under one unit, so no JW: JZ.
        ("95", "10", (100,), (("JZ", 10),)),
        ("360", "1", VIALS, (("JZ", 360),)),
        ("359.5", "1", VIALS, (("JZ", 360),)),  # half a mg discarded is not a billable unit
        ("359", "1", VIALS, ((None, 359), ("JW", 1))),
    ],
)
def test_claim_lines_rounding(
    dose: str,
    mg_per_unit: str,
    sizes: tuple[int, ...],
    expected: tuple[tuple[str | None, int], ...],
) -> None:
    lines = claim_lines("JXXXX", D(dose), sizes, D(mg_per_unit))
    assert tuple((line.modifier, line.units) for line in lines) == expected


@given(
    st.decimals(min_value=D("0.0001"), max_value=5000, places=None, allow_nan=False),
    st.sampled_from(
        [D("1"), D("0.5"), D("10"), D("2.5"), D("0.1"), D("1.000000000000000000000000000001")]
    ),
)
def test_units_and_waste_are_the_exact_rational_arithmetic(
    dose: Decimal, per_unit: Decimal
) -> None:
    # The rule as written, in fractions: administered rounds up, discarded rounds down.
    units = math.ceil(Fraction(dose) / Fraction(per_unit))
    assert billing_units(dose, per_unit) == units
    plan = least_waste_vials(dose, VIALS, per_unit)
    waste = math.floor((plan.total_mg - units * Fraction(per_unit)) / Fraction(per_unit))
    assert plan.waste_units == max(0, waste)
    assert plan.total_mg == _brute_force(dose, VIALS)[0]
