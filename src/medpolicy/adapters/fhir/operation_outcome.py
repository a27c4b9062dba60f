"""OperationOutcome: every problem with its severity, FHIR issue type and the element concerned.

Validation of an incoming resource reports *every* problem at once, each with an ``expression``
(FHIRPath) pointing at the element, the way the policy loader reports every diagnostic with its
path; the caller fixes them all in one round trip.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

__all__ = ["OutcomeIssue", "fhirpath", "is_fhirpath", "operation_outcome", "validation_issues"]

Severity = Literal["fatal", "error", "warning", "information"]


# The FHIRPath this service writes: a resource type (or a CDS Hooks request field) and element
# names, each optionally indexed. A location that is not an element (the HTTP body, a header, a
# URL) is said in the diagnostics instead.
_FHIRPATH = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\[\d+\])?(\.[A-Za-z][A-Za-z0-9_]*(\[\d+\])?)*$")


def is_fhirpath(expression: str) -> bool:
    return bool(_FHIRPATH.match(expression))


@dataclass(frozen=True)
class OutcomeIssue:
    severity: Severity
    code: str  # FHIR IssueType: invalid, structure, required, value, not-found, not-supported...
    diagnostics: str
    expression: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression and is_fhirpath(self.expression):
            out["expression"] = [self.expression]
        elif self.expression and not self.diagnostics.startswith(self.expression):
            # not an element (the body, a header): named in the diagnostics instead
            out["diagnostics"] = f"{self.expression}: {self.diagnostics}"
        return out


def operation_outcome(
    issues: Iterable[OutcomeIssue], resource_id: str | None = None
) -> dict[str, Any]:
    listed = [i.as_json() for i in issues] or [
        {"severity": "information", "code": "informational", "diagnostics": "no issues"}
    ]
    out: dict[str, Any] = {"resourceType": "OperationOutcome", "issue": listed}
    if resource_id:
        out["id"] = resource_id
    return out


def fhirpath(root: str, loc: Sequence[int | str]) -> str:
    """A pydantic error location as a FHIRPath expression: ``Bundle.entry[0].resource.status``."""
    out = root
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


_TYPE_CODES = {"missing": "required", "extra_forbidden": "structure"}


def validation_issues(exc: ValidationError, root: str) -> list[OutcomeIssue]:
    issues = []
    for error in exc.errors():
        loc = [p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        message = str(error["msg"])
        if error["type"] == "extra_forbidden":
            message = "unknown element (not in the FHIR R4 definition of this resource)"
        elif error["type"] == "missing":
            message = "required element is missing"
        issues.append(
            OutcomeIssue(
                "error", _TYPE_CODES.get(error["type"], "invalid"), message, fhirpath(root, loc)
            )
        )
    return issues
