"""Readable text for people: a decision with its criteria tree, and a policy as a tree."""

from __future__ import annotations

from medpolicy.engine.decision import Criterion, DecisionLike
from medpolicy.policy import tree as t

__all__ = ["render_decision", "render_policy"]

_MARK = {"met": "✔", "not_met": "✘", "unknown": "?", "not_applicable": "–"}
_OUTCOME = {
    "approved": "APPROVED",
    "missing_information": "MISSING INFORMATION (pended)",
    "not_met": "CRITERIA NOT MET (routed to a clinician reviewer)",
    "out_of_scope": "OUT OF SCOPE (another program decides)",
}


def render_decision(d: DecisionLike) -> str:
    lines = [
        f"Request {d.request_id}: {_OUTCOME[d.outcome.value]}",
        f"  {d.summary}",
        f"  Policy {d.policy.id} version {d.policy.version} ({d.policy.content_hash[:19]}…), "
        f"engine {d.engine_version}, {d.code_set}",
    ]
    a = d.authorization
    if a is not None:
        lines += [
            f"  Authorized {a.period_start} to {a.period_end} ({a.months} months): {a.dose_mg} mg "
            f"({a.mg_per_kg} mg/kg at {a.weight_kg} kg) every {a.interval_days} days, "
            f"up to {a.administrations} administrations",
            f"  {a.hcpcs}: {a.units_per_administration} units per administration, "
            f"{a.total_units} units in all; vials "
            + " + ".join(f"{v.count}×{v.size_mg} mg" for v in a.vials_per_administration or [])
            + "; bill "
            + ", ".join(
                f"{c.hcpcs}{'-' + c.modifier if c.modifier else ''} × {c.units}"
                for c in a.claim_lines_per_administration or []
            ),
        ]
    if d.missing_information:
        lines.append("  Please send:")
        lines += [
            f"    - {m.label}" + (f" ({m.note})" if m.note else "") for m in d.missing_information
        ]
    if d.reasons:
        lines.append("  Reasons:")
        lines += [f"    - {r.clause}: {r.text} — {r.detail}" for r in d.reasons]
    if d.scope.applies is False:
        lines.append(f"  {d.scope.clause}: {d.scope.text} Route to: {d.scope.route_to}")
    lines += [f"  Flag: {f}" for f in d.flags]
    for p in d.pathways:
        if p.criteria is None:
            continue
        lines.append("")
        lines += _criterion_lines(p.criteria, 1)
    return "\n".join(lines) + "\n"


def _criterion_lines(c: Criterion, depth: int) -> list[str]:
    pad = "  " * depth
    detail = f"  [{c['detail']}]" if c["detail"] and not c["children"] else ""
    out = [f"{pad}{_MARK[c['result']]} {c['clause']}: {c['text']}{detail}"]
    for child in c["children"]:
        out += _criterion_lines(child, depth + 1)
    return out


def render_policy(p: t.Policy) -> str:
    m = p.meta
    lines = [
        f"{m.id} {m.title} ({m.payer})",
        f"  version {m.version}, effective {m.effective_date}, original effective "
        f"{m.original_effective_date}, {p.content_hash}",
        f"  drug {p.drug.name} ({p.drug.brand}), {p.drug.hcpcs}: {p.drug.hcpcs_description}; "
        f"vials {', '.join(f'{s} mg' for s in p.drug.vial_sizes_mg)}",
        "  program exceptions: "
        + "; ".join(
            f"{s.line_of_business} → {'this guideline' if s.applies else s.route_to}"
            for s in p.scope
        ),
    ]
    for pathway in p.pathways:
        lines += ["", f"[{pathway.phase}] {pathway.id} (approval {pathway.approval_months} months)"]
        lines += _node_lines(pathway.criteria, 1)
    lines += ["", "Precautions (for the reviewer, not approval criteria):"]
    lines += [f"  - {pr.citation.section}: {pr.citation.text}" for pr in p.precautions]
    return "\n".join(lines) + "\n"


def _node_lines(node: t.Node, depth: int) -> list[str]:
    pad = "  " * depth
    head = f"{pad}{_kind(node)} {node.citation.section}: {node.citation.text}"
    out = [head] + ([f"{pad}    reading: {node.reading}"] if node.reading else [])
    if isinstance(node, t.AllOf | t.AnyOf):
        for child in node.children:
            out += _node_lines(child, depth + 1)
    elif isinstance(node, t.Not):
        out += _node_lines(node.child, depth + 1)
    return out


def _kind(node: t.Node) -> str:
    if isinstance(node, t.AllOf):
        return "ALL"
    if isinstance(node, t.AnyOf):
        return "ANY"
    if isinstance(node, t.Not):
        return "NOT"
    if isinstance(node, t.Compare):
        return f"[{node.fact} {node.condition.op} {_value(node.condition.value)}]"
    if isinstance(node, t.InValueSet):
        return f"[{node.fact} {_DIAGNOSIS_WORDS[node.mode]} value set {node.value_set}]"
    if isinstance(node, t.Exists):
        return (
            f"[some {node.fact} with "
            + ", ".join(f"{f} {c.op} {_value(c.value)}" for f, c in node.where)
            + "]"
        )
    if isinstance(node, t.Check):
        params = ", ".join(f"{k}={v}" for k, v in sorted(node.params.items()))
        return f"[{node.definition}({params})]"
    if isinstance(node, t.Count):
        wanted = ", ".join(f"{f} {c.op} {_value(c.value)}" for f, c in node.where)
        limit = f"{node.condition.op} {_value(node.condition.value)}"
        return f"[count of {node.fact} with {wanted} {limit}]"
    if isinstance(node, t.Within):
        span = f"{node.months} months" if node.months else f"{node.days} days"
        return f"[{node.fact} within {span} after {node.records}.{node.field}]"
    if isinstance(node, t.Judgment):
        return f"[reviewer's judgment: {node.question}]"
    return type(node).__name__


_DIAGNOSIS_WORDS = {
    "supports": "supported by",
    "diagnosed": "show a condition of",
    "not_in": "show a condition outside",
}


def _value(v: object) -> str:
    if isinstance(v, tuple):
        return "[" + ", ".join(map(str, v)) + "]"
    return str(v).lower() if isinstance(v, bool) else str(v)
