"""What an approval authorizes: the period, the dose, billing units, vials and claim lines."""

from __future__ import annotations

import calendar
import functools
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from medpolicy.definitions.billing import (
    billing_units,
    claim_lines,
    least_waste_vials,
)
from medpolicy.definitions.dose import mg_per_kg
from medpolicy.definitions.units import dose_in_mg
from medpolicy.engine.decision import Authorization, ClaimLineOut, VialCount
from medpolicy.facts import Facts
from medpolicy.policy import tree as t

__all__ = ["add_months", "authorize"]


def plain(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros: 246.60 -> "246.6", 360 -> "360"."""
    return format(value.normalize(), "f")


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


class _Billing(NamedTuple):
    units: int
    vials: tuple[VialCount, ...]
    waste_units: int
    claim_lines: tuple[ClaimLineOut, ...]


@functools.lru_cache(maxsize=4096)  # pure; the same doses recur across requests
def _billing(
    hcpcs: str, dose_mg: Decimal, vial_sizes_mg: tuple[int, ...], mg_per_unit: Decimal
) -> _Billing:
    plan = least_waste_vials(dose_mg, vial_sizes_mg, mg_per_unit)
    return _Billing(
        billing_units(dose_mg, mg_per_unit),
        tuple(VialCount.assemble(size_mg=s, count=c) for s, c in plan.vials),
        plan.waste_units,
        tuple(
            ClaimLineOut.assemble(hcpcs=ln.hcpcs, modifier=ln.modifier, units=ln.units)
            for ln in claim_lines(hcpcs, dose_mg, vial_sizes_mg, mg_per_unit)
        ),
    )


def authorize(policy: t.Policy, facts: Facts, months: int) -> Authorization:
    """Only called for an approved pathway, whose dose check guarantees a known dose and weight."""
    dose = facts.get("medication.dose")
    weight = facts.get("body_weight.kg")
    interval: int = facts.get("medication.interval_days")
    dose_mg = dose_in_mg(dose["value"], dose["unit"], weight)
    assert dose_mg is not None and weight is not None
    start: date = facts.get("medication.start_date") or facts.get("request.date")
    end = add_months(start, months) - timedelta(days=1)  # the period is inclusive of both ends
    administrations = (end - start).days // interval + 1
    drug = policy.drug
    billing = _billing(drug.hcpcs, dose_mg, drug.vial_sizes_mg, drug.mg_per_unit)
    return Authorization.assemble(
        hcpcs=drug.hcpcs,
        period_start=start,
        period_end=end,
        months=months,
        dose_mg=plain(dose_mg),
        mg_per_kg=str(mg_per_kg(dose_mg, weight)),
        weight_kg=plain(weight),
        interval_days=interval,
        administrations=administrations,
        units_per_administration=billing.units,
        total_units=billing.units * administrations,
        vials_per_administration=list(billing.vials),
        waste_units_per_administration=billing.waste_units,
        claim_lines_per_administration=list(billing.claim_lines),
    )
