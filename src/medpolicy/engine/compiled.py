"""A pathway's criteria compiled to two straight-line Python functions.

Each pathway's tree is compiled once, when first used:

- ``run`` computes the result of *every* node (no short circuit: the record keeps them all) from
  the request's facts, as ranks in preorder. The leaves call the same predicates as the tracing
  walker (``leaves``), and the connectives are Kleene logic on ranks: ALL is ``min``, ANY is
  ``max``, NOT is ``MET - r``.
- ``word`` builds the criteria tree of the decision record from those results: for every node its
  clause, the guideline's words, the facts it read and an explanation. Comparisons (most leaves)
  are worded directly; the other leaves are worded by the tracing walker itself.

Tests check, request by request, that both equal what the tracing walker gives.

The generated source names no value from the policy: fact paths, predicates and parameters are
bound as constants (``k0``, ``k1``, ...), so no text from a policy file is ever executed.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from typing_extensions import TypedDict

from medpolicy.definitions.icd10 import ValueSet
from medpolicy.engine.checks import CHECKS
from medpolicy.engine.decision import Criterion
from medpolicy.engine.evaluate import (
    NOT_REPORTED,
    Context,
    Trace,
    compare_wording,
    detail,
    evaluate,
    show,
)
from medpolicy.engine.leaves import predicate, records_predicate, value_set_rank
from medpolicy.facts import Facts
from medpolicy.jsonable import jsonable
from medpolicy.logic import BY_RANK, MET, UNKNOWN
from medpolicy.policy import tree as t

__all__ = ["CompiledCriteria", "compile_criteria"]

_TODAY = "request.date"


@dataclass(frozen=True)
class CompiledCriteria:
    nodes: tuple[t.Node, ...]  # preorder: ``run``'s results are in this order; the root first
    run: Callable[[Facts], tuple[int, ...]]
    # (index, fact, value set) of every code-set leaf: where a met result may carry a flag
    value_sets: tuple[tuple[int, str, ValueSet], ...]
    word: Callable[[Context, tuple[int, ...]], Criterion]
    source: str  # the generated functions, for reading and debugging


class _Emitter:
    def __init__(self, policy: t.Policy) -> None:
        self.policy = policy
        self.nodes: list[t.Node] = []
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.value_sets: list[tuple[int, str, ValueSet]] = []

    def constant(self, value: Any) -> str:
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def emit(self, node: t.Node) -> str:
        """Emit ``run``'s code for ``node`` (children first); return the local holding its rank."""
        index = len(self.nodes)
        self.nodes.append(node)
        out = f"r{index}"
        if isinstance(node, t.AllOf | t.AnyOf):
            parts = [self.emit(c) for c in node.children]
            if len(parts) == 1:
                self.lines.append(f"{out} = {parts[0]}")
            else:
                self.lines.append(
                    f"{out} = {'min' if isinstance(node, t.AllOf) else 'max'}("
                    + ", ".join(parts)
                    + ")"
                )
        elif isinstance(node, t.Not):
            self.lines.append(f"{out} = {MET} - {self.emit(node.child)}")
        elif isinstance(node, t.Compare):
            test, fact = self.constant(predicate(node.condition)), self.constant(node.fact)
            self.lines.append(f"{out} = {test}(get({fact}), today)")
        elif isinstance(node, t.InValueSet):
            value_set = self.policy.value_sets[node.value_set]
            self.value_sets.append((index, node.fact, value_set))
            vs, fact = self.constant(value_set), self.constant(node.fact)
            self.lines.append(f"{out} = value_set_rank({vs}, get({fact}))")
        elif isinstance(node, t.Exists):
            test, fact = self.constant(records_predicate(node.where)), self.constant(node.fact)
            self.lines.append(f"{out} = {test}(get({fact}), today)")
        elif isinstance(node, t.Check):
            check = CHECKS[node.definition].evaluate
            run, params = self.constant(check), self.constant(node.params)
            self.lines.append(f"{out} = rank[{run}(facts, {params}).result]")
        else:  # pragma: no cover - the loader admits no other node type
            raise TypeError(f"cannot compile {type(node).__name__}")
        return out


# Compiled once per tree: nodes are immutable and belong to one loaded policy.
_COMPILED: weakref.WeakKeyDictionary[t.Node, CompiledCriteria] = weakref.WeakKeyDictionary()


def compile_criteria(policy: t.Policy, root: t.Node) -> CompiledCriteria:
    """``root``'s tree (a node of ``policy``) as a function of a request's facts."""
    compiled = _COMPILED.get(root)
    if compiled is None:
        compiled = _COMPILED[root] = _compile(policy, root)
    return compiled


class _WordingEmitter:
    """Emits ``word``: one dict per node, in the record's key order, from the node's rank."""

    def __init__(self, constant: Callable[[Any], str]) -> None:
        self.constant = constant
        self.index = 0
        self.lines: list[str] = []

    def emit(self, node: t.Node) -> str:
        index = self.index
        self.index += 1
        out = f"c{index}"
        if isinstance(node, t.AllOf | t.AnyOf | t.Not):
            children = (node.child,) if isinstance(node, t.Not) else node.children
            kids = [self.emit(c) for c in children]
            part = node_part(node)
            fields = ", ".join(f"{k!r}: {self.constant(v)}" for k, v in part.items())
            self.lines.append(
                f"{out} = {{{fields}, 'result': results[ranks[{index}]], 'facts': {{}}, "
                f"'missing': [], 'detail': '', 'flags': [], 'children': [{', '.join(kids)}]}}"
            )
        elif isinstance(node, t.Compare):
            leaf, fact = self.constant(_compare_wording(node)), self.constant(node.fact)
            self.lines.append(f"{out} = {leaf}(get({fact}), ranks[{index}], conflicts)")
        else:
            self.lines.append(f"{out} = leaf_criterion(evaluate({self.constant(node)}, ctx))")
        return out


def _compile(policy: t.Policy, root: t.Node) -> CompiledCriteria:
    emitter = _Emitter(policy)
    emitter.emit(root)
    ranks = ", ".join(f"r{i}" for i in range(len(emitter.nodes)))
    body = "\n    ".join(emitter.lines)
    wording = _WordingEmitter(emitter.constant)
    wording.emit(root)
    word_body = "\n    ".join(wording.lines)
    source = (
        "def run(facts):\n"
        "    get = facts.values.get\n"
        f"    today = get({_TODAY!r})\n"
        f"    {body}\n"
        f"    return ({ranks},)\n"
        "\n\n"
        "def word(ctx, ranks):\n"
        "    get, conflicts = ctx.facts.values.get, ctx.facts.conflicts\n"
        f"    {word_body}\n"
        "    return c0\n"
    )
    namespace: dict[str, Any] = {
        **emitter.constants,
        "value_set_rank": value_set_rank,
        "rank": {truth: i for i, truth in enumerate(BY_RANK)},
        "results": _RESULTS,
        "evaluate": evaluate,
        "leaf_criterion": leaf_criterion,
    }
    exec(compile(source, f"<criteria {root.id}>", "exec"), namespace)
    return CompiledCriteria(
        tuple(emitter.nodes),
        namespace["run"],
        tuple(emitter.value_sets),
        namespace["word"],
        source,
    )


_RESULTS = tuple(truth.value for truth in BY_RANK)


class _NodePart(TypedDict):
    id: str
    criterion: str
    clause: str
    text: str
    reading: str | None


@functools.lru_cache(maxsize=8192)
def node_part(n: t.Node) -> _NodePart:
    """The part of a criterion that depends only on the policy node (built once per node)."""
    return _NodePart(
        id=n.id,
        criterion=n.name,
        clause=n.citation.section,
        text=n.citation.text,
        reading=n.reading,
    )


def leaf_criterion(trace: Trace) -> Criterion:
    """A leaf's criterion from the tracing walker's trace of it."""
    return Criterion(
        **node_part(trace.node),
        result=trace.result.value,
        facts={k: jsonable(v) for k, v in sorted(trace.used.items())} if trace.used else {},
        missing=list(trace.missing),
        detail=detail(trace),
        flags=list(trace.flags),
        children=[],
    )


def _compare_wording(node: t.Compare) -> Callable[[Any, int, Mapping[str, str]], Criterion]:
    """A comparison's criterion from the value it read and its rank: the tracing walker's wording
    (``detail``), without walking."""
    part, fact = node_part(node), node.fact
    reported, required = compare_wording(node)

    def word(value: Any, rank: int, conflicts: Mapping[str, str]) -> Criterion:
        if value is None:
            return {
                **part,
                "result": _RESULTS[rank],
                "facts": {},
                "missing": [fact],
                "detail": conflicts.get(fact) or NOT_REPORTED,
                "flags": [],
                "children": [],
            }
        return {
            **part,
            "result": _RESULTS[rank],
            "facts": {fact: jsonable(value)},
            "missing": [fact] if rank == UNKNOWN else [],
            "detail": reported + show(value) + required,
            "flags": [],
            "children": [],
        }

    return word
