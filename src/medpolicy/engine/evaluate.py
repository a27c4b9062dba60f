"""The evaluator: one walker over the policy tree, producing a trace node for every node it visits.

Each trace node carries the result, the clause it implements, the facts it read with their
values, the facts it lacked, and a one-line detail in plain words. "Why not approved" and "what
is missing" are filters over this trace (``medpolicy.engine.explain``), never separate logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import singledispatch
from typing import Any

from medpolicy.engine.checks import CHECKS
from medpolicy.facts import Facts
from medpolicy.logic import Truth, all_of, any_of, not_
from medpolicy.policy import tree as t

__all__ = ["Context", "Trace", "evaluate"]


@dataclass(frozen=True)
class Context:
    facts: Facts
    policy: t.Policy


@dataclass(frozen=True)
class Trace:
    node: t.Node
    result: Truth
    used: dict[str, Any] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    detail: str = ""
    flags: tuple[str, ...] = ()
    children: tuple[Trace, ...] = ()


def evaluate(node: t.Node, ctx: Context) -> Trace:
    return _evaluate(node, ctx)


@singledispatch
def _evaluate(node: t.Node, ctx: Context) -> Trace:
    raise TypeError(f"no evaluator for {type(node).__name__}")  # refused at load time in practice


@_evaluate.register
def _(node: t.AllOf, ctx: Context) -> Trace:
    children = tuple(evaluate(c, ctx) for c in node.children)
    return Trace(node, all_of(c.result for c in children), children=children)


@_evaluate.register
def _(node: t.AnyOf, ctx: Context) -> Trace:
    children = tuple(evaluate(c, ctx) for c in node.children)
    return Trace(node, any_of(c.result for c in children), children=children)


@_evaluate.register
def _(node: t.Not, ctx: Context) -> Trace:
    child = evaluate(node.child, ctx)
    return Trace(node, not_(child.result), children=(child,))


@_evaluate.register
def _(node: t.Compare, ctx: Context) -> Trace:
    value = ctx.facts.get(node.fact)
    if value is None:
        return _absent(node, node.fact, ctx)
    result = _test(value, node.condition, ctx.facts.get("request.date"))
    detail = f"reported: {_show(value)}; required: {_describe(node.condition)}"
    return Trace(
        node,
        result,
        used={node.fact: value},
        detail=detail,
        missing=(node.fact,) if result is Truth.unknown else (),
    )


@_evaluate.register
def _(node: t.InValueSet, ctx: Context) -> Trace:
    codes: list[str] | None = ctx.facts.get(node.fact)
    if not codes:
        return _absent(node, node.fact, ctx)
    vs = ctx.policy.value_sets[node.value_set]
    matches = [m for m in (vs.match(c) for c in codes) if m is not None]
    used = {node.fact: codes}
    if matches:
        flags = tuple(
            f"{m.code} accepted by the guideline's text, outside its listed ranges: {m.note}"
            for m in matches
            if m.via == "accepted_by_text"
        )
        shown = ", ".join(f"{m.code} ({m.entry})" for m in matches)
        return Trace(node, Truth.met, used=used, detail=f"supporting code: {shown}", flags=flags)
    incomplete = [c for c in codes if _is_incomplete_member(c, vs.codes)]
    if incomplete:
        detail = (
            f"{', '.join(incomplete)} is a category, not a billable code; the complete "
            "ICD-10-CM code is needed"
        )
        return Trace(node, Truth.unknown, used=used, missing=(node.fact,), detail=detail)
    return Trace(
        node,
        Truth.not_met,
        used=used,
        detail=f"none of {', '.join(codes)} is a supporting code for this indication",
    )


@_evaluate.register
def _(node: t.Exists, ctx: Context) -> Trace:
    records: list[dict[str, Any]] | None = ctx.facts.get(node.fact)
    if records is None:
        return _absent(node, node.fact, ctx)
    today = ctx.facts.get("request.date")
    per_record = [all_of(_test(r.get(f), cond, today) for f, cond in node.where) for r in records]
    result = any_of(per_record)
    wanted = ", ".join(f"{f} {_describe(c)}" for f, c in node.where)
    if result is Truth.met:
        hit = records[per_record.index(Truth.met)]
        detail = f"found: {_show_record(hit)} (wanted {wanted})"
    elif result is Truth.unknown:
        detail = f"a reported record lacks what is needed to tell whether {wanted}"
    else:
        detail = f"no reported record has {wanted}" if records else "none reported"
    return Trace(
        node,
        result,
        used={node.fact: records},
        detail=detail,
        missing=(node.fact,) if result is Truth.unknown else (),
    )


@_evaluate.register
def _(node: t.Check, ctx: Context) -> Trace:
    out = CHECKS[node.definition].evaluate(ctx.facts, node.params)
    conflicts = tuple(ctx.facts.conflicts[m] for m in out.missing if m in ctx.facts.conflicts)
    return Trace(
        node,
        out.result,
        used=dict(out.used),
        missing=out.missing,
        detail="; ".join((out.detail, *conflicts)),
    )


def _absent(node: t.Node, fact: str, ctx: Context) -> Trace:
    conflict = ctx.facts.conflicts.get(fact)
    return Trace(node, Truth.unknown, missing=(fact,), detail=conflict or "not reported")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=day.year - years, day=28)


def _is_incomplete_member(code: str, members: frozenset[str]) -> bool:
    stem = code.replace(".", "")
    return any(m.replace(".", "").startswith(stem) and m != code for m in members)


def _fold(v: object) -> str:
    return str(v).casefold()


def _test(value: Any, cond: t.Condition, today: date | None) -> Truth:
    if value is None or (cond.unknown_if and str(value) in cond.unknown_if):
        return Truth.unknown
    op, want = cond.op, cond.value
    if op == "equals":
        return Truth.of(_fold(value) == _fold(want))
    if op in ("in", "not_in"):
        inside = _fold(value) in {_fold(w) for w in want}  # type: ignore[attr-defined]
        return Truth.of(inside if op == "in" else not inside)
    if op == "contains_any":
        return Truth.of(any(_fold(v) in {_fold(w) for w in want} for v in value))  # type: ignore[attr-defined]
    if op == "is_empty":
        return Truth.of((len(value) == 0) is want)
    if op == "is":
        return Truth.of(value is want)
    if op == "within_years_before_request":
        if today is None:
            return Truth.unknown
        return Truth.of(_years_before(today, int(str(want))) <= value <= today)
    number, limit = Decimal(str(value)), Decimal(str(want))
    return Truth.of(
        {
            "at_least": number >= limit,
            "at_most": number <= limit,
            "above": number > limit,
            "below": number < limit,
        }[op]
    )


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
    "is_empty": "is empty:",
    "within_years_before_request": "within years before request:",
}


def _describe(cond: t.Condition) -> str:
    want = cond.value
    if cond.op == "is_empty":
        return "none" if want else "at least one"
    shown = (
        ", ".join(want)
        if isinstance(want, tuple)
        else str(want).lower()
        if isinstance(want, bool)
        else str(want)
    )
    return f"{_WORDS[cond.op]} {shown}"


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _show_record(record: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_show(v)}" for k, v in sorted(record.items()) if v is not None)
