"""``medpolicy claims audit``: read the inputs, run the compiled audit on an engine, write what an
analyst reads (flagged lines, summaries, rejects, an HTML report, the run's record)."""

from __future__ import annotations

import functools
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from medpolicy.batch import plan as p
from medpolicy.batch.compile import CompiledAudit, compile_audit
from medpolicy.batch.engines import DuckDBEngine, Engine, open_engine
from medpolicy.batch.layout import AUTHORIZATIONS, MEMBERS
from medpolicy.batch.mapping import audit_plan
from medpolicy.batch.sources import (
    REJECT_SCHEMA,
    Reject,
    authorizations_from_store,
    empty_reference,
    prepare_claims,
    read_reference,
    typed_columns,
)
from medpolicy.batch.tables import family, policy_codes, vial_plans
from medpolicy.policy.tree import Policy

__all__ = ["FLAG_SCHEMA", "AuditResult", "run_audit"]

FLAG_SCHEMA = pa.schema(
    [
        ("claim_id", pa.string()),
        ("line_number", pa.int64()),
        ("member_id", pa.string()),
        ("service_date", pa.date32()),
        ("hcpcs", pa.string()),
        ("modifiers", pa.string()),
        ("units", pa.int64()),
        ("rendering_npi", pa.string()),
        ("billing_npi", pa.string()),
        ("paid_amount", pa.decimal128(12, 2)),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("check", pa.string()),
        ("clause", pa.string()),
        ("values", pa.string()),
    ]
)
_MONEY = pa.decimal128(18, 2)
SUMMARY_SCHEMAS = {
    "summary_by_check": pa.schema(
        [
            ("check", pa.string()),
            ("clause", pa.string()),
            ("lines_flagged", pa.int64()),
            ("dollars_at_risk", _MONEY),
        ]
    ),
    "summary_by_provider": pa.schema(
        [
            ("billing_npi", pa.string()),
            ("lines", pa.int64()),
            ("paid", _MONEY),
            ("lines_flagged", pa.int64()),
            ("dollars_at_risk", _MONEY),
        ]
    ),
    "summary_by_month": pa.schema(
        [
            ("month", pa.string()),
            ("lines", pa.int64()),
            ("paid", _MONEY),
            ("lines_flagged", pa.int64()),
            ("dollars_at_risk", _MONEY),
        ]
    ),
    "totals": pa.schema(
        [
            ("lines_read", pa.int64()),
            ("lines_rejected", pa.int64()),
            ("lines_in_scope", pa.int64()),
            ("lines_flagged", pa.int64()),
            ("flags", pa.int64()),
            ("paid", _MONEY),
            ("dollars_at_risk", _MONEY),
        ]
    ),
}

Progress = Callable[[str], None]

# DuckDB audits a large input a group of members at a time (see DuckDBEngine.restrict), about
# this many lines a pass: on the 2-core, 24 GB benchmark machine 10M lines run in one pass in
# about 6 GB, and smaller passes traded time for memory (2M-line passes: 2.5 GB, 1.3x the time).
LINES_PER_PASS = 10_000_000
# what each pass leaves for the summaries (they are computed once, over every pass's rows)
_KEPT = ("flags", "rejected", "audited")
_SUMMARIES = frozenset(SUMMARY_SCHEMAS)


@dataclass
class AuditResult:
    out: Path
    engine: str
    plan: p.AuditPlan
    totals: dict[str, Any]
    summaries: dict[str, pa.Table]
    rejects: pa.Table
    seconds: float
    files: dict[str, Path] = field(default_factory=dict)


STEP_LABELS = {
    "checked": "reading and checking claim lines",
    "lines": "finding the drug's lines and duplicates",
    "administrations": "grouping administrations, authorizations and weights",
    "coverage": "matching authorizations of look-alike products",
    "flags": "running the checks",
}


def run_audit(
    policy: Policy,
    claims: list[Path],
    out: Path,
    *,
    engine: str = "duckdb",
    authorizations: Path | None = None,
    database: str | None = None,
    members: Path | None = None,
    spark_master: str | None = None,
    memory_limit: str | None = None,
    progress: Progress | None = None,
    report: bool = True,
    lines_per_pass: int = LINES_PER_PASS,
) -> AuditResult:
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    work = out / ".work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    tell = progress or (lambda _label: None)
    tell("reading inputs")
    files, rejects = prepare_claims(claims, work)
    typed = typed_columns(files)
    compiled = compile_audit(audit_plan(policy), "spark" if engine == "spark" else "duckdb", typed)
    plausible = compiled.plan.plausible
    auth_table, auth_rejects = _authorizations(authorizations, database, plausible)
    # a member whose row is rejected (an implausible weight among the reasons) has no weight: the
    # dose check holds their lines to the authorized units per administration instead
    member_table, member_rejects = (
        read_reference(members, MEMBERS, plausible) if members else (empty_reference(MEMBERS), [])
    )
    rejects += auth_rejects + member_rejects
    runner = open_engine(engine, work, spark_master, memory_limit)
    try:
        _register(runner, compiled, files, auth_table, member_table)
        passes = -(-_lines_in(files) // max(1, lines_per_pass))
        if isinstance(runner, DuckDBEngine) and passes > 1:
            _run_in_passes(runner, compiled, tell, passes)
        else:
            _run(runner, compiled, tell)
        tell("writing results")
        result = _write(runner, compiled, out, rejects, engine, started)
    finally:
        runner.close()
        shutil.rmtree(work, ignore_errors=True)
    if report:
        from medpolicy.batch.report import write_report

        result.files["report"] = write_report(result)
    _write_record(result, claims)
    return result


def _lines_in(files: list[Any]) -> int:
    return sum(pq.ParquetFile(f.parquet).metadata.num_rows for f in files)


def _authorizations(
    path: Path | None, database: str | None, plausible: tuple[p.Plausible, ...]
) -> tuple[pa.Table, list[Reject]]:
    if path is not None:
        return read_reference(path, AUTHORIZATIONS, plausible)
    if database is not None:
        return authorizations_from_store(database, plausible)
    return empty_reference(AUTHORIZATIONS), []


def _register(
    runner: Engine, compiled: CompiledAudit, files: list[Any], auths: pa.Table, members: pa.Table
) -> None:
    runner.register_claims(files, typed_columns(files))
    runner.register("authorizations", auths)
    runner.register("members", members)
    runner.register("policy_codes", policy_codes(compiled.plan))
    runner.register("family", family(compiled.plan))


def _run(
    runner: Engine, compiled: CompiledAudit, tell: Progress, only: frozenset[str] | None = None
) -> None:
    vials = next(c for c in compiled.plan.checks if isinstance(c, p.VialWaste))
    for step in compiled.steps:
        if only is not None and step.name not in only:
            continue
        if step.name in STEP_LABELS:
            tell(STEP_LABELS[step.name])
        runner.run(step)
        if step.name == "lines":
            runner.drop("checked")  # read only by ``rejected`` and ``lines``: its memory goes
        if step.name == "administrations":
            amounts = runner.column_values("administrations", "administered_units")
            runner.register(
                "vial_plans", vial_plans(vials, (int(a) for a in amounts if a is not None))
            )


def _run_in_passes(
    runner: DuckDBEngine, compiled: CompiledAudit, tell: Progress, passes: int
) -> None:
    """Every check over one group of members a pass; the summaries once, over every pass."""
    checks = frozenset(s.name for s in compiled.steps) - _SUMMARIES
    for group in range(passes):
        runner.restrict(group, passes)
        tell_pass = functools.partial(_tell_pass, tell, f"({group + 1} of {passes})")
        _run(runner, compiled, tell_pass, checks)
        runner.keep(_KEPT)
    runner.use_kept(_KEPT)
    _run(runner, compiled, tell, _SUMMARIES)


def _tell_pass(tell: Progress, which: str, label: str) -> None:
    tell(f"{label} {which}")


def _write(
    runner: Engine,
    compiled: CompiledAudit,
    out: Path,
    file_rejects: list[Reject],
    engine: str,
    started: float,
) -> AuditResult:
    files: dict[str, Path] = {}
    parquet_path, csv_path = out / "flags.parquet", out / "flags.csv"
    with (
        pq.ParquetWriter(parquet_path, FLAG_SCHEMA) as pw,
        pacsv.CSVWriter(csv_path, FLAG_SCHEMA) as cw,
    ):
        for batch in runner.batches("flags"):
            typed = pa.Table.from_batches([batch]).select(FLAG_SCHEMA.names).cast(FLAG_SCHEMA)
            pw.write_table(typed)
            cw.write_table(typed)
    files["flags_parquet"], files["flags_csv"] = parquet_path, csv_path
    summaries = {}
    for name, schema in SUMMARY_SCHEMAS.items():
        summaries[name] = runner.fetch(name).select(schema.names).cast(schema)
        if name != "totals":
            files[name] = out / f"{name}.csv"
            pacsv.write_csv(summaries[name], files[name])
    rejects = _rejects(file_rejects, runner.fetch("rejects"))
    files["rejects"] = out / "rejects.csv"
    pacsv.write_csv(rejects, files["rejects"])
    totals = summaries.pop("totals").to_pylist()[0]
    totals["lines_rejected"] += sum(1 for r in file_rejects if r.source_row is not None)
    totals["rejects"] = rejects.num_rows
    return AuditResult(
        out, engine, compiled.plan, totals, summaries, rejects, time.perf_counter() - started, files
    )


def _rejects(file_rejects: list[Reject], from_sql: pa.Table) -> pa.Table:
    listed = pa.Table.from_pylist([r.__dict__ for r in file_rejects], schema=REJECT_SCHEMA)
    typed = from_sql.select(REJECT_SCHEMA.names).cast(REJECT_SCHEMA)
    both = pa.concat_tables([listed, typed])
    return both.sort_by([("source_file", "ascending"), ("source_row", "ascending")])


def _write_record(result: AuditResult, claims: list[Path]) -> None:
    plan = result.plan
    record = {
        "policy": {
            "id": plan.policy_id,
            "version": plan.policy_version,
            "content_hash": plan.content_hash,
        },
        "engine": result.engine,
        "claims": [str(c) for c in claims],
        "checks": [
            {
                "check": c.name,
                "clause": c.clause.section,
                "text": c.clause.text,
                "nodes": list(c.clause.nodes),
            }
            for c in plan.checks
        ],
        "totals": {
            k: str(v) if v is not None and not isinstance(v, int) else v
            for k, v in result.totals.items()
        },
        "seconds": round(result.seconds, 3),
        "files": {k: v.name for k, v in result.files.items()},
    }
    path = result.out / "audit.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    result.files["record"] = path
