"""What each kind of leaf means, as small functions shared by both evaluators.

A leaf's semantics is defined here once: the tracing walker (``evaluate``) calls these
functions, and the compiled policy (``compiled``) calls them or, for comparisons, writes the same
tests in place. Tests hold the two to the same result on every node of every request, so the
result every request pays for and the trace a reviewer reads cannot disagree. Results are ranks
(``logic.NOT_MET`` / ``UNKNOWN`` / ``MET``); an absent value is always ``UNKNOWN``, never a
default for met.
"""

from __future__ import annotations

import calendar
import functools
import operator
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from medpolicy.definitions.icd10 import Match, ValueSet, normalized_or_none
from medpolicy.logic import MET, NOT_MET, UNKNOWN
from medpolicy.policy import tree as t

__all__ = [
    "Predicate",
    "accepted_by_text_flags",
    "code_matches",
    "count_rank",
    "diagnosis_rank",
    "is_incomplete_member",
    "predicate",
    "record_rank",
    "record_tests",
    "records_predicate",
    "to_decimal",
    "value_set_rank",
    "within_rank",
    "years_before",
]

# (value, request date) -> rank
Predicate = Callable[[Any, date | None], int]

_NUMERIC: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "at_least": operator.ge,
    "at_most": operator.le,
    "above": operator.gt,
    "below": operator.lt,
}


def to_decimal(value: Any) -> Decimal:
    """A numeric fact or limit as a Decimal (facts are Decimals already; limits may be ints)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


@functools.lru_cache(maxsize=4096)  # conditions are frozen and few: one function per condition
def predicate(cond: t.Condition) -> Predicate:
    """The condition as a function of (value, request date); an absent value is unknown.

    One small function per operator, each testing for absence itself: this runs for every leaf
    of every request."""
    op, want, folded = cond.op, cond.value, cond.folded
    test: Predicate
    if op in ("equals", "in"):

        def test(v: Any, _: date | None) -> int:
            if v is None:
                return UNKNOWN
            return MET if str(v).casefold() in folded else NOT_MET

    elif op == "not_in":

        def test(v: Any, _: date | None) -> int:
            if v is None:
                return UNKNOWN
            return NOT_MET if str(v).casefold() in folded else MET

    elif op == "contains_any":

        def test(v: Any, _: date | None) -> int:
            if v is None:
                return UNKNOWN
            return MET if any(str(x).casefold() in folded for x in v) else NOT_MET

    elif op == "is_empty":

        def test(v: Any, _: date | None) -> int:
            if v is None:
                return UNKNOWN
            return MET if (len(v) == 0) is want else NOT_MET

    elif op == "is":

        def test(v: Any, _: date | None) -> int:
            if v is None:
                return UNKNOWN
            return MET if v is want else NOT_MET

    elif op == "within_years_before_request":
        years = int(str(want))

        def test(v: Any, today: date | None) -> int:
            if v is None or today is None:
                return UNKNOWN
            return MET if years_before(today, years) <= v <= today else NOT_MET

    else:
        compare, limit = _NUMERIC[op], to_decimal(want)

        def test(v: Any, _: date | None) -> int:
            if v is None:
                return UNKNOWN
            return MET if compare(to_decimal(v), limit) else NOT_MET

    unknown_if = frozenset(cond.unknown_if)
    if not unknown_if:
        return test
    return lambda v, today: UNKNOWN if str(v) in unknown_if else test(v, today)


@functools.lru_cache(maxsize=1024)  # conditions are frozen: one tuple of tests per record rule
def record_tests(where: tuple[tuple[str, t.Condition], ...]) -> tuple[tuple[str, Predicate], ...]:
    """Each field's predicate, for a rule on the records of a list fact."""
    return tuple((field, predicate(cond)) for field, cond in where)


def record_rank(
    tests: tuple[tuple[str, Predicate], ...], record: dict[str, Any], today: date | None
) -> int:
    """Whether one record satisfies every condition on its fields (ALL: the lowest rank)."""
    return min((test(record.get(field), today) for field, test in tests), default=MET)


def records_predicate(where: tuple[tuple[str, t.Condition], ...]) -> Predicate:
    """Some record of a list satisfies every condition on its fields (ANY: the highest rank)."""
    tests = record_tests(where)

    def rank(records: Sequence[dict[str, Any]] | None, today: date | None) -> int:
        if records is None:
            return UNKNOWN
        return max((record_rank(tests, r, today) for r in records), default=NOT_MET)

    return rank


def code_matches(vs: ValueSet, codes: Sequence[str]) -> list[Match]:
    return [m for m in map(vs.match, codes) if m is not None]


def accepted_by_text_flags(matches: Sequence[Match]) -> list[str]:
    """What the reviewer is told about codes the guideline's text covers but its ranges omit."""
    return [
        f"{m.code} accepted by the guideline's text, outside its listed ranges: {m.note}"
        for m in matches
        if m.via == "accepted_by_text"
    ]


def is_incomplete_member(code: str, members: frozenset[str]) -> bool:
    """A category code (C50.9) whose complete codes are members: the complete code is needed
    (a member other than the code itself that begins, undotted, with the code undotted)."""
    beginning = _by_beginning(members).get(code.replace(".", ""), ())
    return any(m != code for m in beginning)


@functools.lru_cache(maxsize=256)  # a policy's sets are immutable, and few
def _by_beginning(members: frozenset[str]) -> dict[str, tuple[str, ...]]:
    """Every beginning of the members' undotted codes -> the members that begin with it."""
    found: dict[str, list[str]] = {}
    for m in sorted(members):
        undotted = m.replace(".", "")
        for end in range(len(undotted) + 1):
            found.setdefault(undotted[:end], []).append(m)
    return {beginning: tuple(ms) for beginning, ms in found.items()}


def value_set_rank(vs: ValueSet, codes: Sequence[str] | None) -> int:
    """Met when a code is in the set; unknown when none is reported or one is only a category of
    members; otherwise not met."""
    if not codes:
        return UNKNOWN
    if not vs.members.keys().isdisjoint(map(normalized_or_none, codes)):  # as vs.match does
        return MET
    if any(is_incomplete_member(c, vs.codes) for c in codes):
        return UNKNOWN
    return NOT_MET


def diagnosis_rank(node: t.InValueSet, policy: t.Policy, codes: Sequence[str] | None) -> int:
    """A code-set leaf's rank by its mode (``tree.DiagnosisMode``), reading the codes as the
    policy's ``diagnoses`` says: a code of a site of spread (C79.31) says where a cancer went,
    not which cancer it is; a code that names a condition (a cancer by its primary site) is
    evidence that the condition is that one.

    - supports: met when a code is in the set; unknown when none is reported, one is only a
      category of members, or every code is of a site of spread (the primary is not stated);
      otherwise not met (the codes reported do not support the claim).
    - diagnosed: met when a code is in the set; unknown when one is a category of members;
      not met only when a code names another condition; otherwise unknown (absence of a code is
      not evidence that the member lacks the diagnosis).
    - not_in: not met when a code is in the set or a category of it; met when a code names
      another condition; otherwise unknown (no code says what the condition is).
    """
    vs = policy.value_sets[node.value_set]
    if not codes:
        return UNKNOWN
    normalized = [c for c in map(normalized_or_none, codes) if c is not None]
    in_set = not vs.members.keys().isdisjoint(normalized)
    covered = in_set or any(vs.covers(c) for c in normalized)
    mode = node.mode
    if mode == "not_in":
        if covered:
            return NOT_MET
        return MET if names_a_condition(policy, normalized) else UNKNOWN
    if in_set:
        return MET
    if covered:  # a category of members: the complete code is needed
        return UNKNOWN
    if mode == "diagnosed":
        return NOT_MET if names_a_condition(policy, normalized) else UNKNOWN
    if only_sites_of_spread(policy, vs, normalized):
        return UNKNOWN
    return NOT_MET


def names_a_condition(policy: t.Policy, codes: Sequence[str]) -> bool:
    """Whether one of the (normalized) codes names a condition, by the policy's reading."""
    conditions = policy.diagnoses.names_a_condition
    return conditions is not None and any(conditions.covers(c) for c in codes)


def only_sites_of_spread(policy: t.Policy, vs: ValueSet, codes: Sequence[str]) -> bool:
    """Whether every code only says where a cancer has spread, for a set that is not itself of
    sites of spread (for one that is, another site's code is simply not in it)."""
    spread = policy.diagnoses.site_of_spread
    if spread is None or vs.codes <= spread.codes:
        return False
    return all(spread.covers(c) for c in codes)


def count_range(
    where: tuple[tuple[str, t.Condition], ...],
    records: Sequence[dict[str, Any]],
    today: date | None,
) -> tuple[int, int]:
    """How many records surely meet the conditions, and how many may (the unknown ones too)."""
    tests = record_tests(where)
    ranks = [record_rank(tests, r, today) for r in records]
    return ranks.count(MET), ranks.count(MET) + ranks.count(UNKNOWN)


def count_rank(node: t.Count, records: Sequence[dict[str, Any]] | None, today: date | None) -> int:
    """Met when every count the records could give meets the condition; not met when none
    does; otherwise unknown."""
    if records is None:
        return UNKNOWN
    low, high = count_range(node.where, records, today)
    test = predicate(node.condition)
    seen = {test(n, today) for n in range(low, high + 1)}  # every count the records could give
    return seen.pop() if len(seen) == 1 else UNKNOWN


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    if year > date.max.year:
        return date.max
    return day.replace(year=year, month=month, day=min(day.day, _days_in(year, month)))


def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def within_rank(
    node: t.Within,
    event: date | None,
    records: Sequence[dict[str, Any]] | None,
    today: date | None,
) -> int:
    """Some record meeting the conditions has the event within the window after its date:
    Kleene ANY over the records of (ALL of the conditions, and the event in the window)."""
    if event is None or records is None:
        return UNKNOWN
    tests = record_tests(node.where)
    best = NOT_MET
    for record in records:
        rank = record_rank(tests, record, today)
        if rank == NOT_MET:
            continue
        rank = min(rank, _in_window(node, event, record))
        best = max(best, rank)
        if best == MET:
            break
    return best


def _in_window(node: t.Within, event: date, record: dict[str, Any]) -> int:
    opened: date | None = record.get(node.field)
    if opened is None:
        return UNKNOWN
    since = record.get(node.since) if node.since else opened
    if since is None:  # the window's start is not known: only its end can rule it out
        since = date.min
    closes = add_months(opened, node.months)
    closes = date.max if closes.toordinal() + node.days > date.max.toordinal() else closes
    if node.days:
        closes = date.fromordinal(closes.toordinal() + node.days)
    return MET if since <= event <= closes else NOT_MET
