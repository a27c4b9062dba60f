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

from medpolicy.catalogue import Catalogue
from medpolicy.definitions.drugs import DrugVocabulary
from medpolicy.definitions.icd10 import ValueSet

__all__ = [
    "NOT_LISTED",
    "AllOf",
    "AnyOf",
    "Applicability",
    "Check",
    "Citation",
    "Compare",
    "Condition",
    "Contradiction",
    "Count",
    "Diagnoses",
    "DiagnosisMode",
    "Drug",
    "Exists",
    "FactRule",
    "InValueSet",
    "Indication",
    "Judgment",
    "Node",
    "Not",
    "Pathway",
    "Policy",
    "PolicyMeta",
    "Precaution",
    "ScopeRule",
    "Within",
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


# How a code-set leaf reads the request's diagnosis codes (``leaves.diagnosis_rank``):
# - "supports": a reported code is in the set (Billing/Coding: a code that supports the claim);
# - "diagnosed": the member is diagnosed with the set's condition (a code of it; not met only when
#   the codes name another condition: absence of a code is not evidence against a diagnosis);
# - "not_in": the condition is none of the set's (met when the codes name another condition).
DiagnosisMode = Literal["supports", "diagnosed", "not_in"]


@dataclass(frozen=True, eq=False)
class InValueSet(Node):
    fact: str
    value_set: str
    mode: DiagnosisMode = "supports"


@dataclass(frozen=True, eq=False)
class Exists(Node):
    """Some record of a list fact satisfies every condition on its fields."""

    fact: str
    where: tuple[tuple[str, Condition], ...]


@dataclass(frozen=True, eq=False)
class Count(Node):
    """How many records of a list fact satisfy every condition on their fields, compared: e.g.
    at least two prior lines in the metastatic setting."""

    fact: str
    where: tuple[tuple[str, Condition], ...]
    condition: Condition  # on the count: at_least, at_most, above, below, equals


@dataclass(frozen=True, eq=False)
class Within(Node):
    """A date fact (an event) that falls within a time after a date of some record of a list
    fact satisfying every condition on its fields: e.g. a recurrence during, or within 6 months
    of completing, adjuvant therapy (``since``: the record's field from which the window opens,
    when the event may also fall during the record's course)."""

    fact: str  # the event's date
    records: str  # the list fact
    where: tuple[tuple[str, Condition], ...]
    field: str  # the record's date the window runs from (e.g. end_date)
    months: int
    days: int
    since: str | None  # the record's date from which the event may fall (e.g. start_date)


@dataclass(frozen=True, eq=False)
class Judgment(Node):
    """A criterion no computation can settle: it is always for a clinical reviewer, who is asked
    ``question`` (never approved, never failed by the engine)."""

    question: str


@dataclass(frozen=True, eq=False)
class Check(Node):
    """A call to a reusable definition (e.g. the weight-based dose limit) with policy parameters."""

    definition: str
    params: Mapping[str, Decimal | int | str]


@dataclass(frozen=True)
class Pathway:
    id: str
    phase: Literal["initiation", "continuation"]
    indications: tuple[str, ...]  # (): applies to every indication of the phase
    approval_months: int  # the approval's length: months, or (when 0) weeks
    criteria: Node
    approval_weeks: int = 0
    course_cycles: int | None = None  # a course capped at this many administrations

    @property
    def indication(self) -> str | None:
        """The indication the pathway is for (the first, when it serves several)."""
        return self.indications[0] if self.indications else None


# The condition of an indication that is for "a diagnosis not previously listed above".
NOT_LISTED = "not_listed"


@dataclass(frozen=True)
class Indication:
    id: str
    label: str
    condition: str  # the condition it treats; NOT_LISTED: any condition no other indication names
    implied_by_value_set: str | None
    implied_by_fact: tuple[str, tuple[str, ...]] | None  # fact path, values that imply it


@dataclass(frozen=True)
class Diagnoses:
    """How the policy reads diagnosis codes beyond its criteria's own sets: which codes name a
    condition (a cancer by its primary site) and which only say where a cancer has spread."""

    names_a_condition: ValueSet | None
    site_of_spread: ValueSet | None


@dataclass(frozen=True)
class FactRule:
    """How recent a time-sensitive fact must be to be used: dated by another fact, within
    ``max_age_days`` before the request; or, for a date fact itself, within a window around the
    request date. A fact that breaks its rule is not used, and is asked for again."""

    fact: str
    citation: Citation
    reading: str | None
    dated_by: str | None = None
    max_age_days: int | None = None
    days_before: int | None = None  # a date fact: at most this many days before the request
    days_after: int | None = None  # ... and at most this many days after it


@dataclass(frozen=True)
class Contradiction:
    """A fact the request reports that its own record contradicts: when ``fact`` meets ``when``
    and ``contradicted_by`` is met, the fact is not used, and the provider is asked to settle it."""

    id: str
    citation: Citation
    reading: str | None
    fact: str
    when: Condition
    contradicted_by: Node
    note: str


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
    # the claims-audit check that enforces it on paid claims (e.g. "look_alike_product" for a
    # drug that must not be substituted for or with its look-alikes); None: none does
    claims_check: str | None = None


@dataclass(frozen=True)
class Drug:
    id: str  # its entry in the policy's drug vocabulary (every name and code it goes by)
    name: str
    brand: str
    hcpcs: str
    hcpcs_description: str
    mg_per_unit: Decimal
    vial_sizes_mg: tuple[int, ...]


@dataclass(frozen=True)
class Applicability:
    """Whom the policy is for: a payer's members, optionally only some plans or lines of
    business (empty: every one). The registry chooses a request's policy by these."""

    payer: str  # the payer's id, as requests name it (member.payer)
    plans: tuple[str, ...] = ()
    lines_of_business: tuple[str, ...] = ()

    def admits(self, plan: str | None, line_of_business: str | None) -> bool:
        """Whether a member of this plan and line of business (None: not known) is covered by
        the policy's applicability: a restriction is met only by a known, listed value."""
        if self.plans and plan not in self.plans:
            return False
        return not self.lines_of_business or line_of_business in self.lines_of_business


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
    applies_to: Applicability


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
    drugs: DrugVocabulary
    diagnoses: Diagnoses
    catalogue: Catalogue  # the facts it reads: the shared catalogue's and its own
    fact_rules: tuple[FactRule, ...] = ()
    contradictions: tuple[Contradiction, ...] = ()

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
    if isinstance(node, Compare | InValueSet | Exists | Count):
        return (node.fact,)
    if isinstance(node, Within):
        return (node.fact, node.records)
    if isinstance(node, Check):
        return check_reads.get(node.definition, ())
    return ()
