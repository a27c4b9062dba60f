"""Weight-based dose caps ("does not exceed N mg/kg", inclusive) and dosing intervals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medpolicy.definitions.dose import (
    days_between,
    dose_mg_and_per_kg,
    dose_within_limit,
    interval_respected,
    max_dose_mg,
    mg_per_kg,
    within_weight_based_limit,
)
from medpolicy.definitions.units import dose_in_mg, weight_in_kg

D = Decimal
CAP = D("3.6")
# Every weight from 40.0 to 150.0 kg in 0.1 kg steps (1,101 weights).
WEIGHTS = [D(tenths).scaleb(-1) for tenths in range(400, 1501)]


def test_dose_exactly_at_the_cap_passes_for_every_weight() -> None:
    failures = [w for w in WEIGHTS if not within_weight_based_limit(CAP * w, w, CAP)]
    assert failures == []


def test_one_hundredth_mg_over_the_cap_fails_for_every_weight() -> None:
    passes = [w for w in WEIGHTS if within_weight_based_limit(CAP * w + D("0.01"), w, CAP)]
    assert passes == []


def test_the_float_pitfall_is_real() -> None:
    # Why Decimal: the same check in floats wrongly fails some doses billed exactly at the cap.
    wrong = [w for w in WEIGHTS if not float(CAP * w) <= 3.6 * float(w)]
    assert len(wrong) > 0.03 * len(WEIGHTS)


@pytest.mark.parametrize(
    ("weight", "cap", "expected"),
    [
        ("70", "3.6", "252.0"),
        ("72.3", "3.0", "216.90"),  # 216.89999999999998 in floats
        ("88.9", "3.0", "266.70"),  # 266.70000000000005 in floats
        ("111.2", "3.6", "400.32"),
        ("69.989302691", "3.6", "251.9614896876"),
        ("40.0", "2.4", "96.00"),
    ],
)
def test_max_dose_mg_is_the_exact_product(weight: str, cap: str, expected: str) -> None:
    assert max_dose_mg(D(weight), D(cap)) == D(expected)


@pytest.mark.parametrize(
    ("dose", "weight", "cap", "expected"),
    [
        ("252", "70", "3.6", True),  # at the cap: "does not exceed" includes it
        ("251.99", "70", "3.6", True),
        ("252.01", "70", "3.6", False),
        ("252.0000000001", "70", "3.6", False),
        ("260.28", "72.3", "3.6", True),
        ("261", "72.3", "3.6", False),  # the billed (rounded-up) units are not the dose
        ("0", "70", "3.6", True),
        ("216.9", "72.3", "3.0", True),
        ("266.7", "88.9", "3.0", True),
    ],
)
def test_within_weight_based_limit(dose: str, weight: str, cap: str, expected: bool) -> None:
    assert within_weight_based_limit(D(dose), D(weight), D(cap)) is expected


@pytest.mark.parametrize(
    ("pounds", "cap_mg"),
    [
        ("88.2", "144.0246493224"),
        ("154.3", "251.9614896876"),
        ("220.5", "360.0616233060"),
        ("330.7", "540.0107883324"),
        ("2.20462262185", "3.60000000000199902420"),
    ],
)
def test_weight_in_pounds_boundary(pounds: str, cap_mg: str) -> None:
    kg = weight_in_kg(D(pounds), "lb")
    assert max_dose_mg(kg, CAP) == D(cap_mg)
    assert within_weight_based_limit(D(cap_mg), kg, CAP)
    assert not within_weight_based_limit(D(cap_mg) + D("1E-20"), kg, CAP)
    # A dose recorded to 0.01 mg: rounding the cap down passes, rounding up fails.
    assert within_weight_based_limit(D(cap_mg).quantize(D("0.01"), "ROUND_FLOOR"), kg, CAP)
    assert not within_weight_based_limit(D(cap_mg).quantize(D("0.01"), "ROUND_CEILING"), kg, CAP)


@pytest.mark.parametrize(
    ("per_kg", "expected"),
    [("3.6", True), ("3.599", True), ("3.601", False), ("3.61", False), ("2.4", True)],
)
def test_dose_ordered_in_mg_per_kg(per_kg: str, expected: bool) -> None:
    # A dose ordered per kg, converted to mg with the same weight, meets the cap exactly.
    for w in WEIGHTS:
        mg = dose_in_mg(D(per_kg), "mg/kg", w)
        assert mg is not None
        assert within_weight_based_limit(mg, w, CAP) is expected


# Doses as a request may carry them (up to 12 digits, 4 places) and far beyond.
AMOUNTS = st.decimals(min_value=0, max_value=10**8, places=4) | st.decimals(
    min_value=0, max_value=D("1E+30"), allow_nan=False, allow_infinity=False
)
KG = st.decimals(min_value=D("0.0001"), max_value=10**8, places=4) | st.sampled_from(
    [weight_in_kg(D(lb), "lb") for lb in ("154.3", "220.5", "2.20462262185", "99999999.9999")]
)


@given(AMOUNTS, st.sampled_from(["mg", "mg/kg"]), KG, st.sampled_from([CAP, D("3.0"), D("0")]))
def test_dose_as_ordered_is_within_the_limit_as_in_mg(
    value: Decimal, unit: str, weight: Decimal, cap: Decimal
) -> None:
    mg = dose_in_mg(value, unit, weight)
    assert mg is not None
    assert dose_within_limit(value, unit, weight, cap) is within_weight_based_limit(mg, weight, cap)


@pytest.mark.parametrize("weight", [*WEIGHTS[::50], weight_in_kg(D("154.3"), "lb")])
def test_a_dose_ordered_at_the_cap_per_kg_is_within_it(weight: Decimal) -> None:
    assert dose_within_limit(CAP, "mg/kg", weight, CAP)
    assert dose_within_limit(CAP * weight, "mg", weight, CAP)
    assert not dose_within_limit(CAP + D("1E-20"), "mg/kg", weight, CAP)
    assert not dose_within_limit(CAP * weight + D("1E-20"), "mg", weight, CAP)


@given(AMOUNTS, st.sampled_from(["mg", "mg/kg"]), KG)
def test_dose_in_mg_and_per_kg_as_each_computes_it(
    value: Decimal, unit: str, weight: Decimal
) -> None:
    mg = dose_in_mg(value, unit, weight)
    assert mg is not None
    got = dose_mg_and_per_kg(value, unit, weight)
    assert (str(got[0]), str(got[1])) == (str(mg), str(mg_per_kg(mg, weight)))


@pytest.mark.parametrize(
    "value", ["0", "-0", "0.000", "0.0005", "0.00049999", "1E+19", "1E+20", "9.9999E+25"]
)
def test_dose_per_kg_shown_at_zero_half_and_beyond_twenty_digits(value: str) -> None:
    mg = dose_in_mg(D(value), "mg/kg", D("70"))
    assert mg is not None
    shown = dose_mg_and_per_kg(D(value), "mg/kg", D("70"))[1]
    assert str(shown) == str(mg_per_kg(mg, D("70")))


@pytest.mark.parametrize(
    ("value", "unit", "weight", "cap", "error"),
    [
        ("NaN", "mg", D("70"), CAP, ValueError),
        ("-1", "mg/kg", D("70"), CAP, ValueError),
        ("3.6", "mcg", D("70"), CAP, ValueError),
        ("3.6", "mg/kg", D("0"), CAP, ValueError),
        ("3.6", "mg/kg", D("NaN"), CAP, ValueError),
        ("3.6", "mg/kg", D("70"), D("NaN"), ValueError),
        ("3.6", "mg/kg", D("70"), 3.6, TypeError),
        ("252", "mg", D("-Infinity"), CAP, ValueError),
    ],
)
def test_dose_within_limit_refuses_impossible_values(
    value: str, unit: str, weight: Decimal, cap: Decimal, error: type[Exception]
) -> None:
    with pytest.raises(error):
        dose_within_limit(D(value), unit, weight, cap)


@pytest.mark.parametrize(
    ("dose", "weight", "shown"),
    [
        ("252", "70", "3.600"),
        ("253", "70", "3.614"),  # 3.61428…
        ("252.0001", "70", "3.600"),  # above the cap yet shown as 3.600: display only
        ("1", "2000", "0.001"),  # 0.0005 rounds half up
        ("1", "2001", "0.000"),
        ("0", "70", "0.000"),
    ],
)
def test_mg_per_kg_for_display(dose: str, weight: str, shown: str) -> None:
    value = mg_per_kg(D(dose), D(weight))
    assert str(value) == shown


def _shown_exactly(dose: Decimal, weight: Decimal) -> Decimal:
    """The reference: the exact quotient, rounded half up to the thousandth, in fractions."""
    thousandths = Fraction(dose) / Fraction(weight) * 1000 + Fraction(1, 2)
    return D(f"{thousandths.numerator // thousandths.denominator}E-3")


# Doses and weights from tiny to huge, with up to 12 significant digits: quotients from 1e-30 to
# 1e+60, across the point (10^50) past which the quotient is divided in integers.
_MAGNITUDES = st.builds(
    lambda digits, exponent: D(digits).scaleb(exponent),
    st.integers(min_value=1, max_value=10**12 - 1),
    st.integers(min_value=-20, max_value=25),
)


@given(_MAGNITUDES, _MAGNITUDES)
def test_mg_per_kg_rounds_once_whatever_the_magnitudes(dose: Decimal, weight: Decimal) -> None:
    assert str(mg_per_kg(dose, weight)) == str(_shown_exactly(dose, weight))


@pytest.mark.parametrize(
    ("dose", "weight"),
    [
        ("1.0005", "1"),  # exactly half a thousandth over: up
        ("2.0009999999999999999999999999999999999999999999999999999999999999", "2"),  # 70 digits
        ("1", "3"),  # a repeating quotient, cut
        ("2", "3"),
        ("7000000000000000000000000000000000000000000000000000000001", "7"),  # 10^56: integers
    ],
)
def test_mg_per_kg_at_half_thousandths_and_long_quotients(dose: str, weight: str) -> None:
    assert str(mg_per_kg(D(dose), D(weight))) == str(_shown_exactly(D(dose), D(weight)))


@pytest.mark.parametrize(("dose", "weight"), [("252", "0"), ("252", "-70"), ("-1", "70")])
def test_mg_per_kg_refuses_impossible_values(dose: str, weight: str) -> None:
    with pytest.raises(ValueError):
        mg_per_kg(D(dose), D(weight))


@pytest.mark.parametrize(
    ("earlier", "later", "days"),
    [
        (date(2026, 1, 1), date(2026, 1, 22), 21),
        (date(2026, 1, 1), date(2026, 1, 1), 0),
        (date(2024, 2, 20), date(2024, 3, 12), 21),  # across a leap day
        (date(2025, 12, 20), date(2026, 1, 10), 21),  # across a year end
        (date(2026, 1, 22), date(2026, 1, 1), -21),  # out of order: negative, never respected
    ],
)
def test_days_between(earlier: date, later: date, days: int) -> None:
    assert days_between(earlier, later) == days


@pytest.mark.parametrize(
    ("interval", "minimum", "expected"),
    [(20, 21, False), (21, 21, True), (22, 21, True), (0, 21, False), (-21, 21, False)],
)
def test_interval_respected(interval: int, minimum: int, expected: bool) -> None:
    assert interval_respected(interval, minimum) is expected
