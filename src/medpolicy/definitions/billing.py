"""Billing units, single-dose vial choice, and the JW/JZ discarded-drug claim lines.

Rules encoded (CMS Part B discarded-drug policy, as summarised in the project fact sheet §2.1):

- administered amount is rounded UP to whole billing units; discarded amount is rounded DOWN;
- "billed units must align with the smallest dosage available from the manufacturer that can
  appropriately meet the patient's needs while minimizing wastage" → the vial combination with the
  smallest total that covers the dose;
- waste present: one line with the administered units and no modifier, plus one line with the
  discarded units and -JW; no waste: a single line with -JZ. Never JW and JZ together.

HCPCS code, vial sizes and mg per billing unit are parameters from the policy file.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

__all__ = [
    "DISCARDED",
    "NONE_DISCARDED",
    "ClaimLine",
    "VialPlan",
    "billing_units",
    "claim_lines",
    "least_waste_vials",
    "lines_for",
]

DISCARDED: Final = "JW"  # "Drug amount discarded/not administered to any patient"
NONE_DISCARDED: Final = "JZ"  # "Zero drug amount discarded/not administered to any patient"


@dataclass(frozen=True)
class VialPlan:
    vials: tuple[tuple[int, int], ...]  # (size_mg, count), sorted by size descending, count > 0
    total_mg: int
    waste_units: int

    @property
    def vial_count(self) -> int:
        return sum(count for _, count in self.vials)


@dataclass(frozen=True)
class ClaimLine:
    hcpcs: str
    modifier: str | None
    units: int


def billing_units(dose_mg: Decimal, mg_per_unit: Decimal) -> int:
    """Administered billing units: ``ceil(dose_mg / mg_per_unit)``, computed exactly."""
    _require_positive(mg_per_unit, "mg per billing unit")
    if not dose_mg.is_finite() or dose_mg < 0:
        raise ValueError(f"a dose must be a non-negative number, got {dose_mg} mg")
    return _units(dose_mg, mg_per_unit)


def _units(dose_mg: Decimal, mg_per_unit: Decimal) -> int:
    # In integers, not Decimal division: a 28-digit quotient such as 1.000…0003 could round to 1.
    # dose / per_unit = (dn / dd) / (un / ud) = dn·ud / (dd·un); ceil(a / b) = -(-a // b), b > 0.
    dn, dd = dose_mg.as_integer_ratio()
    un, ud = mg_per_unit.as_integer_ratio()
    return -(-(dn * ud) // (dd * un))


def least_waste_vials(
    dose_mg: Decimal, vial_sizes_mg: Sequence[int], mg_per_unit: Decimal
) -> VialPlan:
    """The single-use vials with the smallest total ≥ the dose; ties go to the fewest vials.

    Among equally small, equally few combinations the choice is deterministic (larger vials are
    tried first). Runs in O((dose + largest vial) × number of sizes).
    """
    _require_positive(dose_mg, "dose")
    _require_positive(mg_per_unit, "mg per billing unit")
    return _plan(dose_mg, _valid_sizes(vial_sizes_mg), mg_per_unit, _units(dose_mg, mg_per_unit))


def _plan(
    dose_mg: Decimal, sizes: tuple[int, ...], mg_per_unit: Decimal, administered: int
) -> VialPlan:
    dn, dd = dose_mg.as_integer_ratio()
    counts = _fewest_vials_per_total(-(-dn // dd), sizes)  # whole mg: ceil(dose)
    vials = tuple((size, n) for size, n in zip(sizes, counts, strict=True) if n > 0)
    total = sum(size * n for size, n in vials)
    # Discarded = what the opened vials hold beyond the billed administered units, rounded down,
    # so administered + JW units never exceed the labelled amount of the vials:
    # floor((total - administered × per_unit) / per_unit) = floor(total / per_unit) - administered.
    un, ud = mg_per_unit.as_integer_ratio()
    waste = max(0, total * ud // un - administered)
    return VialPlan(vials=vials, total_mg=total, waste_units=waste)


def claim_lines(
    hcpcs: str, dose_mg: Decimal, vial_sizes_mg: Sequence[int], mg_per_unit: Decimal
) -> tuple[ClaimLine, ...]:
    """The claim lines for one administration from single-dose vials (JW or JZ, never both)."""
    administered = billing_units(dose_mg, mg_per_unit)
    return lines_for(hcpcs, administered, least_waste_vials(dose_mg, vial_sizes_mg, mg_per_unit))


def lines_for(hcpcs: str, administered: int, plan: VialPlan) -> tuple[ClaimLine, ...]:
    """The claim lines for ``administered`` units given from ``plan``'s vials."""
    if plan.waste_units >= 1:
        return (
            ClaimLine(hcpcs, None, administered),
            ClaimLine(hcpcs, DISCARDED, plan.waste_units),
        )
    # Less than one whole unit discarded cannot be billed with JW, so it is reported as zero.
    return (ClaimLine(hcpcs, NONE_DISCARDED, administered),)


@functools.lru_cache(maxsize=4096)  # pure, and the same few doses recur across requests
def _fewest_vials_per_total(need: int, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """Vial counts (aligned with ``sizes``, largest first) reaching the smallest total ≥ ``need``.

    A total of need + largest size or more is never the smallest: dropping any one vial still
    leaves at least ``need``. So a table of exact totals up to that bound is enough.

    That table grows with the dose, so a dose of billions of mg (a hostile claim line, an order
    over every limit) would fill memory. It need not: in a plan smallest in total, then in count,
    a smaller size appears fewer times than the largest size's mg (that many vials of it hold what
    fewer largest vials hold), so the smaller sizes add at most ``spare`` mg, and every plan for a
    larger dose holds ``fixed`` largest vials at least. Those are counted apart, and the table
    covers what is left (under ``spare`` + 2 largest vials).
    """
    largest = sizes[0]
    spare = sum((largest - 1) * size for size in sizes[1:])
    fixed = max(0, (need - spare) // largest - 1)
    if fixed:
        rest = _fewest_vials_per_total(need - fixed * largest, sizes)
        return (rest[0] + fixed, *rest[1:])
    limit = need + sizes[0] - 1
    fewest: list[int | None] = [0] + [None] * limit  # fewest vials summing exactly to t
    last: list[int] = [0] * (limit + 1)  # index of the size added last on that best path
    for total in range(1, limit + 1):
        for i, size in enumerate(sizes):
            prev = fewest[total - size] if total >= size else None
            best = fewest[total]
            if prev is not None and (best is None or prev + 1 < best):
                fewest[total], last[total] = prev + 1, i
    total = next(t for t in range(need, limit + 1) if fewest[t] is not None)
    counts = [0] * len(sizes)
    while total > 0:
        i = last[total]
        counts[i] += 1
        total -= sizes[i]
    return tuple(counts)


def _valid_sizes(vial_sizes_mg: Sequence[int]) -> tuple[int, ...]:
    if not vial_sizes_mg:
        raise ValueError("at least one vial size is needed")
    bad = [s for s in vial_sizes_mg if isinstance(s, bool) or not isinstance(s, int) or s <= 0]
    if bad:
        raise ValueError(f"vial sizes must be positive whole mg, got {bad}")
    return tuple(sorted(set(vial_sizes_mg), reverse=True))


def _require_positive(value: Decimal, what: str) -> None:
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{what} must be a positive number, got {value}")
