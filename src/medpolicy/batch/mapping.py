"""From the validated policy to the claims audit: the ONE place that says which policy facts and
nodes a claim line can check, and which claim columns hold them.

Everything a check needs (codes, limits, vial sizes, the look-alike products, every citation) is
read from the policy tree here; nothing is typed in. Where a claims audit finds a fact is the
fact catalogue's data (each fact's ``claims:`` input and columns); ``CHECK_DEFINITIONS`` says what
claim-line checks a reusable policy check becomes (a check definition is code, so is its claim
form). A policy node the audit must check but cannot express is refused here, with the node named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Final

from medpolicy.batch.layout import AUTHORIZATIONS, CLAIM_LINES, MEMBERS
from medpolicy.batch.plan import (
    AuditPlan,
    AuthorizationOnFile,
    AuthorizedUnits,
    Check,
    Clause,
    DoseLimit,
    DosingInterval,
    DuplicateLine,
    FamilyDrug,
    LookAlike,
    Plausible,
    SupportingCode,
    SupportingDiagnosis,
    Unsupported,
    VialWaste,
)
from medpolicy.definitions.icd10 import code_set_version
from medpolicy.engine.checks import CHECK_READS
from medpolicy.policy import tree as t

__all__ = ["CHECK_DEFINITIONS", "audit_plan", "claim_columns", "code_set_start"]

# A policy check definition -> the claim-line checks it becomes.
CHECK_DEFINITIONS: Final[dict[str, tuple[str, ...]]] = {
    "weight_based_dose_limit": (DoseLimit.name, DosingInterval.name),
}

# The policy parts the other checks cite (by the policy's own ids and fact names).
AUTHORIZED_PERIOD_FACT: Final = "medication.start_date"  # its fact rule: "Approval duration"
# the columns that make two lines the same service
DUPLICATE_KEY: Final = ("member_id", "service_date", "hcpcs", "modifiers", "units", "rendering_npi")


def audit_plan(policy: t.Policy) -> AuditPlan:
    """The claim-line checks of ``policy``, each with its clause and parameters."""
    checks: list[Check] = [_diagnosis(policy), *_dose(policy), _vials(policy)]
    checks += [
        AuthorizationOnFile(_authorized_period(policy)),
        AuthorizedUnits(_authorized_period(policy)),
    ]
    for precaution in policy.precautions:
        if precaution.claims_check is None:
            continue
        if precaution.claims_check != LookAlike.name:
            raise Unsupported(
                f"precautions.{precaution.id}",
                f"no claims check is named {precaution.claims_check!r}",
            )
        checks.append(
            LookAlike(
                Clause(precaution.citation.section, precaution.citation.text, (precaution.id,))
            )
        )
    drug = policy.drug
    checks.append(
        DuplicateLine(
            Clause(
                "Billing/Coding > HCPCS Coding", f"{drug.hcpcs} {drug.hcpcs_description}", ("drug",)
            ),
            DUPLICATE_KEY,
        )
    )
    return AuditPlan(
        policy_id=policy.meta.id,
        policy_version=policy.meta.version,
        content_hash=policy.content_hash,
        hcpcs=drug.hcpcs,
        drug=drug.id,
        family=_family(policy),
        checks=tuple(checks),
        plausible=_plausible(policy),
    )


def _family(policy: t.Policy) -> tuple[FamilyDrug, ...]:
    """Every HCPCS code the policy's drug vocabulary knows: this drug and the products a claim may
    carry in its place (or it in theirs)."""
    vocabulary = policy.drugs
    found = {policy.drug.hcpcs: FamilyDrug(policy.drug.hcpcs, policy.drug.id, policy.drug.name)}
    for (system, code), drug in vocabulary.by_code.items():
        if system == "hcpcs" and code not in found:
            found[code] = FamilyDrug(code, drug, vocabulary.entries[drug].label)
    return tuple(sorted(found.values(), key=lambda f: f.hcpcs))


_INPUTS: Final = {layout.name: layout for layout in (CLAIM_LINES, AUTHORIZATIONS, MEMBERS)}


def claim_columns(policy: t.Policy, fact: str) -> tuple[str, tuple[str, ...]] | None:
    """The claims-audit input and columns the policy's catalogue says hold ``fact`` (None: none
    does). ValueError: the catalogue names an input or column the audit has not."""
    spec = policy.catalogue.facts.get(fact)
    if spec is None or spec.claims is None:
        return None
    name, columns = spec.claims
    layout = _INPUTS.get(name)
    if layout is None:
        raise ValueError(f"facts.{fact}.claims: no claims-audit input is named {name!r}")
    known = {c.name for c in layout.columns}
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ValueError(f"facts.{fact}.claims: the {name} have no column {', '.join(unknown)}")
    return spec.claims


# the inputs read row by row before the SQL runs (``sources.read_reference``): a limit on another
# input's column would not be checked, so it is refused
_CHECKED_ON_READING: Final = (AUTHORIZATIONS.name, MEMBERS.name)


def _plausible(policy: t.Policy) -> tuple[Plausible, ...]:
    """The most each input column can plausibly hold: the ``plausible_max`` of the catalogue fact
    the column holds (a body weight's, for the members' weight), in the column's unit."""
    found = []
    for path, spec in policy.catalogue.facts.items():
        if spec.plausible_max is None or spec.claims is None:
            continue
        node = f"facts.{path}"
        try:
            held = claim_columns(policy, path)
        except ValueError as exc:
            raise Unsupported(node, str(exc)) from None
        assert held is not None
        name, columns = held
        if name not in _CHECKED_ON_READING:
            raise Unsupported(node, f"its plausible_max is not checked on the {name}")
        for column in (_INPUTS[name].column(c) for c in columns):
            if spec.unit is None or column.unit != spec.unit:
                raise Unsupported(
                    node,
                    f"its plausible_max is in {spec.unit or 'no unit'}, the {name}' "
                    f"{column.name} in {column.unit or 'no unit'}",
                )
            found.append(Plausible(name, column.name, spec.plausible_max, spec.unit, spec.name))
    return tuple(found)


def _reads_claims(policy: t.Policy, node: t.Node, facts: Iterable[str]) -> None:
    for fact in facts:
        try:
            held = claim_columns(policy, fact)
        except ValueError as exc:
            raise Unsupported(node.id, str(exc)) from None
        if held is None:
            raise Unsupported(node.id, f"it reads {fact!r}, which no claim-audit input holds")


def _clause(nodes: list[t.Node]) -> Clause:
    texts = list(dict.fromkeys(n.citation.text for n in nodes))
    ids = tuple(dict.fromkeys(n.id for n in nodes))
    return Clause(join_sections(n.citation.section for n in nodes), "; ".join(texts), ids)


def join_sections(sections: Iterable[str]) -> str:
    """Sections under one heading written once: "Position Statement > Initiation > 1.e, 2.c;
    Position Statement > Continuation > 3"."""
    by_heading: dict[str, list[str]] = {}
    for section in dict.fromkeys(sections):
        heading, _, last = section.rpartition(" > ")
        by_heading.setdefault(heading, []).append(last)
    return "; ".join(
        f"{heading} > {', '.join(parts)}" if heading else ", ".join(parts)
        for heading, parts in by_heading.items()
    )


# -- the supporting diagnosis: each pathway's own code-set criterion ------------------------------


def _diagnosis(policy: t.Policy) -> SupportingDiagnosis:
    """A line's codes support the drug when they meet some pathway's top-level code-set criterion
    (Billing/Coding's list for 1-4; for 5, a code that names a condition 1-4 do not list)."""
    start = code_set_start(code_set_version())
    codes: dict[str, SupportingCode] = {}
    nodes: list[t.Node] = []
    for pathway in policy.pathways:
        leaves = [n for n in _children(pathway.criteria) if isinstance(n, t.InValueSet)]
        if not leaves:
            raise Unsupported(
                pathway.criteria.id, "the pathway has no supporting-diagnosis criterion"
            )
        for leaf in leaves:
            _reads_claims(policy, leaf, (leaf.fact,))
            nodes.append(leaf)
            for code, valid_from in _leaf_codes(policy, leaf, start):
                known = codes.get(code)
                if known is None or (known.valid_from is not None and valid_from is None):
                    codes[code] = SupportingCode(code, valid_from, leaf.mode == "supports")
    ordered = tuple(sorted(codes.values(), key=lambda c: c.code))
    return SupportingDiagnosis(_clause(nodes), ordered, code_set_version())


def _children(node: t.Node) -> tuple[t.Node, ...]:
    return node.children if isinstance(node, t.AllOf) else (node,)


def _leaf_codes(
    policy: t.Policy, leaf: t.InValueSet, start: date | None
) -> Iterable[tuple[str, date | None]]:
    value_set = policy.value_sets[leaf.value_set]
    if leaf.mode == "supports":
        # codes accepted by the guideline's text are those added after its ranges were written:
        # they support a line only from the first day of the code set that has them
        by_text = value_set.accepted_by_text
        return ((c, start if c in by_text else None) for c in value_set.codes)
    if leaf.mode == "not_in":
        naming = policy.diagnoses.names_a_condition
        if naming is None:
            raise Unsupported(leaf.id, "the policy does not say which codes name a condition")
        return ((c, None) for c in naming.codes - value_set.codes)
    raise Unsupported(
        leaf.id, f"a {leaf.mode!r} code-set criterion does not say what a claim supports"
    )


def code_set_start(version: str) -> date | None:
    """The first day of the ICD-10-CM fiscal year named in ``version`` ("FY2026": 2025-10-01)."""
    found = re.search(r"\bFY(\d{4})\b", version)
    return date(int(found.group(1)) - 1, 10, 1) if found else None


# -- the dose limit and the dosing interval -------------------------------------------------------


def _dose(policy: t.Policy) -> tuple[DoseLimit, DosingInterval]:
    nodes = [n for p in policy.pathways for n in t.walk(p.criteria) if isinstance(n, t.Check)]
    if not nodes:
        raise Unsupported(policy.meta.id, "no dose-limit check to audit units against")
    params: dict[str, object] | None = None
    for node in nodes:
        if node.definition not in CHECK_DEFINITIONS:
            raise Unsupported(node.id, f"check {node.definition!r} has no claim-line form")
        _reads_claims(policy, node, CHECK_READS.get(node.definition, ()))
        if params is None:
            params = dict(node.params)
        elif dict(node.params) != params:
            raise Unsupported(
                node.id,
                "its limits differ from another pathway's, and a claim line does not "
                "say which pathway it was authorized under",
            )
    assert params is not None
    clause = _clause(list(nodes))
    per_days = params["per_days"]
    limit = params["max_mg_per_kg"]
    assert isinstance(per_days, int) and isinstance(limit, Decimal)
    return (
        DoseLimit(clause, limit, policy.drug.mg_per_unit),
        DosingInterval(clause, per_days),
    )


# -- vials, authorizations ------------------------------------------------------------------------


def _vials(policy: t.Policy) -> VialWaste:
    drug = policy.drug
    sizes = " or ".join(f"{s} mg" for s in sorted(drug.vial_sizes_mg))
    text = f"{drug.name} is supplied as a single-use vial containing {sizes} per vial"
    return VialWaste(
        Clause("Dosage/Administration > Drug Availability", text, ("drug.vial_sizes_mg",)),
        drug.vial_sizes_mg,
        drug.mg_per_unit,
    )


def _authorized_period(policy: t.Policy) -> Clause:
    rule = next((r for r in policy.fact_rules if r.fact == AUTHORIZED_PERIOD_FACT), None)
    if rule is not None:
        return Clause(rule.citation.section, rule.citation.text, (f"fact_rules.{rule.fact}",))
    months = sorted({p.approval_months for p in policy.pathways})
    text = "Approval duration: " + " or ".join(f"{m} months" for m in months)
    return Clause("Position Statement", text, tuple(p.id for p in policy.pathways))
