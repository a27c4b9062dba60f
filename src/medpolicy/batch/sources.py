"""Reading the audit's inputs: claim-line files (CSV or Parquet), authorizations (a file, or the
prior-authorization service's store) and members' weights.

Claim-line Parquet files are read where they are, each row numbered by the engine. A CSV file is
first copied, streaming, to Parquet with each row's number (a row that does not split into the
header's columns goes to the rejects there); every value is checked later, by the compiled SQL.
Authorizations and members are small: they are checked here, row by row, against ``layout.py``
and the catalogue's plausible limits the plan carries (``plan.Plausible``: a body weight's).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from medpolicy.batch.layout import AUTHORIZATIONS, CLAIM_LINES, MEMBERS, Column, Layout
from medpolicy.batch.plan import Plausible

__all__ = [
    "REJECT_SCHEMA",
    "ClaimFile",
    "Reject",
    "authorizations_from_store",
    "prepare_claims",
    "read_reference",
]

REJECT_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
    ]
)


@dataclass(frozen=True)
class Reject:
    source_file: str
    source_row: int | None  # data row, 1 = the first row after the header; None: the whole file
    column: str | None
    value: str | None
    reason: str


@dataclass(frozen=True)
class ClaimFile:
    source: str  # the file as named to the audit
    parquet: Path  # what the engine reads
    columns: tuple[str, ...]  # the layout's columns it has
    numbered: bool  # True: a ``source_row`` column (a CSV copy); else the engine numbers rows
    typed: frozenset[str] = frozenset()  # columns held in their own type (date, integer, amount)


def typed_columns(files: list[ClaimFile]) -> frozenset[str]:
    """The columns every file holds typed (or lacks): the compiled SQL reads them as they are."""
    if not files:
        return frozenset()
    every = set(CLAIM_LINES.names)
    found = [f.typed | (every - set(f.columns)) for f in files]
    return frozenset.intersection(*found) & frozenset(
        c.name for c in CLAIM_LINES.columns if c.kind != "text"
    )


def _parquet_typed(path: Path) -> frozenset[str]:
    schema = pq.read_schema(path)
    typed = set()
    for column in CLAIM_LINES.columns:
        if column.name not in schema.names:
            continue
        kind = schema.field(column.name).type
        if (
            (column.kind == "date" and pa.types.is_date(kind))
            or (column.kind == "integer" and pa.types.is_integer(kind))
            or (column.kind == "money" and pa.types.is_decimal(kind) and kind.scale <= 2)
        ):
            typed.add(column.name)
    return frozenset(typed)


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".txt"):
        return "csv"
    raise ValueError(f"{path}: expected a .csv or .parquet file")


def prepare_claims(paths: list[Path], work: Path) -> tuple[list[ClaimFile], list[Reject]]:
    """Each claim file ready for an engine, and the files or rows that cannot be read at all."""
    files: list[ClaimFile] = []
    rejects: list[Reject] = []
    for i, path in enumerate(paths):
        source = str(path)
        try:
            kind = _kind(path)
            names = _header(path, kind)
        except (OSError, ValueError, pa.ArrowInvalid) as exc:
            rejects.append(Reject(source, None, None, None, f"cannot read the file: {exc}"))
            continue
        missing = [c.name for c in CLAIM_LINES.columns if c.required and c.name not in names]
        if missing:
            reason = "the file has no column " + ", ".join(missing) + "; the file is skipped"
            rejects.append(Reject(source, None, missing[0], None, reason))
            continue
        present = tuple(n for n in CLAIM_LINES.names if n in names)
        if kind == "parquet":
            files.append(ClaimFile(source, path, present, False, _parquet_typed(path)))
            continue
        staged = work / f"claims-{i}.parquet"
        rejects += _stage_csv(path, present, staged)
        files.append(ClaimFile(source, staged, present, numbered=True))
    return files, rejects


def _header(path: Path, kind: str) -> list[str]:
    if kind == "parquet":
        return list(pq.read_schema(path).names)
    with path.open(newline="", encoding="utf-8") as f:
        return [h.strip() for h in next(csv.reader(f), [])]


def _stage_csv(path: Path, present: tuple[str, ...], staged: Path) -> list[Reject]:
    """Copy a CSV file to Parquet (text columns and ``source_row``), streaming; rows whose fields
    do not match the header are rejects."""
    bad: list[Reject] = []

    def invalid(row: Any) -> str:
        number = None if row.number is None else int(row.number) - 1  # the header is record 1
        reason = f"the row has {row.actual_columns} fields, the header {row.expected_columns}"
        bad.append(Reject(str(path), number, None, row.text[:200], reason))
        return "skip"

    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(invalid_row_handler=invalid, newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in present},
            include_columns=list(present),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    schema = pa.schema([(n, pa.string()) for n in present] + [("source_row", pa.int64())])
    skipped: set[int] = set()
    next_row = 1
    with pq.ParquetWriter(staged, schema) as writer:
        for batch in reader:
            skipped.update(r.source_row for r in bad if r.source_row is not None)
            numbers, next_row = _numbers(batch.num_rows, next_row, skipped)
            columns = [batch.column(n) for n in present] + [pa.array(numbers, pa.int64())]
            writer.write_batch(pa.record_batch(columns, schema=schema))
    return bad


def _numbers(count: int, first: int, skipped: set[int]) -> tuple[list[int], int]:
    """``count`` row numbers from ``first`` on, passing over rejected rows."""
    if not any(first <= s < first + count + len(skipped) for s in skipped):
        return list(range(first, first + count)), first + count
    numbers: list[int] = []
    row = first
    while len(numbers) < count:
        if row not in skipped:
            numbers.append(row)
        row += 1
    return numbers, row


# -- authorizations and members: small, checked here --------------------------------------------


def read_reference(
    path: Path, layout: Layout, plausible: tuple[Plausible, ...]
) -> tuple[pa.Table, list[Reject]]:
    """A typed table of ``layout`` from a CSV or Parquet file, and its rows that are not valid
    (a value over the most its column can plausibly hold, ``plausible``, among them)."""
    source = str(path)
    try:
        if _kind(path) == "parquet":
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(
                    column_types={c.name: pa.string() for c in layout.columns}
                ),
            )
    except (OSError, ValueError, pa.ArrowInvalid) as exc:
        return _empty(layout), [Reject(source, None, None, None, f"cannot read the file: {exc}")]
    missing = [c.name for c in layout.columns if c.required and c.name not in table.column_names]
    if missing:
        reason = "the file has no column " + ", ".join(missing) + "; the file is skipped"
        return _empty(layout), [Reject(source, None, missing[0], None, reason)]
    limits = {x.column: x for x in plausible if x.input == layout.name}
    return _checked_table(source, layout, table, limits)


def _checked_table(
    source: str, layout: Layout, table: pa.Table, limits: dict[str, Plausible]
) -> tuple[pa.Table, list[Reject]]:
    """Rows that match every pattern are cast column by column; the others (and a member listed
    twice, or a value over its column's plausible limit) are read one by one, for the reason."""
    import pyarrow.compute as pc

    ok = pa.array([True] * table.num_rows, pa.bool_())
    texts: dict[str, pa.Array] = {}
    for c in layout.columns:
        if c.name not in table.column_names:
            texts[c.name] = pa.nulls(table.num_rows, pa.string())
            ok = pc.and_(ok, pa.array([not c.required] * table.num_rows, pa.bool_()))
            continue
        text = pc.utf8_trim_whitespace(pc.cast(table.column(c.name), pa.string())).combine_chunks()
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        texts[c.name] = text
        matches = pc.match_substring_regex(text, f"^({c.pattern})$")
        valid = pc.fill_null(matches, not c.required)
        ok = pc.and_(ok, valid)
    if table.num_rows and pc.all(ok).as_py():
        typed = _cast_texts(layout, texts)
        if typed is not None and _sound(layout, typed, limits):
            return typed, []
    rows = table.to_pylist()
    return _typed(layout, ((source, i + 1, row) for i, row in enumerate(rows)), limits)


def _cast_texts(layout: Layout, texts: dict[str, pa.Array]) -> pa.Table | None:
    import pyarrow.compute as pc

    columns = {}
    try:
        for c in layout.columns:
            text = texts[c.name]
            if c.name == "hcpcs":
                text = pc.utf8_upper(text)
            columns[c.name] = text.cast(_ARROW[c.kind]) if c.kind != "text" else text
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return pa.table(columns, schema=_schema(layout))


def _sound(layout: Layout, table: pa.Table, limits: dict[str, Plausible]) -> bool:
    """What the patterns cannot say: positive weights, periods in order, one row per member,
    nothing over its plausible limit."""
    import pyarrow.compute as pc

    for name, limit in limits.items():
        column = table.column(name)
        if not pc.all(pc.less_equal(column, pa.scalar(limit.most, column.type))).as_py():
            return False
    if layout is MEMBERS:
        ids = table.column("member_id")
        positive = pc.all(
            pc.greater(table.column("weight_kg"), pa.scalar(Decimal(0), pa.decimal128(9, 3)))
        )
        return bool(positive.as_py()) and pc.count_distinct(ids).as_py() == len(ids)
    if layout is AUTHORIZATIONS:
        ordered = pc.all(pc.less_equal(table.column("period_start"), table.column("period_end")))
        return bool(ordered.as_py())
    return True


def _typed(
    layout: Layout,
    rows: Iterator[tuple[str, int, dict[str, Any]]],
    limits: dict[str, Plausible],
) -> tuple[pa.Table, list[Reject]]:
    good: list[dict[str, Any]] = []
    bad: list[Reject] = []
    key = layout.columns[0].name
    listed = list(rows)
    # A member listed more than once (a row refused for its own reason counts too) is two reports
    # of one weight: no row of theirs is used, rather than the first, which might be the heavier
    # and so hide over-billed units.
    times = Counter(str(row.get(key) or "").strip() for _, _, row in listed)
    for source, number, row in listed:
        value, problem = _row(layout, row, limits)
        if problem is not None:
            column, text, reason = problem
            bad.append(Reject(source, number, column, text, reason))
        elif layout is MEMBERS and times[str(value[key])] > 1:
            reason = "member listed more than once; none of their rows is used"
            bad.append(Reject(source, number, key, value[key], reason))
        else:
            good.append(value)
    return pa.Table.from_pylist(good, schema=_schema(layout)), bad


def _row(
    layout: Layout, row: dict[str, Any], limits: dict[str, Plausible]
) -> tuple[dict[str, Any], tuple[str, str | None, str] | None]:
    out: dict[str, Any] = {}
    for column in layout.columns:
        raw = row.get(column.name)
        text = None if raw is None else str(raw).strip() or None
        if text is None:
            if column.required:
                return out, (column.name, None, "required, missing")
            out[column.name] = None
            continue
        value = _value(column, text)
        if value is None:
            return out, (column.name, text, f"expected {column.what}")
        out[column.name] = value
    if layout is MEMBERS and out["weight_kg"] <= 0:
        return out, ("weight_kg", str(out["weight_kg"]), "a body weight must be above zero")
    if layout is AUTHORIZATIONS and out["period_end"] < out["period_start"]:
        return out, ("period_end", str(out["period_end"]), "the period ends before it starts")
    for name, limit in limits.items():
        if out[name] is not None and out[name] > limit.most:
            text = str(out[name])
            reason = (
                f"{text} {limit.unit} is not a plausible {limit.fact} (over {limit.most} "
                f"{limit.unit}); check the unit"
            )
            return out, (name, text, reason)
    return out, None


def _value(column: Column, text: str) -> Any:
    if not re.fullmatch(column.pattern, text):
        return None
    if column.kind == "date":
        try:
            return date.fromisoformat(text)
        except ValueError:
            return None
    if column.kind == "integer":
        return int(text)
    if column.kind in ("money", "weight"):
        return Decimal(text)
    return text.upper() if column.name == "hcpcs" else text


_ARROW = {
    "text": pa.string(),
    "integer": pa.int64(),
    "date": pa.date32(),
    "money": pa.decimal128(12, 2),
    "weight": pa.decimal128(9, 3),
}


def _schema(layout: Layout) -> pa.Schema:
    return pa.schema([(c.name, _ARROW[c.kind]) for c in layout.columns])


def _empty(layout: Layout) -> pa.Table:
    return _schema(layout).empty_table()


def empty_reference(layout: Layout) -> pa.Table:
    return _empty(layout)


# -- authorizations straight from the prior-authorization store ---------------------------------


def authorizations_from_store(
    url: str, plausible: tuple[Plausible, ...]
) -> tuple[pa.Table, list[Reject]]:
    """Every approval in the case store (the engine's, or a reviewer's with what it authorized):
    the member, the drug, the period and the units. The case id is the authorization id."""
    from sqlalchemy import select

    from medpolicy.store.database import connect, normalize_url
    from medpolicy.store.schema import audit_events, cases, decisions

    engine = connect(normalize_url(url))
    rows: list[tuple[str, int, dict[str, Any]]] = []
    try:
        with engine.connect() as conn:
            approved = conn.execute(
                select(cases.c.id, cases.c.request_json).where(cases.c.status == "approved")
            ).all()
            for n, (case_id, request_json) in enumerate(approved, start=1):
                member = (json.loads(request_json).get("member") or {}).get("id")
                found = _store_authorization(conn, case_id, decisions, audit_events)
                if found is not None:
                    rows.append(
                        ("store", n, {"authorization_id": case_id, "member_id": member, **found})
                    )
    finally:
        engine.dispose()
    limits = {x.column: x for x in plausible if x.input == AUTHORIZATIONS.name}
    return _typed(AUTHORIZATIONS, iter(rows), limits)


def _store_authorization(
    conn: Any, case_id: str, decisions: Any, audit_events: Any
) -> dict[str, Any] | None:
    from sqlalchemy import select

    events = conn.execute(
        select(audit_events.c.data_json)
        .where(audit_events.c.case_id == case_id, audit_events.c.event_type == "review.approve")
        .order_by(audit_events.c.seq.desc())
    ).all()
    for (text,) in events:
        authorization = json.loads(text).get("authorization")
        if authorization is not None:
            return _fields(authorization)
    latest = conn.execute(
        select(decisions.c.decision_json)
        .where(decisions.c.case_id == case_id)
        .order_by(decisions.c.number.desc())
        .limit(1)
    ).scalar_one_or_none()
    authorization = None if latest is None else json.loads(latest).get("authorization")
    return None if authorization is None else _fields(authorization)


def _fields(authorization: dict[str, Any]) -> dict[str, Any]:
    return {
        "hcpcs": authorization["hcpcs"],
        "period_start": authorization["period_start"],
        "period_end": authorization["period_end"],
        "units_per_administration": authorization["units_per_administration"],
        "total_units": authorization["total_units"],
    }
