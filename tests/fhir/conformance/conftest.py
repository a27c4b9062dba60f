"""One run of every route, shared by the conformance tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from medpolicy.policy.registry import PolicyRegistry
from tests.fhir.conformance.emitted import Emitted, emit_everything


@pytest.fixture(scope="session")
def emitted(registry: PolicyRegistry, tmp_path_factory: pytest.TempPathFactory) -> list[Emitted]:
    database: Path = tmp_path_factory.mktemp("conformance") / "cases.db"
    return emit_everything(registry, database)
