"""The audit plan: small frozen nodes, one per claim-line check, each carrying its clause.

``mapping.audit_plan`` builds a plan from a validated policy; the SQL compiler
(``compile.py``) and the Python evaluator (``evaluate.py``) are two walkers over the same plan,
so neither keeps its own copy of a code, a limit or a citation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import ClassVar, Final

__all__ = [
    "FLAG_COLUMNS",
    "LINE_COLUMNS",
    "AuditPlan",
    "AuthorizationOnFile",
    "AuthorizedUnits",
    "Check",
    "Clause",
    "DoseLimit",
    "DosingInterval",
    "DuplicateLine",
    "FamilyDrug",
    "LookAlike",
    "Plausible",
    "SupportingCode",
    "SupportingDiagnosis",
    "Unsupported",
    "VialWaste",
]

# What a flagged line carries, the same from every walker: the line, then the check, its clause
# and the values it used.
LINE_COLUMNS: Final = (
    "claim_id",
    "line_number",
    "member_id",
    "service_date",
    "hcpcs",
    "modifiers",
    "units",
    "rendering_npi",
    "billing_npi",
    "paid_amount",
    "source_file",
    "source_row",
)
FLAG_COLUMNS: Final = (*LINE_COLUMNS, "check", "clause", "values")


class Unsupported(Exception):
    """A policy construct the audit (or one backend of it) cannot run: refused when compiling."""

    def __init__(self, node: str, reason: str, dialect: str | None = None) -> None:
        self.node, self.reason, self.dialect = node, reason, dialect
        where = f" for {dialect}" if dialect else ""
        super().__init__(f"cannot compile policy node {node!r}{where}: {reason}")


@dataclass(frozen=True)
class Clause:
    """What a flag cites: the guideline's section(s) and words, and the policy nodes behind it."""

    section: str
    text: str
    nodes: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    name: ClassVar[str]
    clause: Clause


@dataclass(frozen=True)
class SupportingCode:
    code: str  # dotted, upper case
    valid_from: date | None  # a code new in the code set supports lines from its first day
    listed: bool = True  # in an indication's own list (else: a condition none of them lists)


@dataclass(frozen=True)
class SupportingDiagnosis(Check):
    """Some ICD-10-CM code on the line supports an indication (and is in effect that day)."""

    name: ClassVar[str] = "diagnosis_supports_indication"
    codes: tuple[SupportingCode, ...]
    code_set: str


@dataclass(frozen=True)
class DoseLimit(Check):
    """Administered units ≤ the dose limit × the member's weight, else ≤ the authorized units."""

    name: ClassVar[str] = "units_within_dose_limit"
    max_mg_per_kg: Decimal
    mg_per_unit: Decimal


@dataclass(frozen=True)
class DosingInterval(Check):
    """At least ``min_days`` since the member's previous administration of the drug."""

    name: ClassVar[str] = "dosing_interval"
    min_days: int


@dataclass(frozen=True)
class VialWaste(Check):
    """JW / JZ lines agree with the least-waste combination of single-use vials."""

    name: ClassVar[str] = "jw_jz_matches_vials"
    vial_sizes_mg: tuple[int, ...]
    mg_per_unit: Decimal


@dataclass(frozen=True)
class AuthorizationOnFile(Check):
    """An authorization for this drug covers the date of service."""

    name: ClassVar[str] = "authorization_on_file"


@dataclass(frozen=True)
class AuthorizedUnits(Check):
    """Administered units across the authorization's period stay within its total units."""

    name: ClassVar[str] = "authorized_units_not_exceeded"


@dataclass(frozen=True)
class FamilyDrug:
    hcpcs: str
    drug: str  # the vocabulary's id: codes of one drug (a product and its biosimilars) agree
    label: str


@dataclass(frozen=True)
class LookAlike(Check):
    """A product of the look-alike family billed while only another one is authorized."""

    name: ClassVar[str] = "look_alike_product"


@dataclass(frozen=True)
class DuplicateLine(Check):
    """The same service billed again (member, date, code, modifiers, units, rendering NPI)."""

    name: ClassVar[str] = "duplicate_line"
    key: tuple[str, ...]


@dataclass(frozen=True)
class Plausible:
    """The most an input column can plausibly hold: the catalogue's ``plausible_max`` of the fact
    the column holds, in the column's unit. A row holding more is a reject (a unit slip, pounds
    sent as kilograms), and no check reads the value: an implausible weight never raises a dose
    limit."""

    input: str  # the layout's name (``layout.MEMBERS.name``)
    column: str
    most: Decimal
    unit: str
    fact: str  # the fact's short name, for the reject's reason


@dataclass(frozen=True)
class AuditPlan:
    policy_id: str
    policy_version: str
    content_hash: str
    hcpcs: str  # the policy's drug
    drug: str  # its vocabulary id
    family: tuple[FamilyDrug, ...]  # every product billed in its place by mistake, and itself
    checks: tuple[Check, ...]
    plausible: tuple[Plausible, ...]  # the catalogue's limits on the inputs' columns

    def check(self, kind: type[Check]) -> Check:
        return next(c for c in self.checks if isinstance(c, kind))

    def most(self, input_name: str, column: str) -> Decimal | None:
        """The most ``column`` of ``input_name`` can plausibly hold (None: no limit declared)."""
        return next(
            (x.most for x in self.plausible if (x.input, x.column) == (input_name, column)), None
        )

    @property
    def check_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks)
