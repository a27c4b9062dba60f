"""Weight and dose unit conversions: exact, and loud about units they do not know."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from medpolicy.definitions.units import LB_TO_KG, dose_in_mg, exact_product, weight_in_kg

D = Decimal


def test_pound_is_exact_by_definition() -> None:
    assert D("0.45359237") == LB_TO_KG
    assert str(LB_TO_KG) == "0.45359237"


@pytest.mark.parametrize(
    ("value", "unit", "kg"),
    [
        ("70", "kg", "70"),
        ("70.25", "kg", "70.25"),
        ("1", "lb", "0.45359237"),
        ("100", "lb", "45.35923700"),
        ("2.2", "lb", "0.997903214"),  # "2.2 lb per kg" is an approximation, not 1 kg
        ("154.3", "lb", "69.989302691"),
        ("220.5", "lb", "100.017117585"),  # just over 100 kg: the cap must use this, not 100
        ("2.20462262185", "lb", "1.0000000000005552845"),  # every digit kept
        ("154.3", "[lb_av]", "69.989302691"),  # UCUM spelling used by FHIR
    ],
)
def test_weight_in_kg(value: str, unit: str, kg: str) -> None:
    assert weight_in_kg(D(value), unit) == D(kg)


@pytest.mark.parametrize("unit", ["stone", "lbs", "KG", "Kg", "g", "", "kg "])
def test_unknown_weight_unit_is_named(unit: str) -> None:
    with pytest.raises(ValueError, match=f"unknown weight unit {unit!r}"):
        weight_in_kg(D("70"), unit)


@pytest.mark.parametrize("value", ["0", "-70", "NaN", "Infinity", "-Infinity"])
def test_impossible_weights_are_refused(value: str) -> None:
    with pytest.raises(ValueError):
        weight_in_kg(D(value), "kg")


def test_float_weight_is_refused() -> None:
    with pytest.raises(TypeError, match="Decimal"):
        weight_in_kg(70.1, "kg")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "unit", "weight", "mg"),
    [
        ("250", "mg", None, "250"),  # a flat dose needs no weight
        ("250", "mg", "70", "250"),
        ("0", "mg", None, "0"),
        ("3.6", "mg/kg", "70", "252.0"),
        ("3.6", "mg/kg", "72.3", "260.28"),
        ("3.6", "mg/kg", "111.2", "400.32"),
        ("3.0", "mg/kg", "88.9", "266.70"),  # 266.70000000000005 in floats
        ("2.4", "mg/kg", "69.989302691", "167.9743264584"),
        ("3.6", "mg/kg", None, None),  # weight unknown: the dose is unknown, not an error
    ],
)
def test_dose_in_mg(value: str, unit: str, weight: str | None, mg: str | None) -> None:
    result = dose_in_mg(D(value), unit, None if weight is None else D(weight))
    assert result == (None if mg is None else D(mg))


@pytest.mark.parametrize("unit", ["mg/m2", "MG", "mcg", "units"])
def test_unknown_dose_unit_is_named(unit: str) -> None:
    with pytest.raises(ValueError, match=f"unknown dose unit {unit!r}"):
        dose_in_mg(D("100"), unit, D("70"))


@pytest.mark.parametrize(
    ("value", "unit", "weight"),
    [("-1", "mg", None), ("NaN", "mg", None), ("3.6", "mg/kg", "0"), ("3.6", "mg/kg", "-5")],
)
def test_impossible_doses_are_refused(value: str, unit: str, weight: str | None) -> None:
    with pytest.raises(ValueError):
        dose_in_mg(D(value), unit, None if weight is None else D(weight))


def test_exact_product_refuses_what_is_not_a_finite_decimal() -> None:
    with pytest.raises(ValueError, match="finite"):
        exact_product(D("3.6"), D("NaN"))
    with pytest.raises(TypeError, match="Decimal"):
        exact_product(3.6, D("70"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("weight", "error"),
    [(D("NaN"), ValueError), (D("Infinity"), ValueError), (70.0, TypeError), (D("-0"), ValueError)],
)
def test_a_per_kg_dose_refuses_an_impossible_weight(
    weight: Decimal, error: type[Exception]
) -> None:
    with pytest.raises(error, match="body weight"):
        dose_in_mg(D("3.6"), "mg/kg", weight)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("3.6", "72.3"),
        ("123456789012345678901234.5678", "0.45359237"),  # 36 digits: beyond the default 28
        ("9" * 40, "9" * 40),
        ("1E-30", "3.6"),
    ],
)
def test_exact_product_never_rounds(a: str, b: str) -> None:
    assert Fraction(exact_product(D(a), D(b))) == Fraction(D(a)) * Fraction(D(b))
