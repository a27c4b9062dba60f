"""Weight-based dose limits and dosing intervals.

Guideline wording these encode: "dose does not exceed <max> mg/kg" (an inclusive cap) and "no more
frequently than every <n> days" (an inclusive minimum interval). The numbers come from the policy.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from medpolicy.definitions.units import exact_product

__all__ = [
    "days_between",
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


def mg_per_kg(dose_mg: Decimal, weight_kg: Decimal) -> Decimal:
    """The dose per kg, to 0.001 mg/kg (half up), FOR DISPLAY ONLY.

    Never compare this against a cap: 3.6004 mg/kg shows as 3.600 yet exceeds 3.6. Use
    ``within_weight_based_limit`` for decisions. Computed in exact integers so the one rounding
    is the displayed one (a 28-digit Decimal quotient would be rounded twice).
    """
    if weight_kg <= 0:
        raise ValueError(f"a body weight must be positive, got {weight_kg} kg")
    if dose_mg < 0:
        raise ValueError(f"a dose cannot be negative, got {dose_mg} mg")
    # floor(d / w * 1000 + 1/2) in integers: d = dn/dd and w = wn/wd exactly.
    dn, dd = dose_mg.as_integer_ratio()
    wn, wd = weight_kg.as_integer_ratio()
    numerator, denominator = dn * wd * 1000, dd * wn
    thousandths = (2 * numerator + denominator) // (2 * denominator)
    return Decimal(thousandths).scaleb(-3)


def days_between(earlier: date, later: date) -> int:
    """Whole days from ``earlier`` to ``later`` (negative when ``later`` is in fact earlier)."""
    return (later - earlier).days


def interval_respected(interval_days: int, min_interval_days: int) -> bool:
    """True when doses are at least ``min_interval_days`` apart ("every 21 days" allows 21)."""
    return interval_days >= min_interval_days
