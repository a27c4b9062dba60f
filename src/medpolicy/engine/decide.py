"""Decision assembly: scope, applicable pathways, outcome, reasons, missing facts, authorization.

Outcomes follow PRODUCT.md's decision semantics. The engine never denies: ``not_met`` routes the
case to a clinician reviewer with the specific, cited reasons a denial letter must state.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

from medpolicy import __version__
from medpolicy.catalogue import Catalogue
from medpolicy.definitions.icd10 import code_set_version
from medpolicy.engine.authorize import authorization_fields
from medpolicy.engine.by_cases import Settled, Trial, by_cases, settle, settled_trace, shape_of
from medpolicy.engine.checks import CHECK_READS, CheckResult
from medpolicy.engine.compiled import (
    Checked,
    CompiledCriteria,
    compile_criteria,
    leaf_trace,
    results_trace,
    trace_json,
)
from medpolicy.engine.decision import (
    Determination,
    MissingFact,
    Outcome,
    PathwayResult,
    PolicyRef,
    PrecautionOut,
    Reason,
    Scope,
    WordedPathway,
)
from medpolicy.engine.evaluate import JUDGMENT, NOT_REPORTED, Context, Trace, detail, evaluate
from medpolicy.engine.explain import describe_failure, failing_at, lacking_at
from medpolicy.engine.leaves import accepted_by_text_flags, code_matches
from medpolicy.engine.screen import Gate, read_and_screen
from medpolicy.errors import FieldError, RequestError
from medpolicy.facts import FACTS, Facts, as_record
from medpolicy.logic import BY_RANK, MET, RANK, UNKNOWN, Truth
from medpolicy.policy import tree as t
from medpolicy.record.legacy import RecordLike
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request

__all__ = ["criteria_facts", "decide", "pathway_trace", "run_pathway"]

_SCOPE_FACT = "member.line_of_business"
_TODAY = "request.date"


def decide(policy: t.Policy, request: Request | ClinicalRecord) -> Determination:
    record = as_record(request)
    _check_fits(policy, record, legacy=record is not request)
    parts = _policy_parts(policy)
    screened = read_and_screen(policy, record, parts.reads)
    facts = screened.facts
    scope = _scope(policy, parts, facts)
    indications = screened.indications
    results = parts.no_results.copy()  # every pathway, in the policy's order
    applicable: list[_Applicable] = []
    met: list[t.Pathway] = []
    outcomes: dict[str, CheckResult] = {}  # the checks run on these facts, shared by pathways
    for p, compiled in parts.by_phase.get(request.request_type, ()):
        if not p.indications or not indications.isdisjoint(p.indications):
            ranks, checked = compiled.run(facts, outcomes)
            settled = None
            if ranks[0] == UNKNOWN:  # (``run_pathway``, its call saved for the others)
                ranks, settled = _by_cases(compiled, facts, ranks)
            results[p.id] = ranks
            applicable.append((p, compiled, ranks, checked, settled))
            if ranks[0] == MET:
                met.append(p)
    gates = [*_unsettled(policy, scope), *screened.gates]
    flags = _flags(applicable, facts)
    authorized = None
    missing: list[MissingFact] = []
    reasons: list[Reason] = []
    # Approved: the guideline governs the member, a pathway is met and nothing else is unsettled.
    if scope.applies is not False and met and not gates:
        outcome = Outcome.approved
        chosen = met[0]
        start_field = "medication.start_date" if record is not request else "order.start_date"
        authorized = authorization_fields(
            policy,
            facts,
            chosen.approval_months,
            chosen.approval_weeks,
            chosen.course_cycles,
            start_field,
        )
        summary = parts.approvals[met[0].id]
    else:
        outcome, missing, reasons = _not_approved(policy, facts, scope, applicable, gates)
        if not reasons and outcome is Outcome.not_met:
            reasons = [_no_pathway_reason(policy, record.request_type, facts, indications)]
        if outcome is Outcome.not_met:
            flags += [g.note for g in gates]
        summary = _summary(outcome, policy, scope, reasons, missing)

    def word() -> list[WordedPathway]:
        ctx = Context(facts, policy)
        criteria = {
            p.id: compiled.word(ctx, ranks, checked)
            if settled is None
            else trace_json(results_trace(compiled, ctx, ranks, checked, settled.settled))
            for p, compiled, ranks, checked, settled in applicable
        }
        return _worded(parts, results, criteria)

    def identify() -> str:
        return parts.identify(request)

    return Determination(
        request.request_id,  # request_id
        outcome,
        summary,
        request.request_type,  # request_type
        request.submitted_at,  # evaluated_at
        parts.ref,  # policy
        __version__,  # engine_version
        parts.code_set,
        scope,
        sorted(indications),  # indications
        results,
        reasons,
        missing,  # missing_information
        authorized,
        flags,
        list(parts.precautions),  # precautions
        word,
        identify,
    )


def criteria_facts(policy: t.Policy, request: Request | ClinicalRecord) -> Facts:
    """The facts the criteria read: the request's, screened (see ``screen``)."""
    return read_and_screen(policy, as_record(request), _policy_parts(policy).reads).facts


def run_pathway(
    compiled: CompiledCriteria, facts: Facts
) -> tuple[tuple[int, ...], Checked, Settled | None]:
    """A pathway's compiled results, with the criteria its cases decide decided (``by_cases``):
    every node's rank, each check's outcome, and what was decided by cases (None: nothing)."""
    ranks, checked = compiled.run(facts, {})
    if ranks[0] != UNKNOWN:
        return ranks, checked, None
    ranks, settled = _by_cases(compiled, facts, ranks)
    return ranks, checked, settled


def _by_cases(
    compiled: CompiledCriteria, facts: Facts, ranks: tuple[int, ...]
) -> tuple[tuple[int, ...], Settled | None]:
    """An unknown pathway's results with the criteria its cases decide decided."""
    try_cases = functools.partial(compiled.try_cases, ranks, facts.values.get(_TODAY))
    settled = settle(compiled.shape, facts, ranks, try_cases)
    return (ranks if settled is None else settled.ranks), settled


def pathway_trace(p: t.Pathway, ctx: Context) -> Trace:
    """The tracing walker's trace of a pathway, with the criteria its cases decide decided (as
    the compiled results are): the explanation a decision carries."""
    traced = evaluate(p.criteria, ctx)
    if traced.result is not Truth.unknown:
        return traced
    shape = shape_of(p.criteria, CHECK_READS)
    ranks = [RANK[r] for r in _preorder(traced)]

    def walk(trial: Trial) -> int | None:
        node, facts, names = shape.nodes[trial.node], ctx.facts, trial.facts
        conflicts = MappingProxyType({k: v for k, v in facts.conflicts.items() if k not in names})

        def rank(*case: Any) -> int:
            values = {**facts.values, **dict(zip(names, case, strict=True))}
            case_facts = Facts(values, conflicts, facts.notes)
            return RANK[evaluate(node, Context(case_facts, ctx.policy)).result]

        return by_cases(rank, trial.domains)

    settled = settle(shape, ctx.facts, ranks, walk)
    return traced if settled is None else settled_trace(traced, shape, settled)


def _preorder(trace: Trace) -> Iterator[Truth]:
    yield trace.result
    for child in trace.children:
        yield from _preorder(child)


# A pathway that applies, its compiled criteria, and what they gave for the request: each node's
# rank and each check's outcome (a plain tuple: one is made per pathway per request).
_Applicable = tuple[t.Pathway, CompiledCriteria, tuple[int, ...], Checked, Settled | None]

_Gates = list[Gate]

_NOTHING_SETTLED: Mapping[int, tuple[str, ...]] = MappingProxyType({})


def _not_approved(
    policy: t.Policy, facts: Facts, scope: Scope, applicable: list[_Applicable], gates: _Gates
) -> tuple[Outcome, list[MissingFact], list[Reason]]:
    """The outcome by PRODUCT.md's semantics when it is not an approval, with what is missing or
    why it is not met. The applicable pathways' traces are the explanation: the parts of them
    that the filters read (``explain``) are built here from the compiled results."""
    if scope.applies is False:
        return Outcome.out_of_scope, [], []
    ctx = Context(facts, policy)
    met = any(ranks[0] == MET for _, _, ranks, _, _ in applicable)
    unknown = [a for a in applicable if a[2][0] == UNKNOWN]
    if met or unknown:  # met but for an unsettled gate, or a pathway awaiting facts
        return Outcome.missing_information, _missing(facts, _lacking(ctx, unknown), gates), []
    if not applicable and any(g.fact == "indications" for g in gates):  # which condition is it?
        return Outcome.missing_information, _missing(facts, [], gates), []
    if not applicable and not facts.has("indications") and not facts.has("diagnoses"):
        ask = Gate("diagnoses", "no indication or diagnosis was reported")
        return Outcome.missing_information, _missing(facts, [], [*gates, ask]), []
    return Outcome.not_met, [], _reasons(ctx, applicable)


# A fact a leaf lacks: (the fact, the leaf, the leaf's explanation: its trace's ``detail``)
_Lacking = tuple[str, t.Node, str]


def _lacking(ctx: Context, unknown: list[_Applicable]) -> list[_Lacking]:
    """``explain.lacking`` over the unknown pathways' traces: each fact with the leaf lacking it.
    A comparison on an absent fact (most of them) is explained as its trace would explain it
    (``evaluate._absent``), without the trace."""
    found: list[_Lacking] = []
    get, conflicts = ctx.facts.values.get, ctx.facts.conflicts
    for _, compiled, ranks, checked, _ in unknown:
        for i in lacking_at(compiled.shape.children, ranks):
            node = compiled.nodes[i]
            if isinstance(node, t.Compare) and get(node.fact) is None:
                found.append((node.fact, node, conflicts.get(node.fact) or NOT_REPORTED))
                continue
            leaf = leaf_trace(compiled, ctx, ranks, checked, i)
            explained = detail(leaf)
            for fact in leaf.missing:
                found.append((fact, node, explained))
    return found


@dataclass(frozen=True)
class _PolicyParts:
    """What every decision under a policy repeats or looks up, built once per policy content."""

    ref: PolicyRef
    precautions: tuple[PrecautionOut, ...]
    scopes: dict[str | None, Scope]  # by line of business, each built on first use
    outlines: tuple[_Outlines, ...]  # per pathway, in the policy's order
    # by phase, each pathway of it with its criteria compiled, in the policy's order
    by_phase: dict[str, tuple[tuple[t.Pathway, CompiledCriteria], ...]]
    no_results: dict[str, tuple[int, ...] | None]  # every pathway id, in order: None (not run)
    approvals: dict[str, str]  # pathway id -> the summary of an approval under it
    identify: Callable[[Request | ClinicalRecord], str]  # a request's decision id
    reads: Catalogue  # the policy's catalogue, reading only the facts the policy uses
    code_set: str  # the ICD-10-CM release in use (one per process)


class _Outlines(NamedTuple):
    """A pathway's records, less their criteria trees: one for when it does not apply, and, by
    the rank of its result, one for when it does."""

    not_applicable: PathwayResult
    by_rank: tuple[PathwayResult, ...]


_PARTS: dict[str, _PolicyParts] = {}


def _policy_parts(policy: t.Policy) -> _PolicyParts:
    parts = _PARTS.get(policy.content_hash)
    if parts is None:
        parts = _PARTS[policy.content_hash] = _build_parts(policy)
    return parts


def _build_parts(policy: t.Policy) -> _PolicyParts:
    meta = policy.meta
    return _PolicyParts(
        ref=PolicyRef(
            id=meta.id,
            title=meta.title,
            payer=meta.payer,
            version=meta.version,
            effective_date=meta.effective_date,
            content_hash=policy.content_hash,
        ),
        precautions=tuple(
            PrecautionOut(id=p.id, kind=p.kind, clause=p.citation.section, text=p.citation.text)
            for p in policy.precautions
        ),
        scopes={},
        outlines=tuple(_outlines(policy, p) for p in policy.pathways),
        by_phase={
            phase: tuple(
                (p, compile_criteria(policy, p.criteria))
                for p in policy.pathways
                if p.phase == phase
            )
            for phase in {p.phase: None for p in policy.pathways}
        },
        no_results=dict.fromkeys(p.id for p in policy.pathways),
        reads=policy.catalogue.only(facts_used(policy)),
        identify=functools.partial(_decision_id, policy.content_hash),
        code_set=code_set_version(),
        approvals={
            p.id: f"Meets {p.criteria.citation.section} ({p.criteria.citation.text})."
            for p in policy.pathways
        },
    )


# What every decision reads whatever its criteria: the request's date and phase, the member's line
# of business (scope), the order (drug, dose, interval, start: screening and the authorization),
# the weight and body surface area (the dose in mg), and what the request is for (its indications,
# the condition the order names, its diagnosis codes).
_ALWAYS = frozenset(
    {
        "request.date",
        "request.type",
        "member.line_of_business",
        "medication.hcpcs",
        "medication.drug",
        "medication.dose",
        "medication.interval_days",
        "medication.start_date",
        "medication.concurrent_anticancer_drugs",
        "body_weight.kg",
        "body_surface_area.m2",
        "indications",
        "order.condition",
        "diagnoses",
        "prior_therapies",
    }
)


def facts_used(policy: t.Policy) -> frozenset[str]:
    """Every fact a decision under the policy may read: its criteria's, its checks', its fact
    rules' and contradictions', what implies its indications, and what every decision reads."""
    used = set(_ALWAYS)
    roots = [p.criteria for p in policy.pathways]
    roots += [c.contradicted_by for c in policy.contradictions]
    for root in roots:
        for node in t.walk(root):
            used.update(t.facts_read(node, CHECK_READS))
    for rule in policy.fact_rules:
        used.update(f for f in (rule.fact, rule.dated_by) if f is not None)
    used.update(c.fact for c in policy.contradictions)
    used.update(i.implied_by_fact[0] for i in policy.indications.values() if i.implied_by_fact)
    return frozenset(used)


def _outlines(policy: t.Policy, p: t.Pathway) -> _Outlines:
    ind = policy.indications.get(p.indication or "")
    label = ind.label if ind else None
    clause = p.criteria.citation.section

    def record(applicable: bool, result: str) -> PathwayResult:
        return PathwayResult(
            id=p.id,
            phase=p.phase,
            indication=p.indication,
            indication_label=label,
            applicable=applicable,
            result=result,
            clause=clause,
            criteria=None,
        )

    return _Outlines(
        record(False, "not_applicable"), tuple(record(True, truth.value) for truth in BY_RANK)
    )


def _check_fits(policy: t.Policy, record: RecordLike, legacy: bool) -> None:
    """The request is for the policy's drug, and names only indications the policy has (field
    paths as the sender wrote them: the earlier format's, or the record's)."""
    errors = []
    order = record.order
    if order.drug.hcpcs != policy.drug.hcpcs:
        errors.append(
            FieldError(
                "medication.hcpcs" if legacy else "order.drug.hcpcs",
                f"{order.drug.hcpcs} is not covered by "
                f"policy {policy.meta.id} (which covers {policy.drug.hcpcs})",
            )
        )
    for i, name in enumerate(order.indications or []):
        if name not in policy.indications:
            errors.append(
                FieldError(
                    f"indications[{i}]" if legacy else f"order.indications[{i}]",
                    f"unknown indication '{name}'; expected one of {', '.join(policy.indications)}",
                )
            )
    if errors:
        raise RequestError(errors)


def _scope(policy: t.Policy, parts: _PolicyParts, facts: Facts) -> Scope:
    """Whether the guideline governs the member's line of business."""
    lob: str | None = facts.values.get(_SCOPE_FACT)
    scope = parts.scopes.get(lob)
    if scope is None:
        scope = parts.scopes[lob] = _scope_of(policy, lob)
    return scope


def _scope_of(policy: t.Policy, lob: str | None) -> Scope:
    if lob is None:
        return Scope(line_of_business=None, applies=None)
    rule = policy.scope_for(lob)
    if rule is None:  # "applies to all lines of business unless otherwise noted"
        return Scope(line_of_business=lob, applies=True)
    return Scope(
        line_of_business=lob,
        applies=rule.applies,
        clause=rule.citation.section,
        text=rule.citation.text,
        route_to=rule.route_to,
    )


def _unsettled(policy: t.Policy, scope: Scope) -> _Gates:
    """Whether this guideline governs the member at all, when that is not yet known: to be
    settled before any approval (screening adds the request's own: see ``screen``)."""
    if scope.applies is not None:
        return []
    return [
        Gate(
            _SCOPE_FACT,
            "the member's line of business was not reported: confirm this guideline applies",
            tuple(sorted({rule.citation.section for rule in policy.scope})),
        )
    ]


def _missing(facts: Facts, lacking: list[_Lacking], gates: _Gates) -> list[MissingFact]:
    needed: dict[str, list[_Lacking]] = {}
    for entry in lacking:
        needed.setdefault(entry[0], []).append(entry)
    judged = needed.pop(JUDGMENT, [])
    out = []
    for f, leaves in sorted(needed.items()):
        spec = FACTS[f]
        out.append(
            MissingFact.assemble_from(
                {
                    "fact": f,
                    "label": spec.label,
                    "request_field": spec.request_field,
                    "needed_for": sorted({node.id for _, node, _ in leaves}),
                    "clauses": sorted({node.citation.section for _, node, _ in leaves}),
                    "note": facts.conflicts.get(f) or facts.notes.get(f) or _leaf_note(leaves),
                }
            )
        )
    for _, node, _ in judged:  # not the provider's to send: the clinical reviewer is asked
        assert isinstance(node, t.Judgment)
        out.append(
            MissingFact.assemble_from(
                {
                    "fact": JUDGMENT,
                    "label": f"a clinical reviewer's judgment: {node.question}",
                    "request_field": "",
                    "needed_for": [node.id],
                    "clauses": [node.citation.section],
                    "note": "it cannot be computed from the record: a clinical reviewer decides",
                }
            )
        )
    for gate in gates:
        if gate.fact in needed:  # already asked for, with the reason its leaves give
            continue
        out.append(
            MissingFact.assemble_from(
                {
                    "fact": gate.fact,
                    "label": FACTS[gate.fact].label,
                    "request_field": FACTS[gate.fact].request_field,
                    "needed_for": [],
                    "clauses": list(gate.clauses),
                    "note": gate.note,
                }
            )
        )
    return out


def _leaf_note(leaves: list[_Lacking]) -> str | None:
    """The leaves' explanations, but for a fact not reported (each once, sorted)."""
    notes = {explained for _, _, explained in leaves}
    notes.discard("")
    notes.discard(NOT_REPORTED)
    return "; ".join(sorted(notes)) or None


def _reasons(ctx: Context, applicable: list[_Applicable]) -> list[Reason]:
    """``explain.failing`` over the pathways' traces, each failing criterion described."""
    reasons = []
    for p, compiled, ranks, checked, settled in applicable:
        decided = _NOTHING_SETTLED if settled is None else settled.settled
        for i in failing_at(compiled.nodes, compiled.shape.children, ranks):
            f = results_trace(compiled, ctx, ranks, checked, decided, i)
            reasons.append(
                Reason.assemble(
                    pathway=p.id,
                    criterion=f.node.id,
                    clause=f.node.citation.section,
                    text=f.node.citation.text,
                    detail=describe_failure(f),
                )
            )
    return reasons


def _no_pathway_reason(
    policy: t.Policy, phase: str, facts: Facts, indications: frozenset[str]
) -> Reason:
    stated = ", ".join(sorted(indications)) or "none"
    covered = ", ".join(
        sorted({p.indication or "any" for p in policy.pathways if p.phase == phase})
    )
    codes = ", ".join(facts.get("diagnoses") or []) or "none"
    return Reason.assemble(
        pathway="",
        criterion="applicable_indication",
        clause=f"Position Statement > {phase.capitalize()}",
        text="members diagnosed with ANY of the following conditions",
        detail=f"the request's diagnoses and indications ({stated}; codes: "
        f"{codes}) match no {phase} pathway "
        f"of this guideline ({covered})",
    )


def _flags(applicable: list[_Applicable], facts: Facts) -> list[str]:
    """Codes accepted by the guideline's text rather than its listed ranges, where they met a
    criterion: the reviewer is told (sorted, each once). Most requests have none, so the codes
    are first looked up among those the text accepts, which is cheaper than matching them."""
    flags: list[str] = []
    for _, compiled, ranks, _, _ in applicable:
        for i, fact, vs in compiled.value_sets:
            if ranks[i] == MET and vs.accepted_by_text:
                codes: list[str] = facts.values[fact]  # present: the leaf is met
                # normalized codes: the request's validation normalizes them
                if not vs.accepted_by_text.isdisjoint(codes):
                    flags += accepted_by_text_flags(code_matches(vs, codes))
    return sorted(set(flags)) if flags else flags


def _worded(
    parts: _PolicyParts, results: dict[str, tuple[int, ...] | None], criteria: dict[str, str]
) -> list[WordedPathway]:
    """Each pathway's record, less its criteria tree, with the tree's JSON when it applies
    (``results`` and the policy's outlines are both in the policy's order)."""
    return [
        (outlines.not_applicable, None)
        if ranks is None
        else (outlines.by_rank[ranks[0]], criteria[pathway])
        for (pathway, ranks), outlines in zip(results.items(), parts.outlines, strict=True)
    ]


def _decision_id(content_hash: str, request: Request | ClinicalRecord) -> str:
    """A digest of the policy content and the request's JSON: ``model_dump_json()``'s bytes,
    taken from its serializer without the round trip through ``str``."""
    request_json = request.__pydantic_serializer__.to_json(request)
    digest = hashlib.sha256(f"{content_hash}\n".encode() + request_json)
    return "dec_" + digest.hexdigest()[:24]


def _summary(
    outcome: Outcome,
    policy: t.Policy,
    scope: Scope,
    reasons: list[Reason],
    missing: list[MissingFact],
) -> str:
    """The summary of a decision that is not an approval (an approval's is the policy's)."""
    if outcome is Outcome.out_of_scope:
        return f"Not reviewed under {policy.meta.id}: {scope.text} Route to: {scope.route_to}."
    if outcome is Outcome.missing_information:
        return "More information is needed: " + "; ".join(m.label for m in missing) + "."
    return (
        "Criteria not met; routed to a clinician reviewer: "
        + "; ".join(f"{r.clause} ({r.text})" for r in reasons)
        + "."
    )
