"""One corpus, every engine: the Python evaluator, DuckDB and Spark flag the same lines with the
same check, clause and values, row for row; on generated claims every injected violation is
flagged and nothing else (precision and recall exactly 1 for every check)."""

from __future__ import annotations

import csv
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from medpolicy.batch.audit import AuditResult, run_audit
from medpolicy.batch.evaluate import evaluate_claims
from medpolicy.batch.generate import GeneratedFiles
from medpolicy.batch.layout import AUTHORIZATIONS, CLAIM_LINES
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
    plan = audit_plan(kadcyla)
    auths, weights = references(plan, CORPUS / "authorizations.csv", CORPUS / "members.csv")
    flags, rejects = evaluate_claims(plan, corpus_rows(CORPUS / "claims.csv"), auths, weights)
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
    plan = audit_plan(kadcyla)
    auths, weights = references(plan, generated.authorizations, generated.members)
    flags, _ = evaluate_claims(plan, _generated_rows(generated), auths, weights)
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
    auth_rows, weights = references(audit_plan(kadcyla), auths, members)
    rows = corpus_rows(CORPUS / "claims.csv") + [
        {**r, "source_file": str(claims[1]), "source_row": i}
        for i, r in enumerate(pq.read_table(claims[1]).to_pylist(), 1)
    ]
    flags, _ = evaluate_claims(audit_plan(kadcyla), rows, auth_rows, weights)
    assert _flags(duck) == flags


# -- a members file's implausible weight --------------------------------------------------------
# The catalogue's plausible_max for a body weight (400 kg) holds the members file as it holds a
# request's record: a weight over it is a reject (file, row, column, reason), and that member's
# lines are held to the authorized units per administration, as any rejected member's are. Each
# row is one member with one line of the policy's drug and an authorization of 1000 units:
# (weight_kg, units billed, rejected, the dose check's values; None: not flagged).
_LIMIT = Decimal("400")
_WEIGHTS = (
    ("400", "1440", False, None),  # at the limit: read; 1440 units = ceil(3.6 mg/kg x 400 kg)
    (
        "400",
        "1441",
        False,
        "administered_units=1441; weight_kg=400.000; max_mg_per_kg=3.6; max_units=1440",
    ),
    ("400.000", "1200", False, None),
    (
        "400.001",  # just over: refused, so 1200 units are over the 1000 authorized
        "1200",
        True,
        "administered_units=1200; authorized_units_per_administration=1000; authorization=PA-W4",
    ),
    (
        "900",  # pounds sent as kilograms: it would have allowed 3240 units
        "1200",
        True,
        "administered_units=1200; authorized_units_per_administration=1000; authorization=PA-W5",
    ),
    (
        "999.999",
        "1001",
        True,
        "administered_units=1001; authorized_units_per_administration=1000; authorization=PA-W6",
    ),
)


def _weight_inputs(folder: Path, members_as: str) -> tuple[Path, Path, Path]:
    """The table's claims, authorizations and members (members as CSV text or typed Parquet)."""
    npis = "1234567890,1111111111"
    claims, auths = folder / "claims.csv", folder / "authorizations.csv"
    claims.write_text(
        ",".join(CLAIM_LINES.names)
        + "\n"
        + "".join(
            f"CW{i},1,W{i},2025-11-03,J9354,,{units},C50.911,,,,{npis},11,100.00\n"
            for i, (_w, units, _r, _v) in enumerate(_WEIGHTS, 1)
        ),
        encoding="utf-8",
    )
    auths.write_text(
        ",".join(AUTHORIZATIONS.names)
        + "\n"
        + "".join(
            f"PA-W{i},W{i},J9354,2025-11-01,2026-04-30,1000,9000\n"
            for i in range(1, len(_WEIGHTS) + 1)
        ),
        encoding="utf-8",
    )
    members = folder / f"members.{members_as}"
    ids = [f"W{i}" for i in range(1, len(_WEIGHTS) + 1)]
    weights = [w for w, _u, _r, _v in _WEIGHTS]
    if members_as == "parquet":
        typed = pa.array([Decimal(w) for w in weights], pa.decimal128(9, 3))
        pq.write_table(pa.table({"member_id": ids, "weight_kg": typed}), members)
    else:
        members.write_text(
            "member_id,weight_kg\n"
            + "".join(f"{m},{w}\n" for m, w in zip(ids, weights, strict=True)),
            encoding="utf-8",
        )
    return claims, auths, members


def _dose_flags(flags: list[dict[str, Any]]) -> dict[str, str]:
    return {f["member_id"]: f["values"] for f in flags if f["check"] == "units_within_dose_limit"}


def _expected_dose_flags() -> dict[str, str]:
    return {f"W{i}": v for i, (_w, _u, _r, v) in enumerate(_WEIGHTS, 1) if v is not None}


@pytest.mark.parametrize("members_as", ["csv", "parquet"])
def test_a_members_weight_over_the_catalogues_plausible_max_is_a_reject(
    kadcyla: Policy, tmp_path: Path, members_as: str
) -> None:
    plan = audit_plan(kadcyla)
    # the limit is the catalogue's, not the audit's
    assert kadcyla.catalogue["body_weight.kg"].plausible_max == _LIMIT
    assert plan.most("members", "weight_kg") == _LIMIT
    claims, auths, members = _weight_inputs(tmp_path, members_as)
    result = _audit(kadcyla, tmp_path / "out", [claims], auths, members)
    rejected = {
        r["source_row"]: r for r in result.rejects.to_pylist() if r["source_file"] == str(members)
    }
    assert sorted(rejected) == [i for i, row in enumerate(_WEIGHTS, 1) if row[2]]
    for row, reject in rejected.items():
        assert reject["column"] == "weight_kg"
        assert Decimal(reject["value"]) == Decimal(_WEIGHTS[row - 1][0])
        assert reject["reason"] == (
            f"{reject['value']} kg is not a plausible body weight (kg) (over 400 kg); "
            "check the unit"
        )
    assert _dose_flags(_flags(result)) == _expected_dose_flags()
    # the Python evaluator, given every weight unread (the reader's rejects included), holds the
    # dose check to the same limit itself: the same flags, row for row
    weights = {f"W{i}": Decimal(w) for i, (w, _u, _r, _v) in enumerate(_WEIGHTS, 1)}
    auth_rows, _ = references(plan, auths, members)
    flags, _ = evaluate_claims(plan, corpus_rows(claims), auth_rows, weights)
    assert flags == _flags(result)


@pytest.mark.parametrize("second", ["200", "900"])
def test_a_member_listed_twice_has_no_weight_read(
    kadcyla: Policy, tmp_path: Path, second: str
) -> None:
    """Two rows for one member are two reports of one weight: with the first read, 400 kg would
    let 1200 units through that 200 kg would not. Neither is read (a second row refused for its
    own reason counts too), each row is a reject, and the member's lines are held to the units
    authorized, as any member without a weight's are."""
    claims, auths, members = _weight_inputs(tmp_path, "csv")
    members.write_text(members.read_text(encoding="utf-8") + f"W3,{second}\n", encoding="utf-8")
    result = _audit(kadcyla, tmp_path / "out", [claims], auths, members)
    rejects = [r for r in result.rejects.to_pylist() if r["source_file"] == str(members)]
    # the added row is refused for its weight when that is implausible, else as a second listing
    added = len(_WEIGHTS) + 1
    expected = [(3, "member_id", "W3"), (added, "member_id", "W3")]
    if second == "900":
        expected[1] = (added, "weight_kg", "900")
    assert [
        (r["source_row"], r["column"], r["value"]) for r in rejects if r["source_row"] in (3, added)
    ] == expected
    listed = [r for r in rejects if r["column"] == "member_id"]
    assert all(
        r["reason"] == "member listed more than once; none of their rows is used" for r in listed
    )
    assert _dose_flags(_flags(result))["W3"] == (
        "administered_units=1200; authorized_units_per_administration=1000; authorization=PA-W3"
    )


def _reading_every_weight(monkeypatch: pytest.MonkeyPatch) -> None:
    """The audit's reader without the limit: every weight reaches the engine's ``members``."""
    from medpolicy.batch import audit, sources

    def unlimited(path: Path, layout: Any, _plausible: Any) -> Any:
        return sources.read_reference(path, layout, ())

    monkeypatch.setattr(audit, "read_reference", unlimited)


def test_the_compiled_dose_check_never_reads_an_implausible_weight(
    kadcyla: Policy, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SQL holds the limit itself: a members table with the implausible weights still in it
    flags what the audit with the weights rejected flags."""
    claims, auths, members = _weight_inputs(tmp_path, "csv")
    _reading_every_weight(monkeypatch)
    result = _audit(kadcyla, tmp_path / "out", [claims], auths, members)
    assert not [r for r in result.rejects.to_pylist() if r["source_file"] == str(members)]
    assert _dose_flags(_flags(result)) == _expected_dose_flags()


def test_spark_holds_a_members_weight_to_the_same_limit(
    kadcyla: Policy, tmp_path: Path, spark_master: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims, auths, members = _weight_inputs(tmp_path, "csv")
    duck = _audit(kadcyla, tmp_path / "duckdb", [claims], auths, members)
    _reading_every_weight(monkeypatch)  # the engine's own check, not the reader's
    spark = _audit(
        kadcyla,
        tmp_path / "spark",
        [claims],
        auths,
        members,
        engine="spark",
        spark_master=spark_master,
    )
    assert _dose_flags(_flags(spark)) == _expected_dose_flags()
    assert _flags(spark) == _flags(duck)
