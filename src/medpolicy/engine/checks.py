"""Reusable definitions that a policy calls by name (``check: weight_based_dose_limit``).

Each check declares the facts it reads and the parameters it needs, so the policy validator can
refuse a file that names an unknown check or forgets a parameter, and walkers other than the
evaluator (questionnaire, SQL) know what each check depends on. A new drug with a new kind of
limit adds one entry here; no engine code names a drug.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from medpolicy.definitions.billing import billing_units, least_waste_vials
from medpolicy.definitions.dose import dose_within_limit, mg_per_kg, within_weight_based_limit
from medpolicy.definitions.units import dose_in_mg, exact_product
from medpolicy.facts import FACTS, Facts
from medpolicy.logic import Truth, all_of

__all__ = ["CHECKS", "CHECK_READS", "CheckDefinition", "CheckResult"]


class CheckResult(NamedTuple):
    result: Truth
    used: Mapping[str, Any]
    missing: tuple[str, ...]
    detail: str


Check = Callable[[Facts], CheckResult]

# ``CheckResult((result, used, missing, detail))`` without the named tuple's ``__new__`` (a
# Python function): checks run on every request.
_result = functools.partial(tuple.__new__, CheckResult)


@dataclass(frozen=True)
class CheckDefinition:
    name: str
    reads: tuple[str, ...]
    params: Mapping[str, type]  # required parameter -> its type (Decimal or int)
    # the check with a policy's parameters bound, once: the compiled policy calls it per request
    bind: Callable[[Mapping[str, Any]], Check]
    description: str

    def evaluate(self, facts: Facts, params: Mapping[str, Any]) -> CheckResult:
        return self.bind(params)(facts)


_DOSE, _WEIGHT, _INTERVAL = _DOSE_FACTS = (
    "medication.dose",
    "body_weight.kg",
    "medication.interval_days",
)


def _weight_based_dose_limit(params: Mapping[str, Any]) -> Check:
    limit: Decimal = params["max_mg_per_kg"]
    per_days: int = params["per_days"]
    within = f"within {limit} mg/kg every {per_days} days"

    def check(facts: Facts) -> CheckResult:
        get = facts.values.get
        dose, weight, interval = get(_DOSE), get(_WEIGHT), get(_INTERVAL)
        if dose is not None and dose["unit"] == "mg/m2":  # per m²: in mg by the member's BSA
            return _limit_on_mg(facts, per_days, within, _per_kg_cap(limit))
        # Most requests report all three and meet both limits: settled without a product or a list.
        if (
            dose is not None
            and weight is not None
            and dose_within_limit(dose["value"], dose["unit"], weight, limit)
            and interval is not None
            and interval >= per_days
        ):
            used = {_DOSE: dose, _WEIGHT: weight, _INTERVAL: interval}
            return _result((Truth.met, used, (), within))
        return _not_within(dose, weight, interval, limit, per_days)

    return check


def _not_within(
    dose: Any, weight: Decimal | None, interval: int | None, limit: Decimal, per_days: int
) -> CheckResult:
    """The dose check when a limit is not met or a fact it reads is unknown (never met)."""
    problems: list[str] = []
    dose_ok = Truth.unknown
    if dose is not None and weight is not None:
        dose_mg = dose_in_mg(dose["value"], dose["unit"], weight)
        assert dose_mg is not None  # weight is known
        dose_ok = Truth.of(within_weight_based_limit(dose_mg, weight, limit))
        if dose_ok is Truth.not_met:
            problems.append(
                f"dose {dose_mg} mg is {mg_per_kg(dose_mg, weight)} mg/kg at {weight} kg, "
                f"above {limit} mg/kg"
            )
    interval_ok = Truth.unknown if interval is None else Truth.of(interval >= per_days)
    if interval_ok is Truth.not_met:
        problems.append(f"doses every {interval} days, more often than every {per_days} days")
    result = all_of((dose_ok, interval_ok))
    read = ((_DOSE, dose), (_WEIGHT, weight), (_INTERVAL, interval))
    used = {path: value for path, value in read if value is not None}
    missing = tuple(path for path, value in read if value is None)
    if problems:
        detail = "; ".join(problems)
    else:
        detail = "cannot be checked until reported: " + ", ".join(FACTS[m].label for m in missing)
    return CheckResult(result, used, missing if result is Truth.unknown else (), detail)


_BSA = "body_surface_area.m2"
_ANY_DOSE_FACTS = (_DOSE, _WEIGHT, _BSA, _INTERVAL)

# The largest dose in mg allowed for the facts at hand, and what it is called; None when a fact it
# needs is unknown (that fact named)
Cap = Callable[[Facts], tuple[Decimal | None, str, str | None]]


def _in_mg(dose: Any, facts: Facts) -> tuple[Decimal | None, str | None]:
    """A dose as ordered in mg, or None and the fact it needs (weight or body surface area)."""
    value, unit = dose["value"], dose["unit"]
    if unit == "mg":
        return value, None
    if unit == "mg/kg":
        weight = facts.get(_WEIGHT)
        return (None, _WEIGHT) if weight is None else (dose_in_mg(value, unit, weight), None)
    if unit != "mg/m2":
        raise ValueError(f"unknown dose unit {unit!r}; expected mg, mg/kg or mg/m2")
    bsa = facts.get(_BSA)
    return (None, _BSA) if bsa is None else (exact_product(value, bsa), None)


def _per_kg_cap(limit: Decimal) -> Cap:
    def cap(facts: Facts) -> tuple[Decimal | None, str, str | None]:
        weight = facts.get(_WEIGHT)
        if weight is None:
            return None, "", _WEIGHT
        return exact_product(limit, weight), f"{limit} mg/kg at {weight} kg", None

    return cap


def _limit_on_mg(facts: Facts, per_days: int, within: str, cap: Cap) -> CheckResult:
    """A dose limit compared in mg (whatever unit the order is in), at intervals of per_days."""
    dose, interval = facts.get(_DOSE), facts.get(_INTERVAL)
    used: dict[str, Any] = {}
    missing: list[str] = []
    problems: list[str] = []
    dose_ok = Truth.unknown
    if dose is None:
        missing.append(_DOSE)
    else:
        used[_DOSE] = dose
        dose_mg, needs = _in_mg(dose, facts)
        largest, shown, cap_needs = cap(facts)
        for fact in (needs, cap_needs):
            if fact is not None and fact not in missing:
                missing.append(fact)
        for fact in (_WEIGHT, _BSA):
            if facts.get(fact) is not None:
                used[fact] = facts.get(fact)
        if dose_mg is not None and largest is not None:
            dose_ok = Truth.of(dose_mg <= largest)
            if dose_ok is Truth.not_met:
                problems.append(f"dose {dose_mg} mg is above {largest} mg ({shown})")
    interval_ok = Truth.unknown if interval is None else Truth.of(interval >= per_days)
    if interval is None:
        missing.append(_INTERVAL)
    else:
        used[_INTERVAL] = interval
    if interval_ok is Truth.not_met:
        problems.append(f"doses every {interval} days, more often than every {per_days} days")
    result = all_of((dose_ok, interval_ok))
    if problems:
        detail = "; ".join(problems)
    elif result is Truth.met:
        detail = within
    else:
        detail = "cannot be checked until reported: " + ", ".join(FACTS[m].label for m in missing)
    return CheckResult(result, used, tuple(missing) if result is Truth.unknown else (), detail)


def _flat_dose_limit(params: Mapping[str, Any]) -> Check:
    limit: Decimal = params["max_mg"]
    per_days: int = params["per_days"]

    def cap(_: Facts) -> tuple[Decimal | None, str, str | None]:
        return limit, f"{limit} mg", None

    within = f"within {limit} mg every {per_days} days"
    return lambda facts: _limit_on_mg(facts, per_days, within, cap)


def _bsa_dose_limit(params: Mapping[str, Any]) -> Check:
    limit: Decimal = params["max_mg_per_m2"]
    per_days: int = params["per_days"]

    def cap(facts: Facts) -> tuple[Decimal | None, str, str | None]:
        bsa = facts.get(_BSA)
        if bsa is None:
            return None, "", _BSA
        return exact_product(limit, bsa), f"{limit} mg/m² at {bsa} m²", None

    within = f"within {limit} mg/m² every {per_days} days"
    return lambda facts: _limit_on_mg(facts, per_days, within, cap)


def _quantity_limit(params: Mapping[str, Any]) -> Check:
    """Billing units (and, when given, vials of each size) per ``per_days`` days: the dose in
    billing units times the administrations that fall in the window."""
    max_units: int = params["max_units"]
    per_days: int = params["per_days"]
    mg_per_unit: Decimal = params["mg_per_unit"]
    vial_limits = _vial_limits(str(params.get("max_vials", "")))
    within = f"within {max_units} billing units every {per_days} days"

    def check(facts: Facts) -> CheckResult:
        dose, interval = facts.get(_DOSE), facts.get(_INTERVAL)
        if dose is None or interval is None:
            missing = tuple(f for f, v in ((_DOSE, dose), (_INTERVAL, interval)) if v is None)
            used = {f: v for f, v in ((_DOSE, dose), (_INTERVAL, interval)) if v is not None}
            labels = ", ".join(FACTS[m].label for m in missing)
            return CheckResult(
                Truth.unknown, used, missing, f"cannot be checked until reported: {labels}"
            )
        dose_mg, needs = _in_mg(dose, facts)
        used = {_DOSE: dose, _INTERVAL: interval}
        if dose_mg is None:
            assert needs is not None
            return CheckResult(
                Truth.unknown,
                used,
                (needs,),
                f"cannot be checked until reported: {FACTS[needs].label}",
            )
        per_window = -(-per_days // interval)  # administrations within one window
        units = billing_units(dose_mg, mg_per_unit) * per_window
        problems = (
            [f"{units} billing units every {per_days} days, above {max_units}"]
            if units > max_units
            else []
        )
        if vial_limits:
            plan = least_waste_vials(dose_mg, tuple(vial_limits), mg_per_unit)
            for size, count in plan.vials:
                allowed = vial_limits.get(size, 0)
                used_vials = count * per_window
                if used_vials > allowed:
                    problems.append(
                        f"{used_vials} vials of {size} mg every {per_days} days, above {allowed}"
                    )
        if problems:
            return CheckResult(Truth.not_met, used, (), "; ".join(problems))
        return CheckResult(Truth.met, used, (), within)

    return check


def _vial_limits(text: str) -> dict[int, int]:
    """``"100:1,160:3"``: at most 1 vial of 100 mg and 3 of 160 mg."""
    limits = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        size, _, count = part.partition(":")
        limits[int(size)] = int(count)
    return limits


CHECKS: dict[str, CheckDefinition] = {
    c.name: c
    for c in [
        CheckDefinition(
            name="weight_based_dose_limit",
            reads=_DOSE_FACTS,
            params={"max_mg_per_kg": Decimal, "per_days": int},
            bind=_weight_based_dose_limit,
            description="dose per administration ≤ max_mg_per_kg × body weight, at intervals of "
            "at least per_days days",
        ),
        CheckDefinition(
            name="flat_dose_limit",
            reads=_ANY_DOSE_FACTS,
            params={"max_mg": Decimal, "per_days": int},
            bind=_flat_dose_limit,
            description="dose per administration ≤ max_mg, at intervals of at least per_days days",
        ),
        CheckDefinition(
            name="bsa_dose_limit",
            reads=_ANY_DOSE_FACTS,
            params={"max_mg_per_m2": Decimal, "per_days": int},
            bind=_bsa_dose_limit,
            description="dose per administration ≤ max_mg_per_m2 × body surface area, at "
            "intervals of at least per_days days",
        ),
        CheckDefinition(
            name="quantity_limit",
            reads=_ANY_DOSE_FACTS,
            params={"max_units": int, "per_days": int, "mg_per_unit": Decimal, "max_vials": str},
            bind=_quantity_limit,
            description="billing units (and vials of each size, 'size:count,…') per per_days "
            "days within their limits",
        ),
    ]
}

CHECK_READS: dict[str, tuple[str, ...]] = {name: c.reads for name, c in CHECKS.items()}
