"""A pathway's criteria compiled to one straight-line Python function.

Every request pays for evaluation; few read the worded trace. So each pathway's tree is compiled
once, when first used, into a function that computes the result of *every* node (no short
circuit: the record keeps them all) from the request's facts, as ranks in preorder. The leaves
call the same predicates as the tracing walker (``leaves``), and the connectives are Kleene logic
on ranks: ALL is ``min``, ANY is ``max``, NOT is ``MET - r``. Tests check, request by request,
that the compiled results equal the tracing walker's.

The generated source names no value from the policy: fact paths, predicates and parameters are
bound as constants (``k0``, ``k1``, ...), so no text from a policy file is ever executed.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medpolicy.definitions.icd10 import ValueSet
from medpolicy.engine.checks import CHECKS
from medpolicy.engine.leaves import predicate, records_predicate, value_set_rank
from medpolicy.facts import Facts
from medpolicy.logic import BY_RANK, MET
from medpolicy.policy import tree as t

__all__ = ["CompiledCriteria", "compile_criteria"]

_TODAY = "request.date"


@dataclass(frozen=True)
class CompiledCriteria:
    nodes: tuple[t.Node, ...]  # preorder: ``run``'s results are in this order; the root first
    run: Callable[[Facts], tuple[int, ...]]
    # (index, fact, value set) of every code-set leaf: where a met result may carry a flag
    value_sets: tuple[tuple[int, str, ValueSet], ...]
    source: str  # the generated function, for reading and debugging


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
        """Emit the code for ``node`` (children first) and return the local holding its rank."""
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


def _compile(policy: t.Policy, root: t.Node) -> CompiledCriteria:
    emitter = _Emitter(policy)
    emitter.emit(root)
    ranks = ", ".join(f"r{i}" for i in range(len(emitter.nodes)))
    body = "\n    ".join(emitter.lines)
    source = (
        "def run(facts):\n"
        "    get = facts.values.get\n"
        f"    today = get({_TODAY!r})\n"
        f"    {body}\n"
        f"    return ({ranks},)\n"
    )
    namespace: dict[str, Any] = {
        **emitter.constants,
        "value_set_rank": value_set_rank,
        "rank": {truth: i for i, truth in enumerate(BY_RANK)},
    }
    exec(compile(source, f"<criteria {root.id}>", "exec"), namespace)
    run = namespace["run"]
    return CompiledCriteria(tuple(emitter.nodes), run, tuple(emitter.value_sets), source)
