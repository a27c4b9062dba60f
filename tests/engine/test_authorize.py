"""What an approval authorizes, held equal to the plain arithmetic it was first written as.

``authorize`` and the dose check take shortcuts (no monthrange for most days, a per-kg dose
compared and shown as ordered, str() for most displayed decimals); each test here states the
straightforward computation and compares the two over the boundaries the shortcuts skip: month
ends and leap years, pounds, flat and per-kg doses, doses exactly at the cap, zero and huge values.
"""

from __future__ import annotations

import calendar
import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medpolicy.definitions.dose import mg_per_kg, within_weight_based_limit
from medpolicy.definitions.units import dose_in_mg, weight_in_kg
from medpolicy.engine.authorize import add_months, authorize, plain
from medpolicy.engine.checks import CHECKS, CheckResult
from medpolicy.facts import FACTS, Facts
from medpolicy.logic import Truth, all_of
from medpolicy.policy.load import load_policy
from tests.support import KADCYLA

D = Decimal
CHECK = CHECKS["weight_based_dose_limit"].evaluate
PARAMS = {"max_mg_per_kg": D("3.6"), "per_days": 21}
POLICY = load_policy(KADCYLA)
KG = D("68.5")


def reference_add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def reference_plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def reference_check(facts: Facts, params: dict[str, Any]) -> CheckResult:
    """The weight-based dose check as first written: every fact through dose_in_mg."""
    limit, per_days = params["max_mg_per_kg"], params["per_days"]
    read = tuple((p, facts.get(p)) for p in ("medication.dose", "body_weight.kg"))
    (_, dose), (_, weight) = read
    interval = facts.get("medication.interval_days")
    read += (("medication.interval_days", interval),)
    problems: list[str] = []
    dose_ok = Truth.unknown
    if dose is not None and weight is not None:
        dose_mg = dose_in_mg(dose["value"], dose["unit"], weight)
        assert dose_mg is not None
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
    used = {path: value for path, value in read if value is not None}
    if result is Truth.met:
        return CheckResult(result, used, (), f"within {limit} mg/kg every {per_days} days")
    missing = tuple(path for path, value in read if value is None)
    if problems:
        detail = "; ".join(problems)
    else:
        detail = "cannot be checked until reported: " + ", ".join(FACTS[m].label for m in missing)
    return CheckResult(result, used, missing if result is Truth.unknown else (), detail)


def reference_authorization(facts: Facts, months: int) -> dict[str, Any]:
    """The fields authorize() computes itself, each the plain way (billing is billing.py's)."""
    dose, weight = facts.get("medication.dose"), facts.get("body_weight.kg")
    dose_mg = dose_in_mg(dose["value"], dose["unit"], weight)
    assert dose_mg is not None
    start = facts.get("medication.start_date") or facts.get("request.date")
    end = reference_add_months(start, months) - timedelta(days=1)
    return {
        "period_start": start,
        "period_end": end,
        "dose_mg": reference_plain(dose_mg),
        "mg_per_kg": str(mg_per_kg(dose_mg, weight)),
        "weight_kg": reference_plain(weight),
        "administrations": (end - start).days // facts.get("medication.interval_days") + 1,
    }


def _facts(
    value: str | None = "3.6",
    unit: str = "mg/kg",
    weight: Decimal | None = KG,
    interval: int | None = 21,
    start: date | None = date(2026, 11, 9),
) -> Facts:
    found: dict[str, Any] = {
        "request.date": date(2026, 11, 2),
        "medication.dose": None if value is None else {"value": D(value), "unit": unit},
        "body_weight.kg": weight,
        "medication.interval_days": interval,
        "medication.start_date": start,
    }
    return Facts({k: v for k, v in found.items() if v is not None})


# -- the period ---------------------------------------------------------------------------------

# Every day of a leap year and of the years around it, and of a century that is not leap (2100).
STARTS = [date(2023, 1, 1) + timedelta(days=n) for n in range(3 * 366)] + [
    date(2100, 1, 1) + timedelta(days=n) for n in range(365)
]


@pytest.mark.parametrize("months", [0, 1, 2, 3, 6, 11, 12, 13, 24])
def test_add_months_agrees_with_the_calendar_on_every_day(months: int) -> None:
    wrong = [s for s in STARTS if add_months(s, months) != reference_add_months(s, months)]
    assert wrong == []


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # no 31 February: its last day
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # a leap February
        (date(2099, 8, 31), 6, date(2100, 2, 28)),  # 2100 is not a leap year
        (date(2026, 1, 29), 1, date(2026, 2, 28)),
        (date(2026, 1, 28), 1, date(2026, 2, 28)),  # day 28 exists in every month
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),  # across a year end
    ],
)
def test_add_months_at_month_ends(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


def test_add_months_beyond_the_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match="year 10000 is out of range"):
        add_months(date(9999, 12, 1), 1)


# -- displayed decimals -------------------------------------------------------------------------

PLAIN = [
    "246.60", "68.5", "360", "360.00", "0", "-0", "0.00", "-0.0", "100.0", "0.5", "1E+2",
    "3.6E+3", "1.000E-5", "0.000001", "0.0000001", "1E-7", "12345678.1234", "70.2500000",
    "31.0713573450", "1" * 28, "1" * 29, "1." + "0" * 27, "1." + "1" * 27, "2." + "5" * 30,
    "NaN", "Infinity", "-Infinity",
]  # fmt: skip


@pytest.mark.parametrize("text", PLAIN)
def test_plain_is_normalize_written_without_exponent(text: str) -> None:
    assert plain(D(text)) == reference_plain(D(text))


@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_plain_agrees_on_any_finite_decimal(value: Decimal) -> None:
    assert plain(value) == reference_plain(value)


# -- the dose check -----------------------------------------------------------------------------

POUNDS = [weight_in_kg(D(lb), "lb") for lb in ("99.2", "154.3", "220.5", "2.20462262185")]
WEIGHTS = [D("68.5"), D("70"), D("72.3"), D("111.2"), D("0.0001"), *POUNDS]
PER_KG = ["3.6", "3.5999", "3.6001", "3.60", "0", "2.4", "100"]


@pytest.mark.parametrize("weight", WEIGHTS)
def test_dose_check_agrees_for_every_dose_and_interval(weight: Decimal) -> None:
    flat = [str(p * weight) for p in map(D, PER_KG)]  # mg doses exactly at, under and over the cap
    flat += [str(D(3.6) * weight), str(D("3.6") * weight + D("1E-20")), "246.6", "0"]
    doses = [(v, "mg/kg") for v in PER_KG] + [(v, "mg") for v in flat]
    for (value, unit), interval in itertools.product(doses, [None, 20, 21, 22]):
        facts = _facts(value, unit, weight, interval)
        assert CHECK(facts, PARAMS) == reference_check(facts, PARAMS), (value, unit, interval)


def test_a_dose_exactly_at_the_cap_is_within_it_in_pounds() -> None:
    for kg in POUNDS:
        at_cap = D("3.6") * kg  # exact: the default context has room for these digits
        assert CHECK(_facts(str(at_cap), "mg", kg), PARAMS).result is Truth.met
        assert CHECK(_facts(str(at_cap + D("1E-20")), "mg", kg), PARAMS).result is Truth.not_met


@pytest.mark.parametrize(
    "missing",
    [{"value": None}, {"weight": None}, {"interval": None}, {"value": None, "weight": None}],
)
def test_dose_check_agrees_when_facts_are_unknown(missing: dict[str, Any]) -> None:
    for unit in ("mg", "mg/kg"):
        facts = _facts(unit=unit, **missing)
        assert CHECK(facts, PARAMS) == reference_check(facts, PARAMS)


@pytest.mark.parametrize(
    ("value", "unit", "weight", "limit", "error"),
    [
        ("NaN", "mg/kg", D("70"), D("3.6"), ValueError),
        ("-1", "mg/kg", D("70"), D("3.6"), ValueError),
        ("3.6", "mg/dL", D("70"), D("3.6"), ValueError),
        ("3.6", "mg/kg", D("NaN"), D("3.6"), ValueError),
        ("3.6", "mg/kg", D("-70"), D("3.6"), ValueError),
        ("3.6", "mg/kg", D("0"), D("3.6"), ValueError),
        ("3.6", "mg/kg", 70.0, D("3.6"), TypeError),
        ("3.6", "mg/kg", D("70"), D("NaN"), ValueError),  # a policy's limit that is no number
        ("3.6", "mg/kg", D("70"), D("Infinity"), ValueError),
        ("252", "mg", D("Infinity"), D("3.6"), ValueError),
        ("252", "mg", D("70"), D("NaN"), ValueError),
    ],
)
def test_dose_check_refuses_what_is_no_dose_weight_or_limit(
    value: str, unit: str, weight: Any, limit: Decimal, error: type[Exception]
) -> None:
    params = {**PARAMS, "max_mg_per_kg": limit}
    with pytest.raises(error):
        CHECK(_facts(value, unit, weight), params)


# -- the authorization --------------------------------------------------------------------------


@pytest.mark.parametrize("weight", WEIGHTS[:4] + POUNDS)
@pytest.mark.parametrize("dose", [("3.6", "mg/kg"), ("2.4", "mg/kg"), ("3.6005", "mg/kg"),
                                  ("246.6", "mg"), ("252", "mg"), ("100", "mg")])  # fmt: skip
@pytest.mark.parametrize("start", [date(2026, 11, 9), date(2027, 8, 31), date(2026, 1, 31), None])
def test_authorization_agrees_with_the_plain_arithmetic(
    weight: Decimal, dose: tuple[str, str], start: date | None
) -> None:
    facts = _facts(*dose, weight=weight, start=start)
    got = authorize(POLICY, facts, 6)
    assert {k: getattr(got, k) for k in reference_authorization(facts, 6)} == (
        reference_authorization(facts, 6)
    )


def test_a_per_kg_dose_is_shown_as_mg_per_kg_would_round_it() -> None:
    # 0.0005 rounds half up; 3.6004999 shows as 3.600 (display only: it is over a 3.6 cap).
    for value, shown in [("0.0005", "0.001"), ("0.0004999", "0.000"), ("3.6004999", "3.600"),
                         ("3.6005", "3.601"), ("12345678.1234", "12345678.123")]:  # fmt: skip
        assert authorize(POLICY, _facts(value, weight=D("0.0001")), 6).mg_per_kg == shown, value


def test_the_example_authorization() -> None:
    got = authorize(POLICY, _facts(), 6)
    assert (got.period_start, got.period_end) == (date(2026, 11, 9), date(2027, 5, 8))
    assert (got.dose_mg, got.mg_per_kg, got.weight_kg) == ("246.6", "3.600", "68.5")
    assert (got.administrations, got.units_per_administration, got.total_units) == (9, 247, 2223)
