"""Filters over one trace: why a pathway is not met, and which facts would let it be met.

Both follow Kleene logic back down the tree. A not-met ALL is explained by its not-met children;
a not-met ANY or NOT is its own reason (none of its alternatives holds). An unknown node is
explained by the facts its unknown children lack; not-met children of an unknown ANY are skipped,
since supplying their facts could not change the result.
"""

from __future__ import annotations

from collections.abc import Iterator

from medpolicy.engine.evaluate import Trace, detail
from medpolicy.logic import Truth
from medpolicy.policy import tree as t

__all__ = ["describe_failure", "failing", "lacking"]


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


def describe_failure(trace: Trace) -> str:
    """A reason in plain words, including why each alternative of a failed ANY did not hold."""
    if isinstance(trace.node, t.AnyOf | t.Not) and trace.children:
        parts = [
            f"{c.node.citation.text} — {describe_failure(c) or c.result.value}"
            for c in trace.children
        ]
        prefix = (
            "none of the alternatives holds: " if isinstance(trace.node, t.AnyOf) else "excluded: "
        )
        return prefix + "; ".join(parts)
    if isinstance(trace.node, t.AllOf):
        return "; ".join(describe_failure(c) for c in trace.children if c.result is Truth.not_met)
    return detail(trace)
