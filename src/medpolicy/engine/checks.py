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

from medpolicy.definitions.dose import dose_within_limit, mg_per_kg, within_weight_based_limit
from medpolicy.definitions.units import dose_in_mg
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
        )
    ]
}

CHECK_READS: dict[str, tuple[str, ...]] = {name: c.reads for name, c in CHECKS.items()}
