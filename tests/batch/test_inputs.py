"""Malformed inputs go to the rejects file (file, row, column, reason) without stopping the run;
authorizations come from a file or straight from the service's store (SQLite, PostgreSQL)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from medpolicy.batch.audit import run_audit
from medpolicy.batch.layout import CLAIM_LINES
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.policy.tree import Policy
from medpolicy.store import CaseStore
from tests.support import EXAMPLES

HEADER = ",".join(CLAIM_LINES.names)


def _line(
    claim: str,
    member: str,
    day: str,
    units: str = "100",
    modifiers: str = "JZ",
    dx: str = "C50.911",
) -> str:
    npis = "1234567890,1111111111"
    return f"{claim},1,{member},{day},J9354,{modifiers},{units},{dx},,,,{npis},11,100.00"


def test_bad_rows_are_rejected_with_file_row_and_column_and_the_rest_is_audited(
    kadcyla: Policy, tmp_path: Path
) -> None:
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "\n".join(
            [
                HEADER,
                _line("C1", "M1", "2025-11-03"),
                "C2,1,M1,2025-11-24,J9354,JZ,100",  # too few fields
                _line("C3", "M1", "2025-11-24", units="ten"),
                '"C4\nsplit",1,M1,2025-12-15,J9354,JZ,100,C50.911,,,,1234567890,1111111111,11,100.00',
                _line("C5", "M1", "2026-01-05"),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    other = tmp_path / "no-units.csv"
    other.write_text(HEADER.replace(",units", "") + "\n", encoding="utf-8")
    result = run_audit(
        kadcyla, [claims, other, tmp_path / "missing.parquet"], tmp_path / "out", report=False
    )
    rejects = [(r["source_file"], r["source_row"], r["column"]) for r in result.rejects.to_pylist()]
    assert (str(claims), 2, None) in rejects  # the row with too few fields
    assert (str(claims), 3, "units") in rejects
    assert (str(other), None, "units") in rejects  # a file without a required column is skipped
    assert any(r[0].endswith("missing.parquet") for r in rejects)
    # a quoted value over two lines is one row (the fourth), its claim id malformed; the rows
    # around the rejects keep their numbers
    assert (str(claims), 4, "claim_id") in rejects
    audited = pq.read_table(result.files["flags_parquet"]).column("claim_id").to_pylist()
    assert set(audited) <= {"C1", "C5"}
    assert result.totals["lines_in_scope"] == 2
    with (tmp_path / "out" / "rejects.csv").open(newline="", encoding="utf-8") as f:
        assert len(list(csv.DictReader(f))) == len(rejects)


def _approve(store: CaseStore, registry: PolicyRegistry) -> tuple[str, dict[str, Any]]:
    from tests.store.helpers import submit

    body = json.loads((EXAMPLES / "breast-metastatic-approved.json").read_text(encoding="utf-8"))
    result = submit(store, registry, body)
    assert result.case.status.value == "approved"
    authorization = result.case.decision().authorization
    assert authorization is not None
    return result.case.id, {"member": body["member"]["id"], "authorization": authorization}


def test_authorizations_are_read_from_the_store(
    kadcyla: Policy, registry: PolicyRegistry, store: CaseStore, database_url: str, tmp_path: Path
) -> None:
    _case_id, approved = _approve(store, registry)
    authorization = approved["authorization"]
    start = authorization.period_start.isoformat()
    units = str(authorization.units_per_administration)
    claims = tmp_path / "claims.csv"
    claims.write_text(
        "\n".join(
            [
                HEADER,
                _line("C1", approved["member"], start, units=units, modifiers=""),
                _line("C2", "SOMEONE-ELSE", start),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run_audit(kadcyla, [claims], tmp_path / "out", database=database_url, report=False)
    flags = pq.read_table(result.files["flags_parquet"]).to_pylist()
    no_auth = {f["claim_id"] for f in flags if f["check"] == "authorization_on_file"}
    assert no_auth == {"C2"}  # the member approved in the store is covered; the other is not


from tests.api.conftest import database_url, pg_session_url, store  # noqa: E402

__all__ = ["database_url", "pg_session_url", "store"]
_ = pytest
