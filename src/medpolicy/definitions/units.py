"""Body-weight and dose units, in exact decimal arithmetic.

A guideline that says a dose "does not exceed 3.6 mg/kg" must accept a dose billed exactly at
3.6 × weight. In binary floats that product comes out slightly low for about 6% of weights, which
would deny a correct claim, so every quantity here is a ``Decimal`` and every product is exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import MAX_PREC, Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Final

__all__ = [
    "DOSE_UNITS",
    "LB_TO_KG",
    "WEIGHT_UNITS",
    "dose_in_mg",
    "exact_product",
    "per_kilogram",
    "require_body_weight",
    "require_finite",
    "weight_in_kg",
]

# The international avoirdupois pound: exact by definition (1959 agreement), not a rounding.
LB_TO_KG: Final = Decimal("0.45359237")

# "[lb_av]" is the UCUM spelling that FHIR body-weight Observations use for pounds.
_KG_PER_UNIT: Final[Mapping[str, Decimal]] = {"kg": Decimal(1), "lb": LB_TO_KG, "[lb_av]": LB_TO_KG}
WEIGHT_UNITS: Final = tuple(_KG_PER_UNIT)
# Whether each dose unit is per kilogram of body weight.
_PER_KG: Final[Mapping[str, bool]] = {"mg": False, "mg/kg": True}
DOSE_UNITS: Final = tuple(_PER_KG)


def exact_product(a: Decimal, b: Decimal) -> Decimal:
    """``a * b`` with no rounding at all, whatever the number of digits.

    A product of an n-digit and an m-digit coefficient needs at most n + m digits; the context
    below allows the most the decimal module can hold, so the product is exact. Trapping
    ``Inexact`` turns any future mistake in that reasoning into an error instead of a wrong cap.
    (One shared context, not ``localcontext()``: this is on every request's dose check.)
    """
    # One test for the valid case (on every request's dose check); the slow one says what is wrong.
    if not (isinstance(a, Decimal) and isinstance(b, Decimal) and a.is_finite() and b.is_finite()):
        require_finite(a, "value")
        require_finite(b, "value")
    return _multiply(a, b)


_EXACT: Final = Context(prec=MAX_PREC, traps=[Inexact, InvalidOperation, Overflow])
_multiply: Final = _EXACT.multiply  # bound once: the lookup costs as much as the product
_ZERO: Final = Decimal(0)  # compared with a Decimal, not an int, which each comparison converts


def weight_in_kg(value: Decimal, unit: str) -> Decimal:
    """A body weight in kilograms. ``unit`` is "kg" or "lb" (UCUM "[lb_av]" is also accepted)."""
    factor = _KG_PER_UNIT.get(unit)
    if factor is None:
        raise ValueError(f"unknown weight unit {unit!r}; expected one of {', '.join(WEIGHT_UNITS)}")
    require_finite(value, "body weight")
    if value <= 0:
        raise ValueError(f"a body weight must be positive, got {value} {unit}")
    return value if unit == "kg" else exact_product(value, factor)


def dose_in_mg(value: Decimal, unit: str, weight_kg: Decimal | None) -> Decimal | None:
    """A dose in milligrams, or None when it is per kilogram and the weight is unknown.

    None (not an error) because a missing weight is an *unknown* fact for the evaluator: the
    decision is "information needed", not a failure.
    """
    if not per_kilogram(value, unit):
        return value
    if weight_kg is None:
        return None
    require_body_weight(weight_kg)
    return _multiply(value, weight_kg)


def per_kilogram(value: Decimal, unit: str) -> bool:
    """Whether a dose as ordered is per kilogram ("mg/kg") rather than flat ("mg").

    Refuses, as ``dose_in_mg`` does, an unknown unit, a value that is not a finite Decimal, and a
    negative dose: callers that compare the dose as ordered, without converting it, rely on it.
    """
    per_kg = _PER_KG.get(unit)
    if per_kg is None:
        raise ValueError(f"unknown dose unit {unit!r}; expected one of {', '.join(DOSE_UNITS)}")
    if not (isinstance(value, Decimal) and value.is_finite() and value >= _ZERO):
        require_finite(value, "dose")
        raise ValueError(f"a dose cannot be negative, got {value} {unit}")
    return per_kg


def require_body_weight(weight_kg: Decimal) -> None:
    """Refuses a body weight that is not a finite, positive Decimal (kg)."""
    if not (isinstance(weight_kg, Decimal) and weight_kg.is_finite() and weight_kg > _ZERO):
        require_finite(weight_kg, "body weight")
        raise ValueError(f"a body weight must be positive, got {weight_kg} kg")


def require_finite(value: Decimal, what: str) -> None:
    """Refuses what is not a finite Decimal, naming ``what`` it was meant to be."""
    # NaN compares False with everything, so it would slip through "<=" limits unnoticed.
    if not isinstance(value, Decimal):
        raise TypeError(f"{what} must be a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise ValueError(f"{what} must be a finite number, got {value}")
