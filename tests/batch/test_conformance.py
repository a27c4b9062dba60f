"""One corpus, every engine: the Python evaluator, DuckDB and Spark flag the same lines with the
same check, clause and values, row for row; on generated claims every injected violation is
flagged and nothing else (precision and recall exactly 1 for every check)."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from medpolicy.batch.audit import AuditResult, run_audit
from medpolicy.batch.evaluate import evaluate_claims
from medpolicy.batch.generate import GeneratedFiles
from medpolicy.batch.mapping import audit_plan
from medpolicy.policy.tree import Policy
from tests.batch.conftest import CORPUS, corpus_rows, references


def _audit(
    policy: Policy, out: Path, claims: list[Path], auths: Path, members: Path, **kw: Any
) -> AuditResult:
    return run_audit(policy, claims, out, authorizations=auths, members=members, report=False, **kw)


def _flags(result: AuditResult) -> list[dict[str, Any]]:
    return pq.read_table(result.files["flags_parquet"]).to_pylist()


def _key(flags: list[dict[str, Any]]) -> set[tuple[str, int, str]]:
    return {(f["claim_id"], f["line_number"], f["check"]) for f in flags}


def test_corpus_flags_are_the_lines_a_reviewer_expects(kadcyla: Policy, tmp_path: Path) -> None:
    result = _audit(
        kadcyla,
        tmp_path,
        [CORPUS / "claims.csv"],
        CORPUS / "authorizations.csv",
        CORPUS / "members.csv",
    )
    with (CORPUS / "expected_flags.csv").open(encoding="utf-8") as f:
        expected = {(r["claim_id"], int(r["line_number"]), r["check"]) for r in csv.DictReader(f)}
    assert _key(_flags(result)) == expected
    assert result.totals["lines_read"] == 28 and result.totals["lines_rejected"] == 7


def test_python_evaluator_and_duckdb_agree_row_for_row_on_the_corpus(
    kadcyla: Policy, tmp_path: Path
) -> None:
    result = _audit(
        kadcyla,
        tmp_path,
        [CORPUS / "claims.csv"],
        CORPUS / "authorizations.csv",
        CORPUS / "members.csv",
    )
    auths, weights = references(CORPUS / "authorizations.csv", CORPUS / "members.csv")
    flags, rejects = evaluate_claims(
        audit_plan(kadcyla), corpus_rows(CORPUS / "claims.csv"), auths, weights
    )
    assert _flags(result) == flags
    assert result.rejects.to_pylist() == rejects
    # every flag names its check, its clause and the values it used
    assert all(f["clause"] and f["values"] for f in flags)


def _generated_rows(made: GeneratedFiles) -> list[dict[str, Any]]:
    rows = pq.read_table(made.claims).to_pylist()
    return [{**r, "source_file": str(made.claims), "source_row": i} for i, r in enumerate(rows, 1)]


def test_python_evaluator_and_duckdb_agree_row_for_row_on_generated_claims(
    kadcyla: Policy, generated: GeneratedFiles, tmp_path: Path
) -> None:
    result = _audit(
        kadcyla, tmp_path, [generated.claims], generated.authorizations, generated.members
    )
    auths, weights = references(generated.authorizations, generated.members)
    flags, _ = evaluate_claims(audit_plan(kadcyla), _generated_rows(generated), auths, weights)
    assert _flags(result) == flags


def _precision_recall(
    found: set[tuple[str, int, str]], truth: set[tuple[str, int, str]]
) -> dict[str, tuple[float, float]]:
    scores = {}
    for check in sorted({k[2] for k in truth}):
        t = {k for k in truth if k[2] == check}
        f = {k for k in found if k[2] == check}
        scores[check] = (len(t & f) / len(f) if f else 0.0, len(t & f) / len(t))
    return scores


def _truth(made: GeneratedFiles) -> set[tuple[str, int, str]]:
    return {
        (r["claim_id"], r["line_number"], r["check"]) for r in pq.read_table(made.truth).to_pylist()
    }


def test_every_injected_violation_is_flagged_and_nothing_else(
    kadcyla: Policy, generated: GeneratedFiles, tmp_path: Path
) -> None:
    truth = _truth(generated)
    plan = audit_plan(kadcyla)
    assert {k[2] for k in truth} == set(plan.check_names)  # every check is exercised
    assert all(n > 0 for n in generated.injected.values())
    result = _audit(
        kadcyla, tmp_path, [generated.claims], generated.authorizations, generated.members
    )
    found = _key(_flags(result))
    scores = _precision_recall(found, truth)
    assert scores == {check: (1.0, 1.0) for check in plan.check_names}
    assert found == truth
    print({c: Counter(k[2] for k in truth)[c] for c in plan.check_names})


def test_an_audit_in_passes_over_groups_of_members_is_the_audit_in_one(
    kadcyla: Policy, generated: GeneratedFiles, tmp_path: Path
) -> None:
    """A large input is audited a group of members at a time: the same flags, values,
    summaries, totals and rejects as one pass, and every injected violation still found (a
    member's lines never split across passes, or duplicates and intervals would be missed)."""
    inputs = ([generated.claims], generated.authorizations, generated.members)
    one = _audit(kadcyla, tmp_path / "one", *inputs)
    seven = _audit(kadcyla, tmp_path / "seven", *inputs, lines_per_pass=600)
    assert "(7 of 7)" in " ".join(_labels(kadcyla, tmp_path / "labels", inputs, 600))
    assert sorted(map(str, _flags(seven))) == sorted(map(str, _flags(one)))
    assert _key(_flags(seven)) == _truth(generated)
    assert {k: v.to_pylist() for k, v in seven.summaries.items()} == {
        k: v.to_pylist() for k, v in one.summaries.items()
    }
    assert seven.totals == one.totals and seven.rejects.equals(one.rejects)


def _labels(policy: Policy, out: Path, inputs: tuple[Any, ...], lines: int) -> list[str]:
    told: list[str] = []
    _audit(policy, out, *inputs, lines_per_pass=lines, progress=told.append)
    return told


def test_generated_csv_is_audited_like_parquet(kadcyla: Policy, tmp_path: Path) -> None:
    from medpolicy.batch.generate import generate_claims

    made = generate_claims(kadcyla, 1500, tmp_path / "claims.csv", seed=11, rate=0.05)
    result = _audit(kadcyla, tmp_path / "out", [made.claims], made.authorizations, made.members)
    truth = {
        (r["claim_id"], int(r["line_number"]), r["check"])
        for r in pacsv.read_csv(made.truth).to_pylist()
    }
    assert _key(_flags(result)) == truth


@pytest.fixture(scope="module")
def both(
    tmp_path_factory: pytest.TempPathFactory, generated: GeneratedFiles
) -> tuple[list[Path], Path, Path]:
    """The corpus and the generated claims as one audit's inputs."""
    folder = tmp_path_factory.mktemp("both")
    inputs = []
    for name, paths in (
        ("authorizations", [CORPUS / "authorizations.csv", generated.authorizations]),
        ("members", [CORPUS / "members.csv", generated.members]),
    ):
        tables = [pacsv.read_csv(p) if p.suffix == ".csv" else pq.read_table(p) for p in paths]
        columns = tables[0].column_names
        merged = pa.concat_tables(
            [t.select(columns).cast(pa.schema([(c, pa.string()) for c in columns])) for t in tables]
        )
        pacsv.write_csv(merged, folder / f"{name}.csv")
        inputs.append(folder / f"{name}.csv")
    return [CORPUS / "claims.csv", generated.claims], inputs[0], inputs[1]


def test_spark_flags_exactly_what_duckdb_and_the_python_evaluator_flag(
    kadcyla: Policy, both: tuple[list[Path], Path, Path], spark_master: str, tmp_path: Path
) -> None:
    claims, auths, members = both
    duck = _audit(kadcyla, tmp_path / "duckdb", claims, auths, members)
    spark = _audit(
        kadcyla,
        tmp_path / "spark",
        claims,
        auths,
        members,
        engine="spark",
        spark_master=spark_master,
    )
    assert _flags(spark) == _flags(duck)
    assert spark.rejects.to_pylist() == duck.rejects.to_pylist()
    for name, table in duck.summaries.items():
        assert spark.summaries[name].to_pylist() == table.to_pylist(), name
    auth_rows, weights = references(auths, members)
    rows = corpus_rows(CORPUS / "claims.csv") + [
        {**r, "source_file": str(claims[1]), "source_row": i}
        for i, r in enumerate(pq.read_table(claims[1]).to_pylist(), 1)
    ]
    flags, _ = evaluate_claims(audit_plan(kadcyla), rows, auth_rows, weights)
    assert _flags(duck) == flags
