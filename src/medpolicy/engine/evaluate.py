"""The evaluator: one walker over the policy tree, producing a trace node for every node it visits.

Each trace node carries the result, the facts it read with their values, the facts it lacked, and
(through ``detail``) a one-line explanation in plain words; the node itself carries the clause.
"Why not approved" and "what is missing" are filters over this trace
(``medpolicy.engine.explain``), never separate logic.

The walker dispatches on node type through a table, and defers wording the explanation of a
comparison until someone reads it: evaluation is on every request's hot path, explanations are
read once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from medpolicy.definitions.icd10 import ValueSet, normalized_or_none
from medpolicy.engine.checks import CHECKS, CheckResult
from medpolicy.engine.leaves import (
    accepted_by_text_flags,
    code_matches,
    count_range,
    count_rank,
    diagnosis_rank,
    is_incomplete_member,
    predicate,
    record_rank,
    record_tests,
    records_predicate,
    within_rank,
)
from medpolicy.facts import FACTS, Facts
from medpolicy.logic import BY_RANK, MET, NOT_MET, UNKNOWN, Truth, all_of, any_of, not_
from medpolicy.policy import tree as t

__all__ = [
    "JUDGMENT",
    "NOT_REPORTED",
    "Context",
    "Trace",
    "check_trace",
    "compare_trace",
    "compare_wording",
    "count_trace",
    "describe",
    "detail",
    "evaluate",
    "exists_trace",
    "judgment_trace",
    "show",
    "value_set_trace",
    "within_trace",
]


@dataclass(frozen=True)
class Context:
    facts: Facts
    policy: t.Policy


_NOTHING: Mapping[str, Any] = MappingProxyType({})


class Trace(NamedTuple):
    node: t.Node
    result: Truth
    used: Mapping[str, Any] = _NOTHING
    missing: tuple[str, ...] = ()
    note: str = ""  # the explanation, when it is not derived from the node and the fact read
    flags: tuple[str, ...] = ()
    children: tuple[Trace, ...] = ()


# ``Trace((node, result, used, missing, note, flags, children))``, every field given, without the
# named tuple's ``__new__`` (a Python function): leaves explained from the compiled results are
# made on every decision that is not an approval.
_trace = functools.partial(tuple.__new__, Trace)


def evaluate(node: t.Node, ctx: Context) -> Trace:
    return _EVALUATORS[type(node)](node, ctx)


def detail(trace: Trace) -> str:
    """The trace node's explanation in plain words (worded on demand)."""
    node = trace.node
    if trace.note or not isinstance(node, t.Compare):
        return trace.note
    reported, required = compare_wording(node)
    return reported + show(trace.used[node.fact]) + required


@functools.lru_cache(maxsize=4096)  # nodes are frozen: their wording never changes
def compare_wording(node: t.Compare) -> tuple[str, str]:
    """What a comparison's explanation says before and after the value it read."""
    return f"reported {FACTS[node.fact].name}: ", f"; required: {describe(node.condition)}"


_TODAY = "request.date"

NOT_REPORTED = "not reported"  # the explanation of a fact that is absent and not in conflict


def _all(node: t.AllOf, ctx: Context) -> Trace:
    children = tuple(evaluate(c, ctx) for c in node.children)
    return Trace(node, all_of(c.result for c in children), children=children)


def _any(node: t.AnyOf, ctx: Context) -> Trace:
    children = tuple(evaluate(c, ctx) for c in node.children)
    return Trace(node, any_of(c.result for c in children), children=children)


def _not(node: t.Not, ctx: Context) -> Trace:
    child = evaluate(node.child, ctx)
    return Trace(node, not_(child.result), children=(child,))


def _compare(node: t.Compare, ctx: Context) -> Trace:
    value = ctx.facts.get(node.fact)
    if value is None:
        return _absent(node, node.fact, ctx)
    return compare_trace(node, predicate(node.condition)(value, ctx.facts.get(_TODAY)), ctx)


def compare_trace(node: t.Compare, rank: int, ctx: Context) -> Trace:
    """A comparison's trace from its rank (``leaves.predicate``): the value it read."""
    value = ctx.facts.values.get(node.fact)
    if value is None:
        return _absent(node, node.fact, ctx)
    missing = (node.fact,) if rank == UNKNOWN else ()
    return _trace((node, BY_RANK[rank], {node.fact: value}, missing, "", (), ()))


def _in_value_set(node: t.InValueSet, ctx: Context) -> Trace:
    return value_set_trace(node, diagnosis_rank(node, ctx.policy, ctx.facts.get(node.fact)), ctx)


def value_set_trace(node: t.InValueSet, rank: int, ctx: Context) -> Trace:
    """A code-set leaf's trace from its rank (``leaves.diagnosis_rank``): what explains it."""
    codes: list[str] | None = ctx.facts.get(node.fact)
    if not codes:
        return _absent(node, node.fact, ctx)
    vs = ctx.policy.value_sets[node.value_set]
    used = {node.fact: codes}
    missing = (node.fact,) if rank == UNKNOWN else ()
    if node.mode == "not_in":
        note = _not_in_note(vs, codes, rank, ctx.policy)
        return Trace(node, BY_RANK[rank], used, missing, note)
    if rank == MET:
        matches = code_matches(vs, codes)
        flags = tuple(accepted_by_text_flags(matches))
        shown = ", ".join(f"{m.code} ({m.entry})" for m in matches)
        what = "supporting code" if node.mode == "supports" else "diagnosis code"
        return Trace(node, Truth.met, used, note=f"{what}: {shown}", flags=flags)
    incomplete = [c for c in codes if is_incomplete_member(c, vs.codes)]
    if rank == UNKNOWN and incomplete:
        note = (
            f"{', '.join(incomplete)} is a category, not a billable code; the complete "
            "ICD-10-CM code is needed"
        )
    elif rank == UNKNOWN and node.mode == "supports":
        note = (
            f"{', '.join(codes)} only says where the cancer has spread, not which cancer it is; "
            "the code of the cancer being treated is needed"
        )
    elif rank == UNKNOWN:
        note = f"no code of this condition was reported (reported: {', '.join(codes)})"
    elif node.mode == "diagnosed":
        note = f"the codes reported name another condition: {', '.join(codes)}"
    else:
        note = f"none of {', '.join(codes)} is a supporting code for this indication"
    return Trace(node, BY_RANK[rank], used, missing, note)


def _not_in_note(vs: ValueSet, codes: list[str], rank: int, policy: t.Policy) -> str:
    if rank == NOT_MET:
        listed = [c for c in codes if vs.covers(normalized_or_none(c) or "")]
        return f"{', '.join(listed)} is a code of a condition listed above"
    if rank == MET:
        return f"{', '.join(codes)} names a condition not listed above"
    return (
        f"no code reported names the condition being treated (reported: {', '.join(codes)}); "
        "its ICD-10-CM code is needed"
    )


def _exists(node: t.Exists, ctx: Context) -> Trace:
    rank = records_predicate(node.where)(ctx.facts.get(node.fact), ctx.facts.get(_TODAY))
    return exists_trace(node, rank, ctx)


def exists_trace(node: t.Exists, rank: int, ctx: Context) -> Trace:
    """A records leaf's trace from its rank (``leaves.records_predicate``): what explains it."""
    records: list[dict[str, Any]] | None = ctx.facts.get(node.fact)
    if records is None:
        return _absent(node, node.fact, ctx)
    wanted = _wanted(node)
    if rank == MET:
        tests, today = record_tests(node.where), ctx.facts.get(_TODAY)
        hit = next(r for r in records if record_rank(tests, r, today) == MET)
        note = f"found: {_show_record(hit)} (wanted {wanted})"
    elif rank == UNKNOWN:
        note = f"a reported record lacks what is needed to tell whether {wanted}"
    else:
        note = f"no reported record has {wanted}" if records else "none reported"
    missing = (node.fact,) if rank == UNKNOWN else ()
    return Trace(node, BY_RANK[rank], {node.fact: records}, missing, note)


@functools.lru_cache(maxsize=1024)  # nodes are frozen: their wording never changes
def _wanted(node: t.Exists) -> str:
    return ", ".join(f"{f} {describe(c)}" for f, c in node.where)


def _check(node: t.Check, ctx: Context) -> Trace:
    return check_trace(node, CHECKS[node.definition].evaluate(ctx.facts, node.params), ctx.facts)


def check_trace(node: t.Check, out: CheckResult, facts: Facts) -> Trace:
    """A check's trace from its outcome; a fact it lacks for a conflict names the conflict."""
    conflicts = tuple(facts.conflicts[m] for m in out.missing if m in facts.conflicts)
    return Trace(node, out.result, dict(out.used), out.missing, "; ".join((out.detail, *conflicts)))


def _count(node: t.Count, ctx: Context) -> Trace:
    rank = count_rank(node, ctx.facts.get(node.fact), ctx.facts.get(_TODAY))
    return count_trace(node, rank, ctx)


def count_trace(node: t.Count, rank: int, ctx: Context) -> Trace:
    """A count's trace from its rank (``leaves.count_rank``): what explains it."""
    records: list[dict[str, Any]] | None = ctx.facts.get(node.fact)
    if records is None:
        return _absent(node, node.fact, ctx)
    low, high = count_range(node.where, records, ctx.facts.get(_TODAY))
    counted = f"{low}" if low == high else f"{low} to {high} (some records lack what is needed)"
    note = f"records with {_wanted_of(node.where)}: {counted}; required: {describe(node.condition)}"
    missing = (node.fact,) if rank == UNKNOWN else ()
    return Trace(node, BY_RANK[rank], {node.fact: records}, missing, note)


def _within(node: t.Within, ctx: Context) -> Trace:
    get = ctx.facts.get
    return within_trace(
        node, within_rank(node, get(node.fact), get(node.records), get(_TODAY)), ctx
    )


def within_trace(node: t.Within, rank: int, ctx: Context) -> Trace:
    """A time window's trace from its rank (``leaves.within_rank``): what explains it."""
    get = ctx.facts.get
    event, records = get(node.fact), get(node.records)
    if event is None:
        return _absent(node, node.fact, ctx)
    if records is None:
        return _absent(node, node.records, ctx)
    span = " and ".join(
        p
        for p in (
            f"{node.months} months" if node.months else "",
            f"{node.days} days" if node.days else "",
        )
        if p
    )
    wanted = (
        f"{FACTS[node.fact].name} {show(event)} within {span} after the {node.field} of a record "
        f"with {_wanted_of(node.where)}"
    )
    note = {MET: f"found: {wanted}", NOT_MET: f"not found: {wanted}"}.get(
        rank, f"cannot tell whether {wanted}: a record lacks its dates or what is needed"
    )
    used = {node.fact: event, node.records: records}
    missing = (node.records,) if rank == UNKNOWN else ()
    return Trace(node, BY_RANK[rank], used, missing, note)


def _judgment(node: t.Judgment, ctx: Context) -> Trace:
    return judgment_trace(node, UNKNOWN, ctx)


def judgment_trace(node: t.Judgment, rank: int, ctx: Context) -> Trace:
    """A judgment is never computed: it is for a clinical reviewer, who is asked its question."""
    return Trace(
        node, Truth.unknown, missing=(JUDGMENT,), note=f"for a clinical reviewer: {node.question}"
    )


# What a judgment "lacks": not a fact a provider sends, but a clinical reviewer's judgment.
JUDGMENT = "reviewer.judgment"


def _wanted_of(where: tuple[tuple[str, t.Condition], ...]) -> str:
    return ", ".join(f"{f} {describe(c)}" for f, c in where) or "any fields"


_EVALUATORS: dict[type[t.Node], Callable[[Any, Context], Trace]] = {
    t.AllOf: _all,
    t.AnyOf: _any,
    t.Not: _not,
    t.Compare: _compare,
    t.InValueSet: _in_value_set,
    t.Exists: _exists,
    t.Check: _check,
    t.Count: _count,
    t.Within: _within,
    t.Judgment: _judgment,
}


def _absent(node: t.Node, fact: str, ctx: Context) -> Trace:
    note = ctx.facts.conflicts.get(fact) or NOT_REPORTED
    return _trace((node, Truth.unknown, _NOTHING, (fact,), note, (), ()))


_WORDS = {
    "equals": "is",
    "in": "is one of",
    "not_in": "is none of",
    "at_least": "≥",
    "at_most": "≤",
    "above": ">",
    "below": "<",
    "is": "is",
    "contains_any": "includes one of",
    "within_years_before_request": "within years before request:",
}


@functools.lru_cache(maxsize=4096)  # conditions are frozen and few; their wording never changes
def describe(cond: t.Condition) -> str:
    want = cond.value
    if cond.op == "is_empty":
        return "none" if want else "at least one"
    if isinstance(want, tuple):
        return f"{_WORDS[cond.op]} {', '.join(want)}"
    shown = str(want).lower() if isinstance(want, bool) else str(want)
    return f"{_WORDS[cond.op]} {shown}"


def show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _show_record(record: dict[str, Any]) -> str:
    return ", ".join(f"{k}={show(v)}" for k, v in sorted(record.items()) if v is not None)
