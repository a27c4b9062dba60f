"""The input layouts the claims audit reads: claim lines (837-like), authorizations, members.

A claim line is one service line of a professional or outpatient claim, as an X12 837 carries
it, flattened to one row: the claim (CLM01), the line (LX), the member, the date of service
(DTP*472), the procedure code and its modifiers (SV1-01 / SV2-02), the units (SV1-04), the
line's diagnosis codes in pointer order (HI, up to four per line), the rendering and billing
providers' NPIs, the place of service and the amount paid. Every column is read as text first
and checked against its pattern, so a malformed value is reported with its file, row and column
(the same on every engine) instead of failing the run or being coerced.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "AUTHORIZATIONS",
    "CLAIM_LINES",
    "MEMBERS",
    "Column",
    "Layout",
    "SqlType",
]

SqlType = Literal["text", "integer", "date", "money", "weight"]

# The SQL type each kind of column is cast to once it matches its pattern.
SQL_TYPES: Final[dict[SqlType, str]] = {
    "text": "VARCHAR",
    "integer": "BIGINT",
    "date": "DATE",
    "money": "DECIMAL(12, 2)",
    "weight": "DECIMAL(9, 3)",
}

_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DIAGNOSIS = r"[A-Za-z][0-9][0-9A-Za-z](\.?[0-9A-Za-z]{1,4})?"


@dataclass(frozen=True)
class Column:
    name: str
    kind: SqlType
    pattern: str  # the whole value must match (after trimming)
    required: bool
    description: str
    what: str  # how a reason names a bad value, e.g. "a date (YYYY-MM-DD)"
    # a number read already typed (a Parquet integer or decimal): the range its pattern allows
    bounds: tuple[str, str] | None = None
    # the unit a number is in: a catalogue fact's ``plausible_max`` is held to it (plan.Plausible)
    unit: str | None = None


@dataclass(frozen=True)
class Layout:
    name: str
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


_BOUNDS: Final[dict[str, tuple[str, str]]] = {
    "line_number": ("1", "9999"),
    "units": ("1", "999999"),
    "paid_amount": ("0", "9999999999.99"),
}


def _c(
    name: str, kind: SqlType, pattern: str, required: bool, description: str, what: str
) -> Column:
    return Column(name, kind, pattern, required, description, what, _BOUNDS.get(name))


CLAIM_LINES = Layout(
    "claim lines",
    (
        _c("claim_id", "text", r"[^\s].{0,63}", True, "claim identifier (CLM01)", "an id"),
        _c(
            "line_number",
            "integer",
            r"[1-9][0-9]{0,3}",
            True,
            "service line number (LX01)",
            "a line number",
        ),
        _c("member_id", "text", r"[^\s].{0,63}", True, "member identifier", "an id"),
        _c("service_date", "date", _DATE, True, "date of service (DTP*472)", "a date (YYYY-MM-DD)"),
        _c("hcpcs", "text", r"[A-Za-z][0-9]{4}", True, "HCPCS code (SV1-01)", "a HCPCS code"),
        _c(
            "modifiers",
            "text",
            r"[A-Za-z0-9]{2}(:[A-Za-z0-9]{2}){0,3}",
            False,
            "up to four modifiers separated by ':' (e.g. JW, JZ, JW:KX)",
            "modifiers like JW or JW:KX",
        ),
        _c("units", "integer", r"[1-9][0-9]{0,5}", True, "billing units (SV1-04)", "whole units"),
        _c(
            "dx1",
            "text",
            _DIAGNOSIS,
            True,
            "first ICD-10-CM code (dotted or not)",
            "an ICD-10-CM code",
        ),
        _c("dx2", "text", _DIAGNOSIS, False, "second ICD-10-CM code", "an ICD-10-CM code"),
        _c("dx3", "text", _DIAGNOSIS, False, "third ICD-10-CM code", "an ICD-10-CM code"),
        _c("dx4", "text", _DIAGNOSIS, False, "fourth ICD-10-CM code", "an ICD-10-CM code"),
        _c("rendering_npi", "text", r"[0-9]{10}", True, "rendering provider NPI", "a 10-digit NPI"),
        _c("billing_npi", "text", r"[0-9]{10}", True, "billing provider NPI", "a 10-digit NPI"),
        _c(
            "place_of_service", "text", r"[0-9]{2}", True, "place of service code", "a 2-digit code"
        ),
        _c(
            "paid_amount",
            "money",
            r"[0-9]{1,10}(\.[0-9]{1,2})?",
            True,
            "amount paid for the line, in dollars",
            "an amount like 1234.56",
        ),
    ),
)

AUTHORIZATIONS = Layout(
    "authorizations",
    (
        _c("authorization_id", "text", r"[^\s].{0,127}", True, "authorization or case id", "an id"),
        _c("member_id", "text", r"[^\s].{0,63}", True, "member identifier", "an id"),
        _c(
            "hcpcs",
            "text",
            r"[A-Za-z][0-9]{4}",
            True,
            "the drug authorized (HCPCS)",
            "a HCPCS code",
        ),
        _c("period_start", "date", _DATE, True, "first day authorized", "a date (YYYY-MM-DD)"),
        _c("period_end", "date", _DATE, True, "last day authorized", "a date (YYYY-MM-DD)"),
        _c(
            "units_per_administration",
            "integer",
            r"[0-9]{1,6}",
            True,
            "billing units authorized per administration",
            "whole units",
        ),
        _c(
            "total_units",
            "integer",
            r"[0-9]{1,7}",
            True,
            "units authorized over the period",
            "whole units",
        ),
    ),
)

MEMBERS = Layout(
    "members",
    (
        _c("member_id", "text", r"[^\s].{0,63}", True, "member identifier", "an id"),
        # the pattern allows up to 999.999 kg; the catalogue's ``plausible_max`` of the fact the
        # column holds is the real limit (``mapping.audit_plan``; more is a reject)
        Column(
            "weight_kg",
            "weight",
            r"[0-9]{1,3}(\.[0-9]{1,3})?",
            True,
            "body weight in kg (the plan's current record)",
            "a weight in kg like 68.5",
            unit="kg",
        ),
    ),
)
