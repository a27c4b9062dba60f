"""The audit plan evaluated in plain Python, line by line: the reference the compiled SQL is held
to, row for row (``tests/batch``), written from the checks' definitions rather than from the SQL.
Billing units, vials and the dose cap come from ``medpolicy.definitions``, exactly as decisions
compute them."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from medpolicy.batch import plan as p
from medpolicy.batch.layout import CLAIM_LINES, MEMBERS, Column
from medpolicy.batch.tables import vial_plan_text
from medpolicy.definitions.billing import billing_units, least_waste_vials
from medpolicy.definitions.dose import max_dose_mg

__all__ = ["evaluate_claims"]

Row = dict[str, Any]
_WEIGHT = Decimal("0.001")


def evaluate_claims(
    plan: p.AuditPlan,
    rows: Iterable[Row],
    authorizations: Iterable[Row] = (),
    weights: Mapping[str, Decimal] | None = None,
) -> tuple[list[Row], list[Row]]:
    """The flags (``plan.FLAG_COLUMNS``, in the SQL's order) and the rejected rows of ``rows``
    (each a claim line as read: text values, with ``source_file`` and ``source_row``).
    ``weights``: each member's weight in kg; one over the plan's plausible limit is not read."""
    lines: list[Row] = []
    rejects: list[Row] = []
    family = {f.hcpcs: f.drug for f in plan.family}
    for row in rows:
        line, problem = _checked(row)
        if problem is not None:
            column, reason = problem.split(":", 1)
            value = line.get(column)
            rejects.append(
                {
                    "source_file": row["source_file"],
                    "source_row": row["source_row"],
                    "column": column,
                    "value": value,
                    "reason": reason.strip(),
                }
            )
        elif line["hcpcs"] in family:
            line["drug"] = family[line["hcpcs"]]
            lines.append(line)
    auths = [{**a, "drug": family[a["hcpcs"]]} for a in authorizations if a["hcpcs"] in family]
    audit = _Audit(plan, lines, auths, dict(weights or {}))
    flags = [flag for check in plan.checks for flag in audit.flags(check)]
    flags.sort(
        key=lambda f: (
            f["claim_id"],
            f["line_number"],
            f["check"],
            f["source_file"],
            f["source_row"],
        )
    )
    rejects.sort(key=lambda r: (r["source_file"], r["source_row"]))
    return flags, rejects


# -- reading a line: the layout's patterns, in the SQL's order ------------------------------------


def _checked(row: Row) -> tuple[Row, str | None]:
    text: Row = {}
    problem = None
    for column in CLAIM_LINES.columns:
        raw = row.get(column.name)
        value = None if raw is None else str(raw).strip() or None
        text[column.name] = value
        if problem is None:
            problem = _problem(column, value)
    if problem is not None:
        return text, problem
    line = {"source_file": row["source_file"], "source_row": row["source_row"]}
    for column in CLAIM_LINES.columns:
        line[column.name] = _typed(column, text[column.name])
    return line, None


def _problem(column: Column, value: str | None) -> str | None:
    if value is None:
        return f"{column.name}: required, missing" if column.required else None
    if not re.fullmatch(column.pattern, value):
        return f"{column.name}: expected {column.what}"
    if column.kind == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return f"{column.name}: no such date"
    return None


def _typed(column: Column, value: str | None) -> Any:
    if value is None:
        return None
    if column.name in ("hcpcs", "modifiers"):
        return value.upper()
    if column.name.startswith("dx"):
        return (
            value[:3] + "." + value[3:] if len(value) > 3 and "." not in value else value
        ).upper()
    if column.kind == "integer":
        return int(value)
    if column.kind == "date":
        return date.fromisoformat(value)
    if column.kind == "money":
        return Decimal(value)
    return value


# -- administrations and the checks ---------------------------------------------------------------


@dataclass
class _Administration:
    administered_units: int = 0
    jw_units: int = 0
    jw_lines: int = 0
    jz_lines: int = 0
    previous: date | None = None
    authorization: Row | None = None
    units_to_date: int | None = None
    weight: Decimal | None = None


def _modifiers(line: Row) -> set[str]:
    return set((line["modifiers"] or "").split(":"))


class _Audit:
    def __init__(
        self, plan: p.AuditPlan, lines: list[Row], auths: list[Row], weights: dict[str, Decimal]
    ) -> None:
        self.plan = plan
        self.auths = auths
        self.lines = sorted(
            lines,
            key=lambda r: (r["claim_id"], r["line_number"], r["source_file"], r["source_row"]),
        )
        self.first: dict[tuple[Any, ...], Row] = {}
        self.duplicates: list[Row] = []
        key = next((c.key for c in plan.checks if isinstance(c, p.DuplicateLine)), None)
        for line in self.lines:
            k = (
                tuple(line[c] or "" if c == "modifiers" else line[c] for c in key)
                if key
                else id(line)
            )
            original = self.first.setdefault(k, line)  # type: ignore[arg-type]
            if original is not line:
                line["duplicate_of"] = original
                self.duplicates.append(line)
        self.kept = [ln for ln in self.lines if "duplicate_of" not in ln]
        self.administrations = self._administrations(weights)

    def _administrations(
        self, weights: dict[str, Decimal]
    ) -> dict[tuple[str, date], _Administration]:
        found: dict[tuple[str, date], _Administration] = defaultdict(_Administration)
        for line in self.kept:
            if line["hcpcs"] != self.plan.hcpcs:
                continue
            a = found[(line["member_id"], line["service_date"])]
            modifiers = _modifiers(line)
            if "JW" in modifiers:
                a.jw_units += line["units"]
                a.jw_lines += 1
            else:
                a.administered_units += line["units"]
            a.jz_lines += "JZ" in modifiers
        previous: dict[str, date] = {}
        # a weight over the catalogue's plausible limit is not the member's weight: never read
        most = self.plan.most(MEMBERS.name, "weight_kg")
        for (member, day), a in sorted(found.items()):
            weight = weights.get(member)
            a.weight = None if weight is None or (most is not None and weight > most) else weight
            if a.administered_units > 0:
                a.previous = previous.get(member)
                previous[member] = day
            covering = [
                x
                for x in self.auths
                if x["member_id"] == member
                and x["drug"] == self.plan.drug
                and x["period_start"] <= day <= x["period_end"]
            ]
            if covering:
                a.authorization = max(
                    covering, key=lambda x: (x["period_start"], x["authorization_id"])
                )
        totals: dict[str, int] = defaultdict(int)
        for _key, a in sorted(found.items(), key=lambda item: item[0][1]):
            if a.authorization is not None:
                totals[a.authorization["authorization_id"]] += a.administered_units
                a.units_to_date = totals[a.authorization["authorization_id"]]
        return found

    # each check: the lines it flags, with the values it used

    def flags(self, check: p.Check) -> Iterable[Row]:
        method = getattr(self, "_" + check.name)
        for line, values in method(check):
            yield {
                **{c: line[c] for c in p.LINE_COLUMNS},
                "check": check.name,
                "clause": check.clause.section,
                "values": values,
            }

    def _drug_lines(self, administered_only: bool = False) -> Iterable[tuple[Row, _Administration]]:
        for line in self.kept:
            if line["hcpcs"] == self.plan.hcpcs and not (
                administered_only and "JW" in _modifiers(line)
            ):
                yield line, self.administrations[(line["member_id"], line["service_date"])]

    def _diagnosis_supports_indication(
        self, check: p.SupportingDiagnosis
    ) -> Iterable[tuple[Row, str]]:
        valid = {c.code: c.valid_from for c in check.codes}
        for line, _a in self._drug_lines():
            codes = [line[d] for d in ("dx1", "dx2", "dx3", "dx4") if line[d] is not None]
            if not any(
                c in valid and (valid[c] is None or line["service_date"] >= valid[c]) for c in codes
            ):
                yield line, f"dx={','.join(codes)}; code_set={check.code_set}"

    def _units_within_dose_limit(self, check: p.DoseLimit) -> Iterable[tuple[Row, str]]:
        for line, a in self._drug_lines(administered_only=True):
            units = a.administered_units
            if a.weight is not None:
                weight = a.weight.quantize(_WEIGHT)
                most = billing_units(max_dose_mg(weight, check.max_mg_per_kg), check.mg_per_unit)
                if units > most:
                    yield (
                        line,
                        (
                            f"administered_units={units}; weight_kg={weight}; "
                            f"max_mg_per_kg={check.max_mg_per_kg}; max_units={most}"
                        ),
                    )
            elif (
                a.authorization is not None and units > a.authorization["units_per_administration"]
            ):
                yield (
                    line,
                    (
                        f"administered_units={units}; authorized_units_per_administration="
                        f"{a.authorization['units_per_administration']}; "
                        f"authorization={a.authorization['authorization_id']}"
                    ),
                )

    def _dosing_interval(self, check: p.DosingInterval) -> Iterable[tuple[Row, str]]:
        for line, a in self._drug_lines(administered_only=True):
            if a.previous is not None and (line["service_date"] - a.previous).days < check.min_days:
                days = (line["service_date"] - a.previous).days
                yield (
                    line,
                    f"previous_service_date={a.previous}; days={days}; min_days={check.min_days}",
                )

    def _jw_jz_matches_vials(self, check: p.VialWaste) -> Iterable[tuple[Row, str]]:
        for line, a in self._drug_lines():
            waste, vials = None, None
            if a.administered_units > 0:
                mg = Decimal(a.administered_units) * check.mg_per_unit
                plan = least_waste_vials(mg, check.vial_sizes_mg, check.mg_per_unit)
                waste, vials = plan.waste_units, vial_plan_text(plan.vials)
            modifiers = _modifiers(line)
            if "JZ" in modifiers:
                bad = (waste is not None and waste >= 1) or a.jw_lines > 0
            elif "JW" in modifiers:
                bad = a.administered_units == 0 or waste == 0 or a.jw_units != waste
            else:
                bad = (waste is not None and waste >= 1 and a.jw_lines == 0) or (
                    waste == 0 and a.jz_lines == 0
                )
            if bad:
                yield (
                    line,
                    (
                        f"administered_units={a.administered_units}; jw_units={a.jw_units}; "
                        f"expected_waste_units={_none(waste)}; vials={_none(vials)}"
                    ),
                )

    def _authorization_on_file(self, check: p.AuthorizationOnFile) -> Iterable[tuple[Row, str]]:
        for line, a in self._drug_lines(administered_only=True):
            if a.authorization is None:
                yield (
                    line,
                    f"hcpcs={line['hcpcs']}; service_date={line['service_date']}; "
                    "authorization=none",
                )

    def _authorized_units_not_exceeded(self, check: p.AuthorizedUnits) -> Iterable[tuple[Row, str]]:
        for line, a in self._drug_lines(administered_only=True):
            x = a.authorization
            if x is not None and a.units_to_date is not None and a.units_to_date > x["total_units"]:
                yield (
                    line,
                    (
                        f"authorization={x['authorization_id']}; units_to_date={a.units_to_date}; "
                        f"total_units={x['total_units']}; "
                        f"period={x['period_start']}..{x['period_end']}"
                    ),
                )

    def _look_alike_product(self, check: p.LookAlike) -> Iterable[tuple[Row, str]]:
        for line in self.kept:
            covering = [
                x
                for x in self.auths
                if x["member_id"] == line["member_id"]
                and x["period_start"] <= line["service_date"] <= x["period_end"]
            ]
            others = [x for x in covering if x["drug"] != line["drug"]]
            if others and not any(x["drug"] == line["drug"] for x in covering):
                hcpcs = min(x["hcpcs"] for x in others)
                drug = min(x["drug"] for x in others)
                yield line, f"billed={line['hcpcs']} ({line['drug']}); authorized={hcpcs} ({drug})"

    def _duplicate_line(self, check: p.DuplicateLine) -> Iterable[tuple[Row, str]]:
        for line in self.duplicates:
            first = line["duplicate_of"]
            yield line, f"duplicate_of={first['claim_id']}/{first['line_number']}"


def _none(value: object) -> str:
    return "none" if value is None else str(value)
