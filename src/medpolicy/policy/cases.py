"""A policy's own test cases (``cases.yaml`` beside ``policy.yaml``): facts in, outcome out.

Cases are data, so a policy analyst can add one without writing Python, and the same file runs
from ``medpolicy policy test`` and from pytest. Each case starts from a named base request and
changes a few fields (``set`` by dotted path, ``unset``), then states what must come out:

    expect:
      outcome: not_met
      reasons: [initiation_breast_cancer/monotherapy]   # exactly these criteria fail
      missing: [her2.ish_ratio]                          # exactly these facts are asked for
      criteria: {initiation_breast_cancer/her2_positive: met}
      error: medication.dose.unit                        # rejected, naming this field
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medpolicy.adapters.native import parse_any
from medpolicy.engine.decide import decide
from medpolicy.engine.decision import Criterion, Determination
from medpolicy.errors import RequestError
from medpolicy.policy.load import load_policy
from medpolicy.policy.tree import Policy

__all__ = ["CaseResult", "build_request", "load_cases", "run_case", "run_cases"]

CASES_FILE = "cases.yaml"


@dataclass(frozen=True)
class CaseResult:
    name: str
    passed: bool
    problems: list[str] = field(default_factory=list)


def load_cases(policy_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    doc = yaml.safe_load((policy_path.parent / CASES_FILE).read_text(encoding="utf-8"))
    return doc.get("bases") or {}, doc.get("cases") or []


def build_request(bases: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = copy.deepcopy(bases[case["base"]]) if "base" in case else {}
    for path, value in (case.get("set") or {}).items():
        *parents, last = path.split(".")
        target = request
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = copy.deepcopy(value)
    for path in case.get("unset") or []:
        *parents, last = path.split(".")
        target = request
        for key in parents:
            target = target.get(key, {})
        target.pop(last, None)
    return request


def run_cases(policy_path: Path) -> list[CaseResult]:
    policy = load_policy(policy_path)
    bases, cases = load_cases(policy_path)
    return [run_case(policy, bases, case) for case in cases]


def run_case(policy: Policy, bases: dict[str, Any], case: dict[str, Any]) -> CaseResult:
    name = str(case.get("name", "?"))
    expect = case.get("expect") or {}
    try:
        decision = decide(policy, parse_any(build_request(bases, case)))
    except RequestError as exc:
        fields = sorted({e.field for e in exc.errors})
        if "error" in expect and expect["error"] in fields:
            return CaseResult(name, True)
        return CaseResult(name, False, [f"request rejected: {exc}"])
    if "error" in expect:
        return CaseResult(
            name,
            False,
            [f"expected rejection naming {expect['error']}, got {decision.outcome.value}"],
        )
    return CaseResult(name, *_compare(decision, expect))


def _compare(d: Determination, expect: dict[str, Any]) -> tuple[bool, list[str]]:
    problems = []
    if "outcome" in expect and d.outcome.value != expect["outcome"]:
        problems.append(f"outcome {d.outcome.value}, expected {expect['outcome']}: {d.summary}")
    if "reasons" in expect:
        got = sorted(r.criterion for r in d.reasons)
        if got != sorted(expect["reasons"]):
            problems.append(f"reasons {got}, expected {sorted(expect['reasons'])}")
    if "missing" in expect:
        got = sorted(m.fact for m in d.missing_information)
        if got != sorted(expect["missing"]):
            problems.append(f"missing {got}, expected {sorted(expect['missing'])}")
    results = _results(d)
    for criterion, wanted in (expect.get("criteria") or {}).items():
        if results.get(criterion) != wanted:
            problems.append(f"{criterion} is {results.get(criterion, 'absent')}, expected {wanted}")
    for key, wanted in (expect.get("authorization") or {}).items():
        value = getattr(d.authorization, key, None) if d.authorization else None
        if str(value) != str(wanted):
            problems.append(f"authorization.{key} is {value}, expected {wanted}")
    if "flags" in expect and len(d.flags) != expect["flags"]:
        problems.append(f"{len(d.flags)} flags, expected {expect['flags']}: {d.flags}")
    return not problems, problems


def _results(d: Determination) -> dict[str, str]:
    out: dict[str, str] = {}

    def visit(c: Criterion) -> None:
        out[c["id"]] = c["result"]
        for child in c["children"]:
            visit(child)

    for p in d.pathways:
        out[p.id] = p.result
        if p.criteria is not None:
            visit(p.criteria)
    return out
