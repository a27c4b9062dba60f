"""Unknown only when it matters: a criterion whose result is the same for every value its missing
facts could take is decided, not asked.

Kleene logic cannot see this when one fact is read by two leaves: HER2 IHC 2+ with an average
copy number of 6.5 is HER2-positive whether the ratio is ≥ 2.0 (1.b.ii.1) or < 2.0 (1.b.iii.2),
yet with the ratio unreported both alternatives are unknown. So, where a pathway's result is
unknown, each connective on the unknown path from its root is tried *by cases*: the facts its
unknown leaves lack are given, in turn, one value from every region their conditions tell apart
(a value at and between each threshold, and beyond the last; each choice of a choice fact; true
and false), and the criterion is evaluated again. When every case gives the criterion the same
result, that is its result; its ancestors follow by Kleene logic. Only what a case can change is
evaluated again: the comparisons under the criterion that read the facts tried, and the
connectives between them and the criterion; every other node under it reads none of those facts,
so its result is the request's. The cases cover every value
the fact could take (some they cover cannot occur, which can only leave a criterion unknown), so
a result decided this way holds whatever the fact turns out to be.

Only facts whose every reader in the criterion compares its value are tried: a code list, a list
of records or a fact a check reads (the dose limit) stays unknown. At most ``CASES`` cases are
tried per criterion. Both evaluators call ``settle`` with their own way of evaluating a criterion
for a case (``CaseRank``), so the compiled results and the tracing walker's agree on decided
criteria as on the rest.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

from medpolicy.engine.evaluate import Trace
from medpolicy.engine.leaves import to_decimal
from medpolicy.facts import FACTS, Facts
from medpolicy.logic import BY_RANK, MET, NOT_MET, UNKNOWN
from medpolicy.policy import tree as t

__all__ = [
    "CASES",
    "Settled",
    "Shape",
    "Trial",
    "TryCases",
    "by_cases",
    "settle",
    "settled_note",
    "settled_trace",
    "shape_of",
]

CASES = 64  # the most cases tried for one criterion

_NUMERIC = frozenset({"at_least", "at_most", "above", "below"})


@dataclass(frozen=True)
class Shape:
    """A criteria tree's structure in preorder (the order of the results)."""

    nodes: tuple[t.Node, ...]
    parents: tuple[int, ...]  # -1 for the root
    children: tuple[tuple[int, ...], ...]
    ends: tuple[int, ...]  # node i's subtree is nodes[i:ends[i]]
    reads: tuple[tuple[str, ...], ...]  # the facts each leaf reads (() for a connective)
    leaves: tuple[int, ...]  # the leaves, in preorder
    within: tuple[frozenset[str], ...]  # the facts read anywhere in each node's subtree
    connectives: tuple[int, ...]  # the other nodes, children before their parents
    # found on first use (by ``settle``), from the immutable tree alone
    domains: dict[tuple[int, str], tuple[Any, ...]] = field(default_factory=dict, compare=False)
    trials: dict[tuple[int, ...], tuple[Trial, ...]] = field(default_factory=dict, compare=False)


_SHAPES: weakref.WeakKeyDictionary[t.Node, Shape] = weakref.WeakKeyDictionary()


def shape_of(root: t.Node, check_reads: Mapping[str, tuple[str, ...]]) -> Shape:
    found = _SHAPES.get(root)
    if found is None:
        found = _SHAPES[root] = _shape(root, check_reads)
    return found


def _shape(root: t.Node, check_reads: Mapping[str, tuple[str, ...]]) -> Shape:
    nodes: list[t.Node] = []
    parents: list[int] = []
    children: list[list[int]] = []
    ends: list[int] = []

    def visit(node: t.Node, parent: int) -> None:
        index = len(nodes)
        nodes.append(node)
        parents.append(parent)
        children.append([])
        ends.append(0)
        if parent >= 0:
            children[parent].append(index)
        kids = (
            node.children
            if isinstance(node, t.AllOf | t.AnyOf)
            else (node.child,)
            if isinstance(node, t.Not)
            else ()
        )
        for kid in kids:
            visit(kid, index)
        ends[index] = len(nodes)

    visit(root, -1)
    return Shape(
        tuple(nodes),
        tuple(parents),
        tuple(tuple(c) for c in children),
        tuple(ends),
        tuple(t.facts_read(n, check_reads) for n in nodes),
        tuple(i for i, kids in enumerate(children) if not kids),
        tuple(
            frozenset(f for j in range(i, ends[i]) for f in t.facts_read(nodes[j], check_reads))
            for i in range(len(nodes))
        ),
        tuple(i for i in reversed(range(len(nodes))) if children[i]),
    )


class Settled(NamedTuple):
    ranks: tuple[int, ...]  # every node's result, decided criteria and their ancestors included
    settled: Mapping[int, tuple[str, ...]]  # decided criterion -> the facts it was decided over


class Trial(NamedTuple):
    """A criterion to try by cases: its index in preorder, the facts tried, and the domain of
    each (a case is a value from each)."""

    node: int
    facts: tuple[str, ...]
    domains: tuple[tuple[Any, ...], ...]
    # the one child tried over the same facts, when no other child reads any of them (see
    # ``_as_its_child``); None when there is no such child
    child: int | None = None


# The criterion's result when every case gives it the same known result, else None: each
# evaluator's own way of evaluating the criterion for a case (see ``by_cases``).
TryCases = Callable[[Trial], int | None]


def settle(shape: Shape, facts: Facts, ranks: Sequence[int], try_cases: TryCases) -> Settled | None:
    """The tree's results with every criterion on the unknown path that its cases decide
    decided; None when the root is not unknown or no criterion is decided."""
    if ranks[0] != UNKNOWN:
        return None
    current = list(ranks)
    settled: dict[int, tuple[str, ...]] = {}
    undecided: dict[int, tuple[str, ...]] = {}  # criterion tried in vain -> the facts tried
    for trial in _trials(shape, tuple([j for j in shape.leaves if ranks[j] == UNKNOWN])):
        i = trial.node
        if current[i] != UNKNOWN or not _unknown_path(shape, current, i):
            continue
        if undecided and _as_its_child(shape, ranks, trial, undecided):
            undecided[i] = trial.facts
            continue
        decided = try_cases(trial)
        if decided is None:
            undecided[i] = trial.facts
        else:
            current[i] = decided
            settled[i] = trial.facts
            _refold(shape, current, i)
    if not settled:
        return None
    return Settled(tuple(current), MappingProxyType(settled))


def _as_its_child(
    shape: Shape, ranks: Sequence[int], trial: Trial, undecided: Mapping[int, tuple[str, ...]]
) -> bool:
    """Whether the criterion's cases are bound to leave it undecided, as one of its children,
    tried in vain over the same facts: when no other child reads any of them (``Trial.child``)
    and, whatever the case, leaves the criterion's result that child's (met, under ALL; not met,
    under ANY; a NOT has no other child). Its cases are then the child's (the facts are read by
    the same comparisons), and its result in each is the child's, or the child's negated."""
    child = trial.child
    if child is None or undecided.get(child) != trial.facts:
        return False
    i = trial.node
    neutral = MET if isinstance(shape.nodes[i], t.AllOf) else NOT_MET
    # no other child may change the result
    return all(c == child or ranks[c] == neutral for c in shape.children[i])


def by_cases(rank: Callable[..., int], domains: tuple[tuple[Any, ...], ...]) -> int | None:
    """``TryCases`` for an evaluator that gives a criterion's result for one case (``rank``,
    called with a value of each fact tried)."""
    result: int | None = None
    for case in itertools.product(*domains):
        found = rank(*case)
        if found == UNKNOWN or (result is not None and found != result):
            return None
        result = found
    return result


_TRIALS_KEPT = 1024  # the most sets of unknown leaves whose trials a tree keeps


def _trials(shape: Shape, unknown: tuple[int, ...]) -> tuple[Trial, ...]:
    """The criteria that may be tried, children before their parents, when the given leaves are
    unknown: each with unknown leaves under it reading facts that can be tried, in at most
    ``CASES`` cases. They depend on the tree and those leaves alone, so they are found once for
    each set of unknown leaves (up to ``_TRIALS_KEPT`` sets per tree)."""
    found = shape.trials.get(unknown)
    if found is None:
        found = _find_trials(shape, unknown)
        if len(shape.trials) < _TRIALS_KEPT:
            shape.trials[unknown] = found
    return found


def _find_trials(shape: Shape, unknown: tuple[int, ...]) -> tuple[Trial, ...]:
    trials = []
    tried_over: dict[int, tuple[str, ...]] = {}  # node -> the facts it is tried over
    for i in shape.connectives:  # children before their parents
        # the facts read by the unknown leaves under node i, each once, in preorder
        lacking = dict.fromkeys(f for j in unknown if i < j < shape.ends[i] for f in shape.reads[j])
        tried = [(f, d) for f in lacking if (d := _domain(shape, i, f))]
        if tried and _product([len(d) for _, d in tried]) <= CASES:
            facts = tried_over[i] = tuple(f for f, _ in tried)
            domains = tuple(_extremes_first(d) for _, d in tried)
            trials.append(Trial(i, facts, domains, _alone_reading(shape, i, facts, tried_over)))
    return tuple(trials)


def _alone_reading(
    shape: Shape, i: int, facts: tuple[str, ...], tried_over: Mapping[int, tuple[str, ...]]
) -> int | None:
    """``Trial.child``: the child of node i tried over these same facts, when it is the only
    child that reads any of them."""
    readers = [c for c in shape.children[i] if not shape.within[c].isdisjoint(facts)]
    if len(readers) == 1 and tried_over.get(readers[0]) == facts:
        return readers[0]
    return None


def _extremes_first(domain: tuple[Any, ...]) -> tuple[Any, ...]:
    """The domain's values from both ends inwards (first, last, second, second to last, ...).
    The result of a trial does not depend on the order of its cases, but far apart values are
    the likeliest to give different results, which ends a trial that cannot decide sooner."""
    inwards = []
    low, high = 0, len(domain) - 1
    while low <= high:
        inwards.append(domain[low])
        if low != high:
            inwards.append(domain[high])
        low, high = low + 1, high - 1
    return tuple(inwards)


def _unknown_path(shape: Shape, ranks: Sequence[int], i: int) -> bool:
    """Whether every ancestor of node i is unknown: elsewhere its result cannot matter."""
    parent = shape.parents[i]
    while parent >= 0:
        if ranks[parent] != UNKNOWN:
            return False
        parent = shape.parents[parent]
    return True


def _domain(shape: Shape, i: int, fact: str) -> tuple[Any, ...]:
    """One value from every region the conditions on ``fact`` under node i tell apart; () when
    the fact cannot be tried (a reader that is not a comparison, or a kind without a domain).
    Found once per tree, node and fact (the tree is immutable)."""
    key = (i, fact)
    found = shape.domains.get(key)
    if found is None:
        found = shape.domains[key] = _find_domain(shape, i, fact)
    return found


def _find_domain(shape: Shape, i: int, fact: str) -> tuple[Any, ...]:
    conditions: list[t.Condition] = []
    for j in range(i, shape.ends[i]):
        if fact in shape.reads[j]:
            node = shape.nodes[j]
            if not isinstance(node, t.Compare):
                return ()
            conditions.append(node.condition)
    spec = FACTS[fact]
    if spec.kind == "boolean":
        return (True, False)
    if spec.kind == "choice":
        return spec.choices
    if spec.kind in ("decimal", "integer") and all(c.op in _NUMERIC for c in conditions):
        return _numeric_regions(sorted({to_decimal(c.value) for c in conditions}))
    return ()


def _numeric_regions(thresholds: list[Decimal]) -> tuple[Decimal, ...]:
    """Below the first threshold, each threshold, between each two, and above the last."""
    values = [thresholds[0] - 1]
    for low, high in itertools.pairwise(thresholds):
        values += [low, (low + high) / 2]
    return (*values, thresholds[-1], thresholds[-1] + 1)


def _product(sizes: list[int]) -> int:
    total = 1
    for size in sizes:
        total *= size
    return total


def _refold(shape: Shape, ranks: list[int], i: int) -> None:
    """Node i's ancestors again, by Kleene logic (ALL the lowest, ANY the highest, NOT MET - r)."""
    parent = shape.parents[i]
    while parent >= 0:
        node, kids = shape.nodes[parent], [ranks[c] for c in shape.children[parent]]
        if isinstance(node, t.AllOf):
            ranks[parent] = min(kids)
        elif isinstance(node, t.AnyOf):
            ranks[parent] = max(kids)
        else:
            ranks[parent] = MET - kids[0]
        parent = shape.parents[parent]


def settled_note(rank: int, facts: tuple[str, ...]) -> str:
    """How a criterion decided by cases is explained."""
    named = " and ".join(FACTS[f].name for f in facts)
    result = "met" if rank == MET else "not met" if rank == NOT_MET else "unknown"
    return (
        f"{result} whatever the {named} (not reported or unusable): every value it could take "
        "gives the same result"
    )


def settled_trace(trace: Trace, shape: Shape, settled: Settled) -> Trace:
    """The tracing walker's trace with the criteria decided by cases (and their ancestors)
    carrying their decided results, each decided one explained."""
    flat: list[Trace] = []
    stack = [trace]
    while stack:  # preorder, as the shape
        current = stack.pop()
        flat.append(current)
        stack.extend(reversed(current.children))

    def build(i: int) -> Trace:
        original = flat[i]
        kids = tuple(build(c) for c in shape.children[i])
        rank = settled.ranks[i]
        note = original.note
        if i in settled.settled:
            note = settled_note(rank, settled.settled[i])
        return original._replace(result=BY_RANK[rank], children=kids, note=note)

    return build(0)
