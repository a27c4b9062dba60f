"""Is this a PAS request Bundle we can process? Every problem at once, each with its element.

First the R4 structure of every resource (with ``fhir.resources.R4B``, one resource at a time so a
problem's expression names its entry), then what PAS needs of the Claim: first in the Bundle, a
preauthorization, its required elements, and every resource it references present in the Bundle.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from medpolicy.adapters.fhir.bindings import code_problems
from medpolicy.adapters.fhir.operation_outcome import OutcomeIssue, validation_issues
from medpolicy.adapters.fhir.resources import Located, ResourceIndex, as_list, parse_datetime

__all__ = ["MAX_ENTRIES", "PasRejected", "check_bundle", "resource_issues"]

MAX_ENTRIES = 500
_REQUIRED = ("status", "use", "created", "patient", "insurer", "provider", "insurance", "item")


class PasRejected(Exception):
    """The Bundle cannot be processed as sent: every problem, with its element."""

    def __init__(self, issues: list[OutcomeIssue], status_code: int = 400) -> None:
        super().__init__("; ".join(f"{i.expression}: {i.diagnostics}" for i in issues))
        self.issues = issues
        self.status_code = status_code


def check_bundle(data: Any) -> tuple[ResourceIndex, Located]:
    """The Bundle's index and its Claim, or PasRejected listing every problem found."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        found = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise PasRejected(
            [
                OutcomeIssue(
                    "error", "structure", f"expected a PAS request Bundle, got {found!r}", "Bundle"
                )
            ]
        )
    issues = _bundle_issues(data)
    entries = as_list(data.get("entry"))
    first = entries[0].get("resource") if entries and isinstance(entries[0], dict) else None
    if not isinstance(first, dict) or first.get("resourceType") != "Claim":
        issues.append(
            OutcomeIssue(
                "error",
                "structure",
                "the first entry of a PAS request Bundle must be the Claim",
                "Bundle.entry[0].resource",
            )
        )
    if issues:
        raise PasRejected(issues)
    assert isinstance(first, dict)
    index = ResourceIndex.from_bundle(data)
    claim = Located(first, "Bundle.entry[0].resource")
    issues = _claim_issues(index, claim)
    if issues:
        raise PasRejected(issues)
    return index, claim


def _bundle_issues(bundle: dict[str, Any]) -> list[OutcomeIssue]:
    """R4 structure of every entry's resource, then of the Bundle around them."""
    entries = as_list(bundle.get("entry"))
    if len(entries) > MAX_ENTRIES:
        return [
            OutcomeIssue("error", "too-costly", f"more than {MAX_ENTRIES} entries", "Bundle.entry")
        ]
    issues: list[OutcomeIssue] = []
    shell: dict[str, Any] = {k: v for k, v in bundle.items() if k != "entry"}
    shell["entry"] = []
    for i, entry in enumerate(entries):
        path = f"Bundle.entry[{i}]"
        if not isinstance(entry, dict):
            issues.append(OutcomeIssue("error", "structure", "an entry must be an object", path))
            continue
        shell["entry"].append({k: v for k, v in entry.items() if k != "resource"})
        issues += resource_issues(entry.get("resource"), f"{path}.resource")
    if bundle.get("type") != "collection":
        issues.append(
            OutcomeIssue(
                "error", "value", "a PAS request Bundle has type 'collection'", "Bundle.type"
            )
        )
    try:
        get_fhir_model_class("Bundle").model_validate(shell)
    except ValidationError as exc:
        issues += validation_issues(exc, "Bundle")
    return issues


def resource_issues(resource: Any, path: str) -> list[OutcomeIssue]:
    """Problems with one resource's R4 structure (element names, types, cardinality) and its
    codes in required bindings."""
    if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
        return [OutcomeIssue("error", "structure", "expected a resource with a resourceType", path)]
    try:
        model = get_fhir_model_class(resource["resourceType"])
    except (KeyError, ValueError):
        return [
            OutcomeIssue(
                "error",
                "structure",
                f"{resource['resourceType']!r} is not an R4 resource type",
                f"{path}.resourceType",
            )
        ]
    try:
        parsed = model.model_validate(resource)
    except ValidationError as exc:
        return validation_issues(exc, path)
    except (KeyError, TypeError, ValueError) as exc:  # fhir.resources raises these on bad types
        return [OutcomeIssue("error", "structure", f"not a valid resource: {exc}", path)]
    return [OutcomeIssue("error", "code-invalid", p, e) for e, p in code_problems(parsed, path)]


def _references(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every Reference.reference under an element, with its expression (contained ones aside)."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{path}.{key}"
            if key == "reference" and isinstance(value, str) and not value.startswith("#"):
                yield value, here
            elif key != "text":
                yield from _references(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _references(value, f"{path}[{i}]")


def _claim_issues(index: ResourceIndex, claim: Located) -> list[OutcomeIssue]:
    r = claim.resource
    issues = [
        OutcomeIssue("error", "required", f"Claim.{key} is required by PAS", claim.at(key))
        for key in _REQUIRED
        if not r.get(key)
    ]
    if r.get("use") and r.get("use") != "preauthorization":
        issues.append(
            OutcomeIssue(
                "error",
                "value",
                f"Claim.use is {r['use']!r}; a PAS request is a preauthorization",
                claim.at("use"),
            )
        )
    if r.get("created") and parse_datetime(r["created"]) is None:
        issues.append(
            OutcomeIssue("error", "value", "Claim.created is not a dateTime", claim.at("created"))
        )
    issues += [
        OutcomeIssue(
            "error",
            "required",
            "each item needs productOrService",
            claim.at("item", i, "productOrService"),
        )
        for i, item in enumerate(as_list(r.get("item")))
        if not isinstance(item, dict) or not item.get("productOrService")
    ]
    return issues + _unresolved(index, claim)


def _unresolved(index: ResourceIndex, claim: Located) -> list[OutcomeIssue]:
    """PAS requires every resource the Claim references to travel in the Bundle."""
    return [
        OutcomeIssue(
            "error",
            "not-found",
            f"PAS requires every resource the Claim references in the Bundle: {ref!r} is not there",
            path,
        )
        for ref, path in _references(claim.resource, claim.path)
        if index.resolve({"reference": ref}, claim) is None
    ]
