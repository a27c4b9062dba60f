"""What the service writes names its code systems by the URIs of the one table in
``adapters/fhir/codes.py`` (each checked against HL7 Terminology, THO, or the IG that defines it),
and every OperationOutcome points at elements with FHIRPath, never at an HTTP body or header."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhirpathpy import compile as fhirpath_compile
from fhirpathpy.models import models

from medpolicy.adapters.fhir.codes import SOURCES, System, known_system
from tests.fhir.conformance.emitted import Emitted

# Resources the service makes (echoed ones keep the sender's systems, as PAS requires).
MADE = {
    "ClaimResponse",
    "CommunicationRequest",
    "Questionnaire",
    "OperationOutcome",
    "CapabilityStatement",
    "Parameters",
}


def systems(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("system"), str) and ("code" in node or "value" in node):
            yield node["system"]
        for key, value in node.items():
            if key not in ("identifier",):
                yield from systems(value)
    elif isinstance(node, list):
        for value in node:
            yield from systems(value)


def made(emitted: list[Emitted]) -> Iterator[tuple[str, dict[str, Any]]]:
    for e in emitted:
        for name, resource in e.resources:
            if resource["resourceType"] in MADE:
                yield name, resource
            if resource["resourceType"] == "Bundle":
                for entry in resource.get("entry") or []:
                    if entry["resource"]["resourceType"] in MADE:
                        yield name, entry["resource"]
        if isinstance(e.body, dict):  # CDS Hooks: the coverage information the service adds
            for action in e.body.get("systemActions") or []:
                for ext in action["resource"].get("extension") or []:
                    if "coverage-information" in ext["url"]:
                        yield e.name, ext


def test_every_system_the_service_writes_is_in_the_table(emitted: list[Emitted]) -> None:
    written = {s for _, r in made(emitted) for s in systems(r)}
    assert System.HCPCS in written and System.X12_REVIEW_ACTION in written
    assert sorted(s for s in written if not known_system(s)) == []
    assert "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets" not in written


def test_each_system_in_the_table_says_where_it_is_defined() -> None:
    for uri, source in SOURCES.items():
        assert source.startswith(("THO CodeSystem ", "Da Vinci ", "SDC ")), uri
    assert SOURCES[System.HCPCS] == "THO CodeSystem HCPCS-all-codes"
    assert System.HCPCS == "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"


def _outcomes(emitted: list[Emitted]) -> Iterator[tuple[str, dict[str, Any]]]:
    for e in emitted:
        for name, resource in e.resources:
            if resource["resourceType"] == "OperationOutcome":
                yield name, resource
            for p in (
                resource.get("parameter") or [] if resource["resourceType"] == "Parameters" else []
            ):
                if p.get("resource", {}).get("resourceType") == "OperationOutcome":
                    yield name, p["resource"]


HOOK_FIELDS = {"hook", "hookInstance", "context", "prefetch", "fhirServer", "fhirAuthorization"}


def test_every_operation_outcome_expression_is_fhirpath(emitted: list[Emitted]) -> None:
    """Each expression compiles as FHIRPath and starts at the resource that was sent (or, for a
    CDS Hooks call, at a field of the hook request)."""
    outcomes = list(_outcomes(emitted))
    assert len(outcomes) >= 10
    expressions = [
        (name, x) for name, o in outcomes for i in o["issue"] for x in i.get("expression", [])
    ]
    assert expressions
    for name, expression in expressions:
        fhirpath_compile(expression, models["r4"])
        head = expression.split(".")[0].split("[")[0]
        assert head[0].isupper() or head in HOOK_FIELDS, (name, expression)
    bare = [(n, i["diagnostics"]) for n, o in outcomes for i in o["issue"] if "expression" not in i]
    assert any("Authorization header" in d for _, d in bare)  # said, not pointed at
