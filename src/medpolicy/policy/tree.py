"""The validated policy: small frozen node classes that every walker dispatches on by type.

The evaluator, the explainer, the questionnaire generator and the SQL compiler walk this one tree;
none keeps its own copy of a rule. Nodes declare; walkers act.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cached_property
from typing import Literal

from medpolicy.definitions.icd10 import ValueSet

__all__ = [
    "AllOf",
    "AnyOf",
    "Check",
    "Citation",
    "Compare",
    "Condition",
    "Drug",
    "Exists",
    "InValueSet",
    "Indication",
    "Node",
    "Not",
    "Pathway",
    "Policy",
    "PolicyMeta",
    "Precaution",
    "ScopeRule",
    "facts_read",
    "walk",
]

CompareOp = Literal[
    "equals",
    "in",
    "not_in",
    "at_least",
    "at_most",
    "above",
    "below",
    "is",
    "contains_any",
    "is_empty",
    "within_years_before_request",
]


@dataclass(frozen=True)
class Citation:
    """Where in the guideline a rule comes from, and the guideline's own words for it."""

    section: str  # e.g. "Position Statement > Initiation > 1.b.iii.2"
    text: str


@dataclass(frozen=True, eq=False)
class Node:
    id: str  # unique in the policy: pathway id / node id / ...
    name: str  # the node's own id, in the guideline's words
    citation: Citation
    reading: str | None  # the interpretation chosen where the text is ambiguous


@dataclass(frozen=True, eq=False)
class AllOf(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class AnyOf(Node):
    children: tuple[Node, ...]


@dataclass(frozen=True, eq=False)
class Not(Node):
    child: Node


@dataclass(frozen=True)
class Condition:
    """A test on one fact (or on one field of a record in a list fact)."""

    op: CompareOp
    value: object = None
    unknown_if: tuple[str, ...] = ()

    @cached_property
    def folded(self) -> frozenset[str]:
        """The wanted values, case-folded once (drug names match without regard to case)."""
        values = self.value if isinstance(self.value, tuple) else (self.value,)
        return frozenset(str(v).casefold() for v in values)


@dataclass(frozen=True, eq=False)
class Compare(Node):
    fact: str
    condition: Condition


@dataclass(frozen=True, eq=False)
class InValueSet(Node):
    fact: str
    value_set: str


@dataclass(frozen=True, eq=False)
class Exists(Node):
    """Some record of a list fact satisfies every condition on its fields."""

    fact: str
    where: tuple[tuple[str, Condition], ...]


@dataclass(frozen=True, eq=False)
class Check(Node):
    """A call to a reusable definition (e.g. the weight-based dose limit) with policy parameters."""

    definition: str
    params: Mapping[str, Decimal | int | str]


@dataclass(frozen=True)
class Pathway:
    id: str
    phase: Literal["initiation", "continuation"]
    indication: str | None  # None: applies to every indication of the phase
    approval_months: int
    criteria: Node


@dataclass(frozen=True)
class Indication:
    id: str
    label: str
    implied_by_value_set: str | None
    implied_by_fact: tuple[str, tuple[str, ...]] | None  # fact path, values that imply it


@dataclass(frozen=True)
class ScopeRule:
    line_of_business: str
    applies: bool
    citation: Citation
    route_to: str | None


@dataclass(frozen=True)
class Precaution:
    id: str
    kind: Literal["boxed_warning", "warning", "administration"]
    citation: Citation


@dataclass(frozen=True)
class Drug:
    name: str
    brand: str
    hcpcs: str
    hcpcs_description: str
    mg_per_unit: Decimal
    vial_sizes_mg: tuple[int, ...]
    names: tuple[str, ...]  # every name by which a prior therapy with this drug may be reported


@dataclass(frozen=True)
class PolicyMeta:
    id: str
    title: str
    payer: str
    version: str
    effective_date: date
    original_effective_date: date
    reviewed: date | None
    revised: date | None
    history: tuple[tuple[date, str], ...]
    source: str


@dataclass(frozen=True)
class Policy:
    meta: PolicyMeta
    drug: Drug
    scope: tuple[ScopeRule, ...]
    value_sets: Mapping[str, ValueSet]
    indications: Mapping[str, Indication]
    pathways: tuple[Pathway, ...]
    precautions: tuple[Precaution, ...]
    content_hash: str

    def scope_for(self, line_of_business: str) -> ScopeRule | None:
        return next((s for s in self.scope if s.line_of_business == line_of_business), None)


def walk(node: Node) -> Iterator[Node]:
    """Every node of a criteria tree, parents before children."""
    yield node
    if isinstance(node, AllOf | AnyOf):
        for child in node.children:
            yield from walk(child)
    elif isinstance(node, Not):
        yield from walk(node.child)


def facts_read(node: Node, check_reads: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The fact paths a node reads directly (``check_reads``: what each definition reads)."""
    if isinstance(node, Compare | InValueSet | Exists):
        return (node.fact,)
    if isinstance(node, Check):
        return check_reads.get(node.definition, ())
    return ()
