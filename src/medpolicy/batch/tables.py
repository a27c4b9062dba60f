"""The policy's own tables for the SQL audit: supporting codes, the look-alike family, and the
least-waste vials of each administered amount (computed by ``definitions.billing``)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import pyarrow as pa

from medpolicy.batch import plan as p
from medpolicy.definitions.billing import least_waste_vials

__all__ = ["family", "policy_codes", "vial_plan_text", "vial_plans"]

VIAL_PLANS_SCHEMA = pa.schema(
    [("units", pa.int64()), ("waste_units", pa.int64()), ("vials", pa.string())]
)


def policy_codes(plan: p.AuditPlan) -> pa.Table:
    """The supporting codes in effect on every date (codes new in the code set are compiled
    into the SQL with their first day)."""
    check = next(c for c in plan.checks if isinstance(c, p.SupportingDiagnosis))
    codes = [c.code for c in check.codes if c.valid_from is None]
    return pa.table({"code": pa.array(codes, pa.string())})


def family(plan: p.AuditPlan) -> pa.Table:
    return pa.table(
        {
            "hcpcs": pa.array([f.hcpcs for f in plan.family], pa.string()),
            "drug": pa.array([f.drug for f in plan.family], pa.string()),
            "label": pa.array([f.label for f in plan.family], pa.string()),
        }
    )


def vial_plan_text(vials: Iterable[tuple[int, int]]) -> str:
    """``((160, 2), (100, 1))`` -> ``"2x160+1x100"``."""
    return "+".join(f"{count}x{size}" for size, count in vials)


def vial_plans(check: p.VialWaste, administered: Iterable[int]) -> pa.Table:
    """The least-waste vials and the units discarded for each administered amount (units > 0)."""
    units = sorted({u for u in administered if u > 0})
    rows = [
        least_waste_vials(Decimal(u) * check.mg_per_unit, check.vial_sizes_mg, check.mg_per_unit)
        for u in units
    ]
    return pa.table(
        {
            "units": pa.array(units, pa.int64()),
            "waste_units": pa.array([r.waste_units for r in rows], pa.int64()),
            "vials": pa.array([vial_plan_text(r.vials) for r in rows], pa.string()),
        },
        schema=VIAL_PLANS_SCHEMA,
    )
