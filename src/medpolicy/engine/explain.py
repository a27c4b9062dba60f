"""Filters over one trace: why a pathway is not met, and which facts would let it be met.

Both follow Kleene logic back down the tree. A not-met ALL is explained by its not-met children;
a not-met ANY or NOT is its own reason (none of its alternatives holds). An unknown node is
explained by the facts its unknown children lack; not-met children of an unknown ANY are skipped,
since supplying their facts could not change the result.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from medpolicy.engine.evaluate import Trace, detail, show
from medpolicy.facts import FACTS
from medpolicy.logic import NOT_MET, UNKNOWN, Truth
from medpolicy.policy import tree as t

__all__ = ["describe_failure", "failing", "failing_at", "lacking", "lacking_at"]


def failing(trace: Trace) -> Iterator[Trace]:
    """The trace nodes that make a not-met result not met, most specific first."""
    if trace.result is not Truth.not_met:
        return
    if isinstance(trace.node, t.AllOf):
        for child in trace.children:
            yield from failing(child)
    else:
        yield trace


def lacking(trace: Trace) -> Iterator[tuple[str, Trace]]:
    """(fact path, leaf trace that needs it) for every fact that could settle an unknown result."""
    if trace.result is not Truth.unknown:
        return
    if not trace.children:
        for fact in trace.missing:
            yield fact, trace
        return
    for child in trace.children:
        yield from lacking(child)


def failing_at(
    nodes: Sequence[t.Node], children: Sequence[tuple[int, ...]], ranks: Sequence[int]
) -> list[int]:
    """``failing`` over a tree's results by preorder index (``nodes``, each node's ``children``
    and their ``ranks``): the nodes whose traces ``failing`` would give, in its order."""
    found: list[int] = []
    stack = [0]
    while stack:
        i = stack.pop()
        if ranks[i] != NOT_MET:
            continue
        if isinstance(nodes[i], t.AllOf):
            stack.extend(reversed(children[i]))
        else:
            found.append(i)
    return found


def lacking_at(children: Sequence[tuple[int, ...]], ranks: Sequence[int]) -> list[int]:
    """``lacking`` over a tree's results by preorder index: the unknown leaves whose traces
    ``lacking`` would read, in its order (each lacks the facts its trace names as missing)."""
    found: list[int] = []
    stack = [0]
    while stack:
        i = stack.pop()
        if ranks[i] != UNKNOWN:
            continue
        if children[i]:
            stack.extend(reversed(children[i]))
        else:
            found.append(i)
    return found


def describe_failure(trace: Trace) -> str:
    """A reason in plain words: for a failed ANY, which alternatives (by clause) none of which
    holds and what was reported for them; for a failed NOT, what excluded it."""
    node = trace.node
    if isinstance(node, t.AnyOf) and trace.children:
        clauses = "; ".join(dict.fromkeys(_short(c.node) for c in trace.children))
        return f"none of the alternatives holds ({clauses}); {_reported(trace)}"
    if isinstance(node, t.Not) and trace.children:
        return f"excluded: {detail(trace.children[0])}"
    if isinstance(node, t.AllOf):
        return "; ".join(describe_failure(c) for c in trace.children if c.result is Truth.not_met)
    return detail(trace)


def _short(node: t.Node) -> str:
    return node.citation.section.rsplit(" > ", 1)[-1]


def _reported(trace: Trace) -> str:
    seen: dict[str, object] = {}
    stack = [trace]
    while stack:
        current = stack.pop(0)
        for fact, value in current.used.items():
            seen.setdefault(fact, value)
        stack.extend(current.children)
    if not seen:
        return "nothing was reported for them"
    return "reported: " + "; ".join(f"{FACTS[f].name} {show(v)}" for f, v in seen.items())
