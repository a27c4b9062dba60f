"""Weight-based dose limits and dosing intervals.

Guideline wording these encode: "dose does not exceed <max> mg/kg" (an inclusive cap) and "no more
frequently than every <n> days" (an inclusive minimum interval). The numbers come from the policy.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation
from typing import Final

from medpolicy.definitions.units import (
    dose_in_mg,
    exact_product,
    per_kilogram,
    require_body_weight,
    require_finite,
)

__all__ = [
    "days_between",
    "dose_mg_and_per_kg",
    "dose_within_limit",
    "interval_respected",
    "max_dose_mg",
    "mg_per_kg",
    "within_weight_based_limit",
]


def max_dose_mg(weight_kg: Decimal, max_mg_per_kg: Decimal) -> Decimal:
    """The largest allowed dose: ``max_mg_per_kg × weight_kg``, exactly (no rounding)."""
    return exact_product(weight_kg, max_mg_per_kg)


def within_weight_based_limit(dose_mg: Decimal, weight_kg: Decimal, max_mg_per_kg: Decimal) -> bool:
    """True when the dose "does not exceed" ``max_mg_per_kg`` per kg of body weight.

    Compared as ``dose <= cap × weight`` rather than ``dose / weight <= cap``: a division can
    round, a product of decimals cannot, so a dose exactly at the cap always passes.
    """
    return dose_mg <= max_dose_mg(weight_kg, max_mg_per_kg)


def dose_within_limit(
    value: Decimal, unit: str, weight_kg: Decimal, max_mg_per_kg: Decimal
) -> bool:
    """``within_weight_based_limit`` for a dose as ordered ("mg" or "mg/kg"), refusing what
    ``dose_in_mg`` refuses.

    A dose ordered per kg is compared as ordered: ``value × weight <= cap × weight`` holds exactly
    when ``value <= cap``, for any weight above zero, so neither product is needed.
    """
    if per_kilogram(value, unit):
        require_body_weight(weight_kg)
        if not (isinstance(max_mg_per_kg, Decimal) and max_mg_per_kg.is_finite()):
            require_finite(max_mg_per_kg, "value")
        return value <= max_mg_per_kg
    return value <= exact_product(weight_kg, max_mg_per_kg)


def dose_mg_and_per_kg(value: Decimal, unit: str, weight_kg: Decimal) -> tuple[Decimal, Decimal]:
    """A dose as ordered, in mg and in mg/kg FOR DISPLAY (as ``mg_per_kg`` rounds it).

    A dose ordered per kg is its own mg/kg: the rate is the ordered value to 0.001 (half up),
    without dividing the product back.
    """
    dose_mg = dose_in_mg(value, unit, weight_kg)
    assert dose_mg is not None  # a weight is given
    # Zero (which may be -0) and values of 20 digits or more go mg_per_kg's own way to the digit.
    if unit == "mg/kg" and value > _ZERO and value.adjusted() < 20:
        return dose_mg, value.quantize(_THOUSANDTH, None, _SHOWN)
    return dose_mg, mg_per_kg(dose_mg, weight_kg)


_ZERO: Final = Decimal(0)
_THOUSANDTH: Final = Decimal("0.001")
# mg_per_kg's quotient, cut to 60 digits, and the one rounding to the thousandth: enough digits
# for any value either function rounds (a per-kg dose under 10^20, a quotient under 10^50), so
# the displayed rounding is the only one; anything else is an error, not a silent second one.
_CUT: Final = Context(prec=60, rounding=ROUND_DOWN, traps=[InvalidOperation, DivisionByZero])
_SHOWN: Final = Context(prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation])


def mg_per_kg(dose_mg: Decimal, weight_kg: Decimal) -> Decimal:
    """The dose per kg, to 0.001 mg/kg (half up), FOR DISPLAY ONLY.

    Never compare this against a cap: 3.6004 mg/kg shows as 3.600 yet exceeds 3.6. Use
    ``within_weight_based_limit`` for decisions. The one rounding is the displayed one: the
    quotient is cut (never rounded) to 60 digits, then rounded half up to the thousandth. A
    half-thousandth has four decimals, which the cut keeps for any quotient below 10^50, so the
    cut cannot carry a value across one (larger quotients are divided in exact integers).
    """
    if weight_kg <= 0:
        raise ValueError(f"a body weight must be positive, got {weight_kg} kg")
    if dose_mg < 0:
        raise ValueError(f"a dose cannot be negative, got {dose_mg} mg")
    quotient = _CUT.divide(dose_mg, weight_kg)
    if quotient.adjusted() < 50:
        return quotient.quantize(_THOUSANDTH, None, _SHOWN)
    # floor(d / w * 1000 + 1/2) in integers: d = dn/dd and w = wn/wd exactly.
    dn, dd = dose_mg.as_integer_ratio()
    wn, wd = weight_kg.as_integer_ratio()
    numerator, denominator = dn * wd * 1000, dd * wn
    thousandths = (2 * numerator + denominator) // (2 * denominator)
    return Decimal(f"{thousandths}E-3")  # exact: a string is read digit for digit


def days_between(earlier: date, later: date) -> int:
    """Whole days from ``earlier`` to ``later`` (negative when ``later`` is in fact earlier)."""
    return (later - earlier).days


def interval_respected(interval_days: int, min_interval_days: int) -> bool:
    """True when doses are at least ``min_interval_days`` apart ("every 21 days" allows 21)."""
    return interval_days >= min_interval_days
