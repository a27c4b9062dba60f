"""Clause coverage: is every numbered clause of the position statement implemented by a rule?

The inventory of clauses is read from the guideline text kept beside the policy file (its
``source``), not typed by hand, so a revised guideline with a new clause shows up as uncovered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from medpolicy.policy.diagnostics import PolicyError
from medpolicy.policy.load import check_policy
from medpolicy.policy.tree import Policy, walk

__all__ = ["Clause", "coverage", "coverage_report", "guideline_clauses"]

_LABEL = re.compile(r"^(?:-\s*)*(\d+|[a-z]|[ivx]+)\.\s+(.*)$")
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"}
_PARTS = (("Initiation", "Initiation of "), ("Continuation", "Continuation of "))


@dataclass(frozen=True)
class Clause:
    section: str  # "Position Statement > Initiation > 1.b.iii.2"
    text: str


def guideline_clauses(text: str) -> list[Clause]:
    """Numbered clauses of the POSITION STATEMENT, with the numbering made absolute.

    The text numbers four levels as 1 / a / i / 1. A digit under a roman numeral is a fourth-level
    clause only when it continues that numeral's list; otherwise it starts a new top-level clause
    (the text goes from "iii.3" straight to "2. Central Nervous System Cancers").
    """
    body = text.split("POSITION STATEMENT:", 1)[-1].split("DOSAGE/ADMINISTRATION:", 1)[0]
    clauses: list[Clause] = []
    part = "Initiation"
    stack: list[str] = []  # current numbering, one label per level
    for raw in body.splitlines():
        line = raw.strip()
        for name, opening in _PARTS:
            if line.startswith(opening):
                part, stack = name, []
        found = _LABEL.match(line)
        if not found:
            continue
        label, words = found.groups()
        stack = _place(stack, label)
        clauses.append(Clause(f"Position Statement > {part} > {'.'.join(stack)}", words.strip()))
    return clauses


def _place(stack: list[str], label: str) -> list[str]:
    if label.isdigit():
        if len(stack) >= 3 and _continues(stack, label):
            return [*stack[:3], label]
        return [label]
    # Letters (a, b, ...) sit under a number; numerals (i, ii, ...) under a letter. The text's
    # letters never reach "i", so a label in the numeral set under a letter is a numeral.
    level = 2 if label in _ROMAN and len(stack) >= 2 else 1
    return [*stack[:level], label]


def _continues(stack: list[str], label: str) -> bool:
    previous = int(stack[3]) if len(stack) == 4 else 0
    return int(label) == previous + 1


def coverage(policy: Policy, clauses: list[Clause]) -> dict[str, list[str]]:
    """Each clause section -> the ids of the rules that cite it (empty: not implemented)."""
    cited: dict[str, list[str]] = {}
    for pathway in policy.pathways:
        for node in walk(pathway.criteria):
            cited.setdefault(node.citation.section, []).append(node.id)
    return {c.section: cited.get(c.section, []) for c in clauses}


def coverage_report(path: Path) -> tuple[str, bool]:
    policy, diagnostics = check_policy(path)
    if policy is None:
        return str(PolicyError(str(path), diagnostics.items)), False
    source = path.parent / policy.meta.source
    try:
        clauses = guideline_clauses(source.read_text(encoding="utf-8"))
    except OSError as exc:
        return f"{path}: valid, but its guideline text {source} cannot be read: {exc}", False
    if not clauses:  # an outline of a published policy: no numbered position statement to cover
        return (
            f"{policy.meta.id} version {policy.meta.version}: valid ({policy.content_hash})\n"
            f"{source.name} has no numbered position statement (an outline): every rule cites "
            "the outline's own sections; clause coverage is not computed.",
            True,
        )
    covered = coverage(policy, clauses)
    lines = [
        f"{policy.meta.id} version {policy.meta.version}: valid ({policy.content_hash})",
        f"Clause coverage of the position statement ({source.name}):",
    ]
    for clause in clauses:
        rules = covered[clause.section]
        mark = "covered" if rules else "NOT COVERED"
        lines.append(
            f"  {mark:<11} {clause.section}: {clause.text[:70]}"
            + (f"  ({len(rules)} rule{'s' if len(rules) != 1 else ''})" if rules else "")
        )
    outside = sorted(
        {n.citation.section for pw in policy.pathways for n in walk(pw.criteria)} - set(covered)
    )
    outside += sorted({r.citation.section for r in policy.fact_rules})
    outside += sorted({c.citation.section for c in policy.contradictions})
    outside += sorted({s.citation.section for s in policy.scope})
    outside += sorted({p.citation.section for p in policy.precautions})
    lines.append("Other sections the policy implements or carries:")
    lines += [f"  {section}" for section in dict.fromkeys(outside)]
    missing = [c for c in clauses if not covered[c.section]]
    lines.append(f"{len(clauses) - len(missing)} of {len(clauses)} numbered clauses covered.")
    return "\n".join(lines), not missing and bool(clauses)
