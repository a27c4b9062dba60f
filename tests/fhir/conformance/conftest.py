"""One run of every route, shared by the conformance tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from medpolicy.policy.registry import PolicyRegistry
from tests.fhir.conformance.emitted import Emitted, emit_everything


@pytest.fixture(scope="session")
def emitted(registry: PolicyRegistry, tmp_path_factory: pytest.TempPathFactory) -> list[Emitted]:
    database: Path = tmp_path_factory.mktemp("conformance") / "cases.db"
    return emit_everything(registry, database)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, driven by the venv's Playwright (its own browser download does not
    work on these machines)."""
    from tests.support import unavailable
    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        unavailable("Debian chromium is not installed (scripts/setup --system installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
