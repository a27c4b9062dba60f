"""Fixtures for the claims audit: the corpus, a small generated sample, one Spark session."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from medpolicy.batch.generate import GeneratedFiles, generate_claims
from medpolicy.batch.layout import AUTHORIZATIONS, MEMBERS
from medpolicy.batch.plan import AuditPlan
from medpolicy.batch.sources import read_reference
from medpolicy.policy.tree import Policy
from tests.support import unavailable

CORPUS = Path(__file__).parent / "corpus"


def corpus_rows(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [
            {**row, "source_file": str(path), "source_row": i}
            for i, row in enumerate(csv.DictReader(f), 1)
        ]


def references(
    plan: AuditPlan, auths: Path, members: Path
) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
    """The authorizations and members' weights as the audit reads them (rejects left out)."""
    a, _ = read_reference(auths, AUTHORIZATIONS, plan.plausible)
    m, _ = read_reference(members, MEMBERS, plan.plausible)
    return a.to_pylist(), {r["member_id"]: r["weight_kg"] for r in m.to_pylist()}


@pytest.fixture(scope="session")
def generated(kadcyla: Policy, tmp_path_factory: pytest.TempPathFactory) -> GeneratedFiles:
    """4,000 lines with a high rate of each violation (about 60 members with one)."""
    out = tmp_path_factory.mktemp("generated") / "claims.parquet"
    return generate_claims(kadcyla, 4000, out, seed=7, rate=0.03)


@pytest.fixture(scope="session")
def spark_master() -> Iterator[str]:
    """Spark is started by the first audit that asks for it; the session is stopped at the end."""
    if shutil.which("java") is None:
        unavailable("Java is not installed (scripts/setup --system installs it)")
    try:
        import pyspark  # noqa: F401
    except ImportError:
        unavailable("pyspark is not installed")
    yield "local[2]"
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
