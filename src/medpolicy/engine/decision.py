"""The decision record: one fixed vocabulary of outcomes, carried by every surface.

A decision is data: it names the policy (id, version, content hash) and engine version it came
from, the clause behind every criterion, the facts each criterion read, and, for anything but an
approval, the specific reasons or the exact facts still needed.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict

__all__ = [
    "Authorization",
    "ClaimLineOut",
    "Criterion",
    "Decision",
    "MissingFact",
    "Outcome",
    "PathwayResult",
    "PolicyRef",
    "PrecautionOut",
    "Reason",
    "Scope",
    "VialCount",
]


class Outcome(StrEnum):
    approved = "approved"
    missing_information = "missing_information"
    not_met = "not_met"
    out_of_scope = "out_of_scope"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Criterion(TypedDict):
    """One node of the criteria trace. A plain mapping: a decision carries dozens of them."""

    id: str
    criterion: str
    clause: str
    text: str
    reading: str | None
    result: str  # met | not_met | unknown
    facts: dict[str, Any]
    missing: list[str]
    detail: str
    flags: list[str]
    children: list[Criterion]


class PathwayResult(_Out):
    id: str
    phase: str
    indication: str | None
    indication_label: str | None
    applicable: bool
    result: str  # met | not_met | unknown | not_applicable
    clause: str
    criteria: Criterion | None = None


class Reason(_Out):
    pathway: str
    criterion: str
    clause: str
    text: str
    detail: str


class MissingFact(_Out):
    fact: str
    label: str
    request_field: str
    needed_for: list[str]
    clauses: list[str]
    note: str | None = None


class VialCount(_Out):
    size_mg: int
    count: int


class ClaimLineOut(_Out):
    hcpcs: str
    modifier: str | None
    units: int


class Authorization(_Out):
    hcpcs: str
    period_start: date
    period_end: date
    months: int
    dose_mg: str
    mg_per_kg: str
    weight_kg: str
    interval_days: int
    administrations: int
    units_per_administration: int
    total_units: int
    vials_per_administration: list[VialCount]
    waste_units_per_administration: int
    claim_lines_per_administration: list[ClaimLineOut]


class PolicyRef(_Out):
    id: str
    title: str
    payer: str
    version: str
    effective_date: date
    content_hash: str


class Scope(_Out):
    line_of_business: str | None
    applies: bool | None
    clause: str | None = None
    text: str | None = None
    route_to: str | None = None


class PrecautionOut(_Out):
    id: str
    kind: str
    clause: str
    text: str


class Decision(_Out):
    decision_id: str
    request_id: str
    outcome: Outcome
    summary: str
    request_type: str
    evaluated_at: datetime
    policy: PolicyRef
    engine_version: str
    code_set: str
    scope: Scope
    indications: list[str]
    pathways: list[PathwayResult]
    reasons: list[Reason]
    missing_information: list[MissingFact]
    authorization: Authorization | None
    flags: list[str]
    precautions: list[PrecautionOut]

    def to_json(self) -> str:
        """Canonical JSON: the same request under the same policy gives the same bytes."""
        return self.model_dump_json(indent=2) + "\n"
