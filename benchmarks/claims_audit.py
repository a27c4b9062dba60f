"""Claims audit benchmark: medpolicy's compiled audit against a hand-written DuckDB query of the
same checks over the same Parquet, then 1M / 10M / 50M lines (time and peak memory), then Spark
local[2] on 10M lines with the flags compared to DuckDB's.

    .venv/bin/python benchmarks/claims_audit.py                # the full run (about an hour)
    .venv/bin/python benchmarks/claims_audit.py --sizes 1000000 --skip-spark

Each measured run is its own process, so its peak memory (max RSS; for Spark, the JVM's high-water
mark too) is its own. Generated files are kept under --work and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEMORY_LIMIT = (
    "6GB"  # DuckDB's, for both queries: past it they spill to disk (the machine is shared)
)
POLICY = REPO / "policies" / "oncology" / "09-J1000-90" / "policy.yaml"

HAND_WRITTEN = """
CREATE TEMP TABLE l AS
SELECT c.*, f.drug,
  (':' || COALESCE(c.modifiers, '') || ':') LIKE '%:JW:%' AS is_jw,
  (':' || COALESCE(c.modifiers, '') || ':') LIKE '%:JZ:%' AS is_jz,
  ROW_NUMBER() OVER w AS rn, FIRST_VALUE(c.claim_id) OVER w AS first_claim, FIRST_VALUE(c.line_number) OVER w AS first_line
FROM read_parquet('{claims}') c JOIN family f ON f.hcpcs = c.hcpcs
WINDOW w AS (PARTITION BY c.member_id, c.service_date, c.hcpcs, COALESCE(c.modifiers, ''), c.units, c.rendering_npi
             ORDER BY c.claim_id, c.line_number);
CREATE TEMP TABLE auths AS SELECT a.*, f.drug FROM read_parquet('{auths}') a JOIN family f ON f.hcpcs = a.hcpcs;
CREATE TEMP TABLE adm AS
WITH g AS (
  SELECT member_id, service_date, SUM(CASE WHEN is_jw THEN 0 ELSE units END) AS au,
    SUM(CASE WHEN is_jw THEN units ELSE 0 END) AS jwu, SUM(is_jw::INT) AS jwl, SUM(is_jz::INT) AS jzl
  FROM l WHERE hcpcs = 'J9354' AND rn = 1 GROUP BY ALL),
p AS (SELECT g.*, CASE WHEN au > 0 THEN LAG(service_date) OVER (PARTITION BY member_id, au > 0 ORDER BY service_date) END AS prev FROM g),
a AS (SELECT p.*, a.authorization_id, a.units_per_administration, a.total_units
      FROM p LEFT JOIN auths a ON a.member_id = p.member_id AND a.drug = 'ado_trastuzumab_emtansine'
        AND p.service_date BETWEEN a.period_start AND a.period_end
      QUALIFY ROW_NUMBER() OVER (PARTITION BY p.member_id, p.service_date ORDER BY a.period_start DESC, a.authorization_id DESC) = 1)
SELECT a.*, m.weight_kg, v.waste_units AS ew,
  SUM(au) OVER (PARTITION BY authorization_id ORDER BY service_date ROWS UNBOUNDED PRECEDING) AS todate
FROM a LEFT JOIN read_parquet('{members}') m ON m.member_id = a.member_id LEFT JOIN vial_plans v ON v.units = a.au;
CREATE TEMP TABLE cov AS
SELECT k.member_id, k.service_date, k.drug, MAX((a.drug = k.drug)::INT) AS same, MIN(CASE WHEN a.drug <> k.drug THEN a.hcpcs END) AS other
FROM (SELECT DISTINCT member_id, service_date, drug FROM l WHERE rn = 1) k
JOIN auths a ON a.member_id = k.member_id AND k.service_date BETWEEN a.period_start AND a.period_end GROUP BY ALL;
COPY (
  SELECT claim_id, line_number, 'diagnosis_supports_indication' AS "check" FROM l
  WHERE hcpcs = 'J9354' AND rn = 1 AND NOT (
    COALESCE(dx1 IN (SELECT code FROM policy_codes) OR (dx1 IN ('C50.A0','C50.A1','C50.A2') AND service_date >= DATE '2025-10-01'), FALSE)
    OR COALESCE(dx2 IN (SELECT code FROM policy_codes) OR (dx2 IN ('C50.A0','C50.A1','C50.A2') AND service_date >= DATE '2025-10-01'), FALSE)
    OR COALESCE(dx3 IN (SELECT code FROM policy_codes), FALSE) OR COALESCE(dx4 IN (SELECT code FROM policy_codes), FALSE))
  UNION ALL
  SELECT l.claim_id, l.line_number, CASE WHEN x.k = 1 THEN 'units_within_dose_limit' WHEN x.k = 2 THEN 'dosing_interval'
    WHEN x.k = 3 THEN 'authorization_on_file' ELSE 'authorized_units_not_exceeded' END
  FROM l JOIN adm a USING (member_id, service_date), (VALUES (1), (2), (3), (4)) x(k)
  WHERE l.hcpcs = 'J9354' AND l.rn = 1 AND NOT l.is_jw AND CASE x.k
    WHEN 1 THEN COALESCE(CASE WHEN a.weight_kg IS NOT NULL THEN a.au - 1 >= 3.6 * a.weight_kg ELSE a.au > a.units_per_administration END, FALSE)
    WHEN 2 THEN a.prev IS NOT NULL AND l.service_date - a.prev < 21
    WHEN 3 THEN a.authorization_id IS NULL
    ELSE a.authorization_id IS NOT NULL AND a.todate > a.total_units END
  UNION ALL
  SELECT l.claim_id, l.line_number, 'jw_jz_matches_vials' FROM l JOIN adm a USING (member_id, service_date)
  WHERE l.hcpcs = 'J9354' AND l.rn = 1 AND COALESCE(CASE WHEN l.is_jz THEN a.ew >= 1 OR a.jwl > 0
    WHEN l.is_jw THEN a.au = 0 OR a.ew = 0 OR a.jwu <> a.ew
    ELSE (a.ew >= 1 AND a.jwl = 0) OR (a.ew = 0 AND a.jzl = 0) END, FALSE)
  UNION ALL
  SELECT l.claim_id, l.line_number, 'look_alike_product' FROM l JOIN cov v USING (member_id, service_date, drug)
  WHERE l.rn = 1 AND v.same = 0 AND v.other IS NOT NULL
  UNION ALL
  SELECT claim_id, line_number, 'duplicate_line' FROM l WHERE rn > 1
) TO '{out}' (FORMAT parquet);
"""


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _jvm_peak_kb(spark: object) -> int:
    try:
        pid = spark.sparkContext._gateway.proc.pid  # type: ignore[attr-defined]
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except Exception:
        return 0
    return 0


def one(kind: str, claims: Path, out: Path) -> dict[str, object]:
    """One measured run, in this process."""
    from medpolicy.policy.load import load_policy

    policy = load_policy(POLICY)
    stem = claims.with_suffix("")
    auths, members = Path(f"{stem}.authorizations.parquet"), Path(f"{stem}.members.parquet")
    started = time.perf_counter()
    extra: dict[str, object] = {}
    if kind == "hand":
        import duckdb

        from medpolicy.batch.mapping import audit_plan
        from medpolicy.batch.plan import VialWaste
        from medpolicy.batch.tables import family, policy_codes, vial_plans

        plan = audit_plan(policy)
        con = duckdb.connect(
            config={"temp_directory": str(out / "tmp"), "memory_limit": MEMORY_LIMIT}
        )
        con.execute("SET preserve_insertion_order = false")
        out.mkdir(parents=True, exist_ok=True)
        vials = next(c for c in plan.checks if isinstance(c, VialWaste))
        for name, table in (
            ("policy_codes", policy_codes(plan)),
            ("family", family(plan)),
            ("vial_plans", vial_plans(vials, range(1, 2001))),
        ):
            con.register(name, table)
        con.execute(
            HAND_WRITTEN.format(
                claims=claims, auths=auths, members=members, out=out / "flags.parquet"
            )
        )
        con.close()
    else:
        from medpolicy.batch.audit import run_audit

        engine = "spark" if kind == "spark" else "duckdb"
        if engine == "spark":
            import medpolicy.batch.engines as engines

            original = engines.SparkEngine.close

            def close(self: engines.SparkEngine) -> None:
                extra["jvm_peak_kb"] = _jvm_peak_kb(self.spark)
                original(self)

            engines.SparkEngine.close = close  # type: ignore[method-assign]
        run_audit(
            policy,
            [claims],
            out,
            engine=engine,
            authorizations=auths,
            members=members,
            spark_master="local[2]",
            memory_limit=MEMORY_LIMIT,
        )
    seconds = time.perf_counter() - started
    return {"kind": kind, "seconds": seconds, "peak_kb": _peak_kb(), **extra}


def measure(kind: str, claims: Path, out: Path) -> dict[str, object]:
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "MEDPOLICY_SPARK_DRIVER_MEMORY": "8g"}
    done = subprocess.run(
        [sys.executable, __file__, "--one", kind, "--claims", str(claims), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} on {claims} failed:\n{done.stderr[-3000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def flags_of(path: Path) -> set[tuple[str, int, str]]:
    import duckdb

    rows = duckdb.sql(
        f"SELECT claim_id, line_number, \"check\" FROM read_parquet('{path}')"
    ).fetchall()
    return {(str(a), int(b), str(c)) for a, b, c in rows}


def generate(work: Path, lines: int) -> Path:
    claims = work / f"claims-{lines}.parquet"
    if not claims.exists():
        started = time.perf_counter()
        subprocess.run(
            [
                str(REPO / ".venv" / "bin" / "medpolicy"),
                "claims",
                "generate",
                "--lines",
                str(lines),
                "--out",
                str(claims),
                "--seed",
                "14",
            ],
            check=True,
            capture_output=True,
        )
        print(f"generated {lines:,} lines in {time.perf_counter() - started:.0f}s", flush=True)
    return claims


def _line(label: str, lines: int, r: dict[str, object]) -> str:
    seconds = float(r["seconds"])  # type: ignore[arg-type]
    peak = int(r["peak_kb"]) / 1024  # type: ignore[call-overload]
    jvm = f", JVM peak {int(r['jvm_peak_kb']) / 1024:,.0f} MiB" if r.get("jvm_peak_kb") else ""  # type: ignore[call-overload]
    return f"{label:<34} {lines:>12,} lines {seconds:8.1f} s {lines / seconds:>12,.0f} rows/s  peak {peak:,.0f} MiB{jvm}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--one", choices=["medpolicy", "hand", "spark"])
    parser.add_argument("--claims", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--work", type=Path, default=Path("/tmp/medpolicy-claims-bench"))
    parser.add_argument("--sizes", default="1000000,10000000,50000000")
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one, args.claims, args.out)))
        return
    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    base = 10_000_000 if 10_000_000 in sizes else sizes[0]
    print(f"machine: {os.cpu_count()} cores; DuckDB on every core; Spark local[2]", flush=True)
    claims = {n: generate(work, n) for n in sizes}
    ours = measure("medpolicy", claims[base], work / f"ours-{base}")
    hand = measure("hand", claims[base], work / f"hand-{base}")
    same = flags_of(work / f"ours-{base}" / "flags.parquet") == flags_of(
        work / f"hand-{base}" / "flags.parquet"
    )
    print(_line("medpolicy DuckDB", base, ours), flush=True)
    print(_line("hand-written DuckDB query", base, hand), flush=True)
    ratio = float(ours["seconds"]) / float(hand["seconds"])  # type: ignore[arg-type]
    print(
        f"ratio medpolicy / hand-written: {ratio:.2f}x (goal <= 1.25x); same flags: {same}",
        flush=True,
    )
    runs = {base: ours}
    for n in sizes:
        if n not in runs:
            runs[n] = measure("medpolicy", claims[n], work / f"ours-{n}")
    print("scaling (medpolicy DuckDB):", flush=True)
    for n in sizes:
        print("  " + _line(f"{n:,} lines", n, runs[n]), flush=True)
    if not args.skip_spark:
        spark = measure("spark", claims[base], work / f"spark-{base}")
        print(_line("medpolicy Spark local[2]", base, spark), flush=True)
        identical = flags_of(work / f"spark-{base}" / "flags.parquet") == flags_of(
            work / f"ours-{base}" / "flags.parquet"
        )
        s = float(spark["seconds"]) / float(ours["seconds"])  # type: ignore[arg-type]
        print(f"Spark / DuckDB time: {s:.2f}x; identical flags: {identical}", flush=True)


if __name__ == "__main__":
    main()
