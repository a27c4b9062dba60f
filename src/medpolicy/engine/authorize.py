"""What an approval authorizes: the period, the dose, billing units, vials and claim lines."""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from medpolicy.definitions.billing import billing_units, least_waste_vials, lines_for
from medpolicy.definitions.dose import dose_mg_and_per_kg, mg_per_kg
from medpolicy.definitions.units import exact_product
from medpolicy.engine.decision import Authorization, ClaimLineOut, VialCount
from medpolicy.errors import FieldError, RequestError
from medpolicy.facts import Facts
from medpolicy.policy import tree as t

__all__ = ["add_months", "authorization_fields", "authorize"]


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 246.60 -> "246.6", 360 -> "360"."""
    text = str(value)
    # Most doses and weights are written by str() without an exponent, and with too few digits
    # for normalize() to round them to the context's precision: then only the zeros go.
    if len(text) > 28 or "E" in text or "e" in text or not value.is_finite():
        return format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def add_months(start: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = start.day
    if day > 28:  # every month has days 1 to 28: only a later day can fall past a month's end
        day = min(day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


_ONE_DAY = timedelta(days=1)


class _Billing(NamedTuple):
    units: int
    vials: tuple[VialCount, ...]
    waste_units: int
    claim_lines: tuple[ClaimLineOut, ...]


@functools.lru_cache(maxsize=4096)  # pure; the same doses recur across requests
def _billing(
    hcpcs: str, dose_text: str, vial_sizes_mg: tuple[int, ...], mg_per_unit: Decimal
) -> _Billing:
    # Keyed on the dose's exact text: hashing a Decimal just computed costs more than the lookup.
    dose_mg = Decimal(dose_text)
    units = billing_units(dose_mg, mg_per_unit)
    plan = least_waste_vials(dose_mg, vial_sizes_mg, mg_per_unit)
    return _Billing(
        units,
        tuple(VialCount.assemble(size_mg=s, count=c) for s, c in plan.vials),
        plan.waste_units,
        tuple(
            ClaimLineOut.assemble(hcpcs=ln.hcpcs, modifier=ln.modifier, units=ln.units)
            for ln in lines_for(hcpcs, units, plan)
        ),
    )


def authorize(
    policy: t.Policy, facts: Facts, months: int, weeks: int = 0, cycles: int | None = None
) -> Authorization:
    """What an approval under a pathway (its length in months, or weeks, and its course cap)
    authorizes."""
    return Authorization.assemble_from(authorization_fields(policy, facts, months, weeks, cycles))


def authorization_fields(
    policy: t.Policy,
    facts: Facts,
    months: int,
    weeks: int = 0,
    cycles: int | None = None,
    start_field: str = "medication.start_date",
) -> dict[str, Any]:
    """``authorize``'s record as a dict of its fields, in their order (what the record holds).

    The dose in mg is the dose as ordered (mg; mg/kg times the weight; mg/m² times the body
    surface area); what cannot be computed for want of a fact no criterion required (the weight
    of a flat-dose policy's per-kg order) is left out (None), never guessed. A period that would
    end past the calendar's last day is a ``RequestError`` naming its start (``start_field``, as
    the sender wrote it, or ``submitted_at`` when the period starts on the request's date)."""
    get: Callable[[str], Any] = facts.values.get  # None when absent
    dose, weight = get("medication.dose"), get("body_weight.kg")
    interval: int | None = get("medication.interval_days")
    dose_mg, per_kg = _dose_mg(dose, weight, get("body_surface_area.m2"))
    start_date: date | None = get("medication.start_date")
    start: date = start_date or get("request.date")
    try:
        ends = add_months(start, months) if months else start + timedelta(weeks=weeks)
    except (ValueError, OverflowError):
        length = f"{months}-month" if months else f"{weeks}-week"
        problem = (
            f"{start.isoformat()}: a {length} authorization period from this date would end "
            f"after {date.max.isoformat()}, the last date there is"
        )
        field = start_field if start_date else "submitted_at"
        raise RequestError([FieldError(field, problem)]) from None
    end = ends - _ONE_DAY  # the period is inclusive of both ends
    administrations = None if interval is None else (end - start).days // interval + 1
    if administrations is not None and cycles is not None:
        administrations = min(administrations, cycles)
    drug = policy.drug
    billing = (
        None
        if dose_mg is None
        else _billing(drug.hcpcs, str(dose_mg), drug.vial_sizes_mg, drug.mg_per_unit)
    )
    units = None if billing is None else billing.units
    return {
        "hcpcs": drug.hcpcs,
        "period_start": start,
        "period_end": end,
        "months": months,
        "dose_mg": None if dose_mg is None else plain(dose_mg),
        "mg_per_kg": None if per_kg is None else str(per_kg),
        "weight_kg": None if weight is None else plain(weight),
        "interval_days": interval,
        "administrations": administrations,
        "units_per_administration": units,
        "total_units": None
        if units is None or administrations is None
        else units * administrations,
        "vials_per_administration": None if billing is None else list(billing.vials),
        "waste_units_per_administration": None if billing is None else billing.waste_units,
        "claim_lines_per_administration": None if billing is None else list(billing.claim_lines),
    }


def _dose_mg(
    dose: Any, weight: Decimal | None, bsa: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """The dose in mg and per kg (for display), each None when it cannot be computed."""
    if dose is None:
        return None, None
    if weight is not None and dose["unit"] != "mg/m2":
        return dose_mg_and_per_kg(dose["value"], dose["unit"], weight)
    if dose["unit"] == "mg":
        return dose["value"], None
    if dose["unit"] == "mg/m2" and bsa is not None:
        dose_mg = exact_product(dose["value"], bsa)
        return dose_mg, None if weight is None else mg_per_kg(dose_mg, weight)
    return None, None
