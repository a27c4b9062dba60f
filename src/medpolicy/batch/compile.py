"""The audit plan compiled to SQL: one sqlglot tree per step, generated for each backend.

Each check node compiles to a SELECT of the lines it flags, with the check's name, its clause and
the values it used; the policy's limits, codes and citations enter as literals or as the policy
tables (``policy_tables``), never as text typed here. A node the backend cannot run is refused
when compiling, with the node named (``dialects.DIALECTS``).

The steps read these relations, which the engine registers:

- ``claims_source``: the claim-line columns as read (any types) with ``source_file``, ``source_row``;
- ``authorizations``, ``members``: the typed layouts of ``layout.py``;
- ``policy_codes``, ``family``: from the plan (``policy_tables``); ``vial_plans``: the least-waste
  vials of every administered amount, made by ``definitions.billing`` after ``administrations``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

import sqlglot
from sqlglot import exp

from medpolicy.batch import plan as p
from medpolicy.batch.dialects import DECIMAL_PARAMS, DIALECTS, Dialect
from medpolicy.batch.layout import CLAIM_LINES, MEMBERS, SQL_TYPES

__all__ = ["TYPED_COLUMNS", "CompiledAudit", "Step", "compile_audit"]

# the claim columns a source may hold in their own SQL type (dates, integers, amounts)
TYPED_COLUMNS: Final = frozenset(c.name for c in CLAIM_LINES.columns if c.kind != "text")


@dataclass(frozen=True)
class Step:
    name: str
    expression: exp.Expression
    materialize: bool  # kept as a table (read more than once); else a view
    sql: str


@dataclass(frozen=True)
class CompiledAudit:
    plan: p.AuditPlan
    dialect: Dialect
    steps: tuple[Step, ...]

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def script(self) -> str:
        """Every step as ``-- name`` and its SQL: the golden form of the compiled audit."""
        return "".join(
            f"-- {s.name}{' (table)' if s.materialize else ''}\n{s.sql};\n\n" for s in self.steps
        )


def compile_audit(
    plan: p.AuditPlan, dialect: str = "duckdb", typed: frozenset[str] = frozenset()
) -> CompiledAudit:
    """The audit's SQL for ``dialect``; ``plan.Unsupported`` names a node it cannot run.
    ``typed``: the claim columns the source holds in their own SQL type (``TYPED_COLUMNS``),
    read without a round trip through text."""
    if not typed <= TYPED_COLUMNS:
        raise ValueError(f"columns that cannot be read typed: {sorted(typed - TYPED_COLUMNS)}")
    target = DIALECTS[dialect]
    for check in plan.checks:
        _supported(check, target)
    context = _Context(plan, target)
    built = [
        ("checked", _checked(typed), True),
        ("rejected", _rejected(), True),
        ("lines", _lines(context), True),
        ("auths", _auths(), False),
        ("administrations", _administrations(context), True),
        ("administered", _administered(), False),
        ("drug_lines", _drug_lines(context), False),
        ("coverage", _coverage(context), True),
        ("flags", _flags(context), True),
        ("rejects", _rejects(), False),
        *_summaries(),
    ]
    steps = tuple(
        Step(name, tree, keep, tree.sql(dialect=target.sqlglot, pretty=True))
        for name, tree, keep in built
    )
    return CompiledAudit(plan, target, steps)


def _supported(check: p.Check, dialect: Dialect) -> None:
    node = ", ".join(check.clause.nodes) or check.name
    reason = dialect.unsupported.get(type(check))
    if reason is not None:
        raise p.Unsupported(node, reason, dialect.name)
    for param in DECIMAL_PARAMS.get(type(check), ()):
        value: Decimal = getattr(check, param)
        digits = len(value.as_tuple().digits)
        if digits > dialect.max_decimal_precision:
            raise p.Unsupported(
                node,
                f"{param} = {value} has {digits} digits; {dialect.name}'s DECIMAL holds at most "
                f"{dialect.max_decimal_precision}",
                dialect.name,
            )
    if isinstance(check, p.DoseLimit | p.VialWaste) and check.mg_per_unit != 1:
        raise p.Unsupported(
            node,
            f"a billing unit of {check.mg_per_unit} mg: the SQL audit compares units in whole mg "
            "(1 unit = 1 mg); the Python evaluator handles it",
            dialect.name,
        )


def _parse(sql: str) -> exp.Expression:
    parsed = sqlglot.parse_one(sql, read="duckdb")
    assert isinstance(parsed, exp.Expression)
    return parsed


# -- literals from the policy ------------------------------------------------------------------------


def _str(value: str) -> str:
    return exp.Literal.string(value).sql("duckdb")


def _decimal(value: Decimal) -> str:
    _sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    scale = max(0, -exponent)
    precision = max(len(digits), scale + 1)
    return f"CAST({_str(str(value))} AS DECIMAL({precision}, {scale}))"


def _date(value: date) -> str:
    return f"CAST({_str(value.isoformat())} AS DATE)"


@dataclass(frozen=True)
class _Context:
    plan: p.AuditPlan
    dialect: Dialect

    @property
    def hcpcs(self) -> str:
        return _str(self.plan.hcpcs)

    @property
    def drug(self) -> str:
        return _str(self.plan.drug)


# -- reading the claim lines: every column checked against its pattern ------------------------------


def _checked(typed: frozenset[str]) -> exp.Expression:
    """Every column checked against its pattern, as text; a column the source already holds in
    its type (a Parquet date, integer or decimal) is checked against its range instead."""
    text = ",\n".join(
        f"{c.name} AS t_{c.name}"
        if c.name in typed
        else f"NULLIF(TRIM(CAST({c.name} AS VARCHAR)), '') AS t_{c.name}"
        for c in CLAIM_LINES.columns
    )
    problems: list[str] = []
    for c in CLAIM_LINES.columns:
        t = f"t_{c.name}"
        if c.required:
            problems.append(f"WHEN {t} IS NULL THEN {_str(f'{c.name}: required, missing')}")
        if c.name in typed:
            if c.bounds is not None:
                low, high = (_decimal(Decimal(b)) for b in c.bounds)
                problems.append(
                    f"WHEN {t} < {low} OR {t} > {high} THEN {_str(f'{c.name}: expected {c.what}')}"
                )
            continue
        problems.append(
            f"WHEN NOT REGEXP_MATCHES({t}, {_str('^(' + c.pattern + ')$')}) "
            f"THEN {_str(f'{c.name}: expected {c.what}')}"
        )
        if c.kind == "date":
            problems.append(
                f"WHEN TRY_CAST({t} AS DATE) IS NULL THEN {_str(f'{c.name}: no such date')}"
            )
    reason = "CASE " + "\n".join(problems) + " END"
    columns = ",\n".join(
        f"t_{c.name} AS {c.name}" if c.name in typed else _typed(c.name, c.kind)
        for c in CLAIM_LINES.columns
    )
    values = "\n".join(
        f"WHEN {_str(c.name)} THEN CAST(t_{c.name} AS VARCHAR)" for c in CLAIM_LINES.columns
    )
    return _parse(
        f"""
        SELECT source_file, source_row, {columns}, reject_reason,
          CASE WHEN reject_reason IS NULL THEN NULL
               ELSE CASE SPLIT_PART(reject_reason, ':', 1) {values} END END AS reject_value
        FROM (SELECT *, {reason} AS reject_reason
              FROM (SELECT source_file, source_row, {text} FROM claims_source) AS read_text
             ) AS read_checked
        """
    )


def _typed(name: str, kind: str) -> str:
    t = f"t_{name}"
    if name in ("hcpcs", "modifiers"):
        return f"UPPER({t}) AS {name}"
    if name.startswith("dx"):  # dotted, upper case: C50911 -> C50.911
        return (
            f"CASE WHEN LENGTH({t}) > 3 AND STRPOS({t}, '.') = 0 "
            f"THEN UPPER(SUBSTRING({t}, 1, 3) || '.' || SUBSTRING({t}, 4)) ELSE UPPER({t}) END AS {name}"
        )
    if kind == "text":
        return f"{t} AS {name}"
    return f"TRY_CAST({t} AS {SQL_TYPES[kind]}) AS {name}"  # type: ignore[index]


def _rejected() -> exp.Expression:
    """The rows that fail a pattern (the valid ones are kept only as the drug's ``lines``)."""
    return _parse(
        """
        SELECT source_file, source_row, reject_reason, reject_value FROM checked
        WHERE reject_reason IS NOT NULL
        """
    )


def _rejects() -> exp.Expression:
    return _parse(
        """
        SELECT source_file, source_row, SPLIT_PART(reject_reason, ':', 1) AS "column",
          reject_value AS "value", TRIM(SUBSTRING(reject_reason, STRPOS(reject_reason, ':') + 1)) AS reason
        FROM rejected
        ORDER BY source_file, source_row
        """
    )


def _lines(ctx: _Context) -> exp.Expression:
    key = ", ".join(
        f"COALESCE(c.{k}, '')" if k == "modifiers" else f"c.{k}" for k in _duplicate_key(ctx)
    )
    order = "c.claim_id, c.line_number, c.source_file, c.source_row"
    window = f"PARTITION BY {key} ORDER BY {order}"
    checked = ", ".join(f"c.{n}" for n in ("source_file", "source_row", *CLAIM_LINES.names))
    return _parse(
        f"""
        SELECT {checked}, f.drug,
          (':' || COALESCE(c.modifiers, '') || ':') LIKE '%:JW:%' AS is_jw,
          (':' || COALESCE(c.modifiers, '') || ':') LIKE '%:JZ:%' AS is_jz,
          ROW_NUMBER() OVER ({window}) AS duplicate_rank,
          FIRST_VALUE(c.claim_id) OVER ({window}) AS first_claim_id,
          FIRST_VALUE(c.line_number) OVER ({window}) AS first_line_number
        FROM checked AS c JOIN family AS f ON c.hcpcs = f.hcpcs
        WHERE c.reject_reason IS NULL
        """
    )


def _duplicate_key(ctx: _Context) -> tuple[str, ...]:
    check = next((c for c in ctx.plan.checks if isinstance(c, p.DuplicateLine)), None)
    return check.key if check else ("claim_id", "line_number", "source_file", "source_row")


def _auths() -> exp.Expression:
    return _parse(
        """
        SELECT a.*, f.drug FROM authorizations AS a JOIN family AS f ON a.hcpcs = f.hcpcs
        """
    )


def _administrations(ctx: _Context) -> exp.Expression:
    """One row per member and date of service of the policy's drug (duplicates left out): units
    administered (lines without JW) and discarded (JW), the previous administration, the member's
    weight, and the authorization for this drug covering the date (the latest to start)."""
    return _parse(
        f"""
        SELECT x.*, {_weight(ctx)},
          CAST(SUM(x.administered_units) OVER (
            PARTITION BY x.authorization_id ORDER BY x.service_date
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS units_to_date
        FROM (
          SELECT d.*, a.authorization_id, a.period_start, a.period_end,
            a.units_per_administration AS authorized_units_per_administration,
            a.total_units AS authorized_total_units,
            ROW_NUMBER() OVER (PARTITION BY d.member_id, d.service_date
                               ORDER BY a.period_start DESC, a.authorization_id DESC) AS authorization_rank
          FROM (
            SELECT g.*,
              CASE WHEN g.administered_units > 0 THEN LAG(g.service_date) OVER (
                PARTITION BY g.member_id, g.administered_units > 0 ORDER BY g.service_date) END
                AS previous_service_date
            FROM (
              SELECT member_id, service_date,
                CAST(SUM(CASE WHEN is_jw THEN 0 ELSE units END) AS BIGINT) AS administered_units,
                CAST(SUM(CASE WHEN is_jw THEN units ELSE 0 END) AS BIGINT) AS jw_units,
                CAST(SUM(CASE WHEN is_jw THEN 1 ELSE 0 END) AS BIGINT) AS jw_lines,
                CAST(SUM(CASE WHEN is_jz THEN 1 ELSE 0 END) AS BIGINT) AS jz_lines
              FROM lines WHERE hcpcs = {ctx.hcpcs} AND duplicate_rank = 1
              GROUP BY member_id, service_date
            ) AS g
          ) AS d
          LEFT JOIN auths AS a
            ON a.member_id = d.member_id AND a.drug = {ctx.drug}
            AND d.service_date BETWEEN a.period_start AND a.period_end
        ) AS x
        LEFT JOIN members AS m ON m.member_id = x.member_id
        WHERE x.authorization_rank = 1
        """
    )


def _weight(ctx: _Context) -> str:
    """The member's weight, only when plausible (the catalogue's limit, ``plan.Plausible``): a
    members row over it is a reject when read, and no check reads such a weight even so."""
    most = ctx.plan.most(MEMBERS.name, "weight_kg")
    if most is None:
        return "m.weight_kg"
    return f"CASE WHEN m.weight_kg <= {_decimal(most)} THEN m.weight_kg END AS weight_kg"


def _administered() -> exp.Expression:
    return _parse(
        """
        SELECT a.*, v.waste_units AS expected_waste_units, v.vials
        FROM administrations AS a LEFT JOIN vial_plans AS v ON v.units = a.administered_units
        """
    )


_ADMINISTRATION_COLUMNS: Final = (
    "administered_units", "jw_units", "jw_lines", "jz_lines", "previous_service_date",
    "authorization_id", "period_start", "period_end", "authorized_units_per_administration",
    "authorized_total_units", "weight_kg", "units_to_date", "expected_waste_units", "vials",
)  # fmt: skip


def _drug_lines(ctx: _Context) -> exp.Expression:
    """The policy's drug's lines (duplicates left out), each with its administration: what the
    dose, interval, vial and authorization checks read, joined once."""
    columns = ", ".join(f"a.{c}" for c in _ADMINISTRATION_COLUMNS)
    return _parse(
        f"""
        SELECT l.*, {columns}
        FROM lines AS l JOIN administered AS a
          ON a.member_id = l.member_id AND a.service_date = l.service_date
        WHERE l.hcpcs = {ctx.hcpcs} AND l.duplicate_rank = 1
        """
    )


def _coverage(ctx: _Context) -> exp.Expression:
    """Per member, date and drug billed: whether an authorization for that drug covers the date,
    and the first other drug of the family that one does (a look-alike's authorization)."""
    return _parse(
        """
        SELECT k.member_id, k.service_date, k.drug,
          MAX(CASE WHEN a.drug = k.drug THEN 1 ELSE 0 END) AS same_drug,
          MIN(CASE WHEN a.drug <> k.drug THEN a.hcpcs END) AS other_hcpcs,
          MIN(CASE WHEN a.drug <> k.drug THEN a.drug END) AS other_drug
        FROM (SELECT DISTINCT member_id, service_date, drug FROM lines WHERE duplicate_rank = 1) AS k
        JOIN auths AS a ON a.member_id = k.member_id
          AND k.service_date BETWEEN a.period_start AND a.period_end
        GROUP BY k.member_id, k.service_date, k.drug
        """
    )


# -- the checks ----------------------------------------------------------------------------------------

_LINE: Final = ", ".join(f"l.{c}" for c in p.LINE_COLUMNS)
_THIS_DRUG_LINE: Final = "l.hcpcs = {hcpcs} AND l.duplicate_rank = 1"
_ADMINISTERED_LINE: Final = _THIS_DRUG_LINE + " AND NOT l.is_jw"
_JOIN_ADMINISTRATION: Final = (
    "JOIN administered AS a ON a.member_id = l.member_id AND a.service_date = l.service_date"
)


def _v(value: str) -> str:
    """A value as text in a flag's ``values`` (NULL as 'none')."""
    return f"COALESCE(CAST({value} AS VARCHAR), 'none')"


def _flag(ctx: _Context, check: p.Check, values: str, source: str, where: str) -> str:
    clause = _str(check.clause.section)
    relation = "lines"
    if source == _JOIN_ADMINISTRATION:  # the line and its administration, joined once
        relation, source = "drug_lines", ""
        values, where = (re.sub(r"\ba\.", "l.", text) for text in (values, where))
    return (
        f'SELECT {_LINE}, {_str(check.name)} AS "check", {clause} AS clause, {values} AS "values"\n'
        f"FROM {relation} AS l {source}\nWHERE {where.format(hcpcs=ctx.hcpcs)}"
    )


def _diagnosis(ctx: _Context, check: p.SupportingDiagnosis) -> str:
    def supported(dx: str) -> str:
        parts = [f"l.{dx} IN (SELECT code FROM policy_codes)"]
        by_day: dict[date, list[str]] = {}
        for code in check.codes:
            if code.valid_from is not None:
                by_day.setdefault(code.valid_from, []).append(code.code)
        for day, codes in sorted(by_day.items()):
            listed = ", ".join(_str(c) for c in codes)
            parts.append(f"(l.{dx} IN ({listed}) AND l.service_date >= {_date(day)})")
        return "COALESCE(" + " OR ".join(parts) + ", FALSE)"

    any_supported = " OR ".join(supported(dx) for dx in ("dx1", "dx2", "dx3", "dx4"))
    codes = "l.dx1" + "".join(f" || COALESCE(',' || l.{dx}, '')" for dx in ("dx2", "dx3", "dx4"))
    values = f"'dx=' || {codes} || '; code_set=' || {_str(check.code_set)}"
    return _flag(ctx, check, values, "", f"{_THIS_DRUG_LINE} AND NOT ({any_supported})")


def _dose(ctx: _Context, check: p.DoseLimit) -> str:
    limit = _decimal(check.max_mg_per_kg)
    cap = f"{limit} * a.weight_kg"
    by_weight = f"(a.administered_units - 1) >= {cap}"  # units > ceil(cap): whole mg per unit
    by_authorization = "a.administered_units > a.authorized_units_per_administration"
    values = (
        "CASE WHEN a.weight_kg IS NOT NULL THEN "
        f"'administered_units=' || {_v('a.administered_units')} || '; weight_kg=' || {_v('a.weight_kg')}"
        f" || '; max_mg_per_kg=' || {_str(str(check.max_mg_per_kg))}"
        f" || '; max_units=' || {_v(f'CAST(CEIL({cap}) AS BIGINT)')} "
        f"ELSE 'administered_units=' || {_v('a.administered_units')}"
        f" || '; authorized_units_per_administration=' || {_v('a.authorized_units_per_administration')}"
        f" || '; authorization=' || {_v('a.authorization_id')} END"
    )
    where = (
        f"{_ADMINISTERED_LINE} AND COALESCE(CASE WHEN a.weight_kg IS NOT NULL THEN {by_weight} "
        f"ELSE {by_authorization} END, FALSE)"
    )
    return _flag(ctx, check, values, _JOIN_ADMINISTRATION, where)


def _interval(ctx: _Context, check: p.DosingInterval) -> str:
    days = "DATE_DIFF('day', a.previous_service_date, l.service_date)"
    values = (
        f"'previous_service_date=' || {_v('a.previous_service_date')} || '; days=' || {_v(days)}"
        f" || '; min_days=' || {_str(str(check.min_days))}"
    )
    where = f"{_ADMINISTERED_LINE} AND a.previous_service_date IS NOT NULL AND {days} < {check.min_days}"
    return _flag(ctx, check, values, _JOIN_ADMINISTRATION, where)


def _vials(ctx: _Context, check: p.VialWaste) -> str:
    jz = "a.expected_waste_units >= 1 OR a.jw_lines > 0"
    jw = (
        "a.administered_units = 0 OR a.expected_waste_units = 0 "
        "OR a.jw_units <> a.expected_waste_units"
    )
    plain = (
        "(a.expected_waste_units >= 1 AND a.jw_lines = 0) "
        "OR (a.expected_waste_units = 0 AND a.jz_lines = 0)"
    )
    rule = f"CASE WHEN l.is_jz THEN {jz} WHEN l.is_jw THEN {jw} ELSE {plain} END"
    values = (
        f"'administered_units=' || {_v('a.administered_units')} || '; jw_units=' || {_v('a.jw_units')}"
        f" || '; expected_waste_units=' || {_v('a.expected_waste_units')}"
        f" || '; vials=' || {_v('a.vials')}"
    )
    return _flag(
        ctx, check, values, _JOIN_ADMINISTRATION, f"{_THIS_DRUG_LINE} AND COALESCE({rule}, FALSE)"
    )


def _authorization(ctx: _Context, check: p.AuthorizationOnFile) -> str:
    values = f"'hcpcs=' || l.hcpcs || '; service_date=' || {_v('l.service_date')} || '; authorization=none'"
    where = f"{_ADMINISTERED_LINE} AND a.authorization_id IS NULL"
    return _flag(ctx, check, values, _JOIN_ADMINISTRATION, where)


def _authorized_units(ctx: _Context, check: p.AuthorizedUnits) -> str:
    values = (
        f"'authorization=' || a.authorization_id || '; units_to_date=' || {_v('a.units_to_date')}"
        f" || '; total_units=' || {_v('a.authorized_total_units')}"
        f" || '; period=' || {_v('a.period_start')} || '..' || {_v('a.period_end')}"
    )
    where = (
        f"{_ADMINISTERED_LINE} AND a.authorization_id IS NOT NULL "
        "AND a.units_to_date > a.authorized_total_units"
    )
    return _flag(ctx, check, values, _JOIN_ADMINISTRATION, where)


def _look_alike(ctx: _Context, check: p.LookAlike) -> str:
    source = (
        "JOIN coverage AS v ON v.member_id = l.member_id AND v.service_date = l.service_date "
        "AND v.drug = l.drug"
    )
    values = (
        "'billed=' || l.hcpcs || ' (' || l.drug || '); authorized=' || v.other_hcpcs"
        " || ' (' || v.other_drug || ')'"
    )
    where = "l.duplicate_rank = 1 AND v.same_drug = 0 AND v.other_hcpcs IS NOT NULL"
    return _flag(ctx, check, values, source, where)


def _duplicate(ctx: _Context, check: p.DuplicateLine) -> str:
    values = "'duplicate_of=' || l.first_claim_id || '/' || CAST(l.first_line_number AS VARCHAR)"
    return _flag(ctx, check, values, "", "l.duplicate_rank > 1")


_CHECKS: Final[Mapping[type[p.Check], Callable[[_Context, p.Check], str]]] = {
    p.SupportingDiagnosis: _diagnosis,  # type: ignore[dict-item]
    p.DoseLimit: _dose,  # type: ignore[dict-item]
    p.DosingInterval: _interval,  # type: ignore[dict-item]
    p.VialWaste: _vials,  # type: ignore[dict-item]
    p.AuthorizationOnFile: _authorization,  # type: ignore[dict-item]
    p.AuthorizedUnits: _authorized_units,  # type: ignore[dict-item]
    p.LookAlike: _look_alike,  # type: ignore[dict-item]
    p.DuplicateLine: _duplicate,  # type: ignore[dict-item]
}


def _flags(ctx: _Context) -> exp.Expression:
    selects = []
    for check in ctx.plan.checks:
        compile_check = _CHECKS.get(type(check))
        if compile_check is None:
            raise p.Unsupported(", ".join(check.clause.nodes), f"no SQL form for {check.name}")
        selects.append(compile_check(ctx, check))
    union = "\nUNION ALL\n".join(f"({s})" for s in selects)
    order = 'claim_id, line_number, "check", source_file, source_row'
    return _parse(f"SELECT * FROM ({union}) AS flagged ORDER BY {order}")


# -- what the analyst reads --------------------------------------------------------------------------


def _summaries() -> list[tuple[str, exp.Expression, bool]]:
    """Lines, paid and at risk by provider and month once (a small table), then each view of it."""
    flagged = "(SELECT DISTINCT source_file, source_row FROM flags)"
    money = "DECIMAL(18, 2)"
    by = """
        SELECT {key}, CAST(SUM(lines) AS BIGINT) AS lines, CAST(SUM(paid) AS {money}) AS paid,
          CAST(SUM(lines_flagged) AS BIGINT) AS lines_flagged,
          CAST(SUM(dollars_at_risk) AS {money}) AS dollars_at_risk
        FROM audited GROUP BY {key} ORDER BY {order}
    """
    return [
        (
            "audited",
            _parse(
                f"""
                SELECT l.billing_npi, STRFTIME(l.service_date, '%Y-%m') AS month, COUNT(*) AS lines,
                  CAST(SUM(l.paid_amount) AS {money}) AS paid,
                  CAST(SUM(CASE WHEN f.source_row IS NULL THEN 0 ELSE 1 END) AS BIGINT) AS lines_flagged,
                  CAST(SUM(CASE WHEN f.source_row IS NULL THEN 0 ELSE l.paid_amount END) AS {money})
                    AS dollars_at_risk
                FROM lines AS l LEFT JOIN {flagged} AS f
                  ON f.source_file = l.source_file AND f.source_row = l.source_row
                GROUP BY l.billing_npi, STRFTIME(l.service_date, '%Y-%m')
                """
            ),
            True,
        ),
        (
            "summary_by_check",
            _parse(
                f"""
                SELECT "check", clause, COUNT(*) AS lines_flagged,
                  CAST(SUM(paid_amount) AS {money}) AS dollars_at_risk
                FROM flags GROUP BY "check", clause ORDER BY dollars_at_risk DESC, "check"
                """
            ),
            False,
        ),
        (
            "summary_by_provider",
            _parse(
                by.format(key="billing_npi", money=money, order="dollars_at_risk DESC, billing_npi")
            ),
            False,
        ),
        ("summary_by_month", _parse(by.format(key="month", money=money, order="month")), False),
        (
            "totals",
            _parse(
                f"""
                SELECT (SELECT COUNT(*) FROM claims_source) AS lines_read,
                  (SELECT COUNT(*) FROM rejected) AS lines_rejected,
                  (SELECT COALESCE(CAST(SUM(lines) AS BIGINT), 0) FROM audited) AS lines_in_scope,
                  (SELECT COALESCE(CAST(SUM(lines_flagged) AS BIGINT), 0) FROM audited) AS lines_flagged,
                  (SELECT COUNT(*) FROM flags) AS flags,
                  (SELECT CAST(SUM(paid) AS {money}) FROM audited) AS paid,
                  (SELECT CAST(SUM(dollars_at_risk) AS {money}) FROM audited) AS dollars_at_risk
                """
            ),
            False,
        ),
    ]
