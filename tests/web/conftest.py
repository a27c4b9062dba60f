"""Browser tests: Debian's chromium driven by Playwright against a real ``medpolicy serve``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from medpolicy.store import Role, TokenStore, open_store
from tests.api.support import Server, pg_available, pg_database
from tests.support import REPO, unavailable

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"


@dataclass(frozen=True)
class LiveService:
    base_url: str
    reviewer_token: str
    provider_token: str
    database_url: str = ""
    second_reviewer_token: str = ""  # "Dr Chen"
    admin_token: str = ""  # "Ops"

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


@contextmanager
def serving(url: str, folder: Path) -> Iterator[LiveService]:
    """``medpolicy serve`` on the store at ``url``, with a reviewer, a provider, a second
    reviewer and an admin token."""
    store = open_store(url)
    tokens = TokenStore(store)
    reviewer, _ = tokens.create(Role.reviewer, name="Dr Rivera")
    provider, _ = tokens.create(Role.provider, name="Tampa", organization="tampa-oncology")
    second, _ = tokens.create(Role.reviewer, name="Dr Chen")
    admin, _ = tokens.create(Role.admin, name="Ops")
    store.close()
    server = Server(url, folder / "server.log").start()
    banner = (folder / "server.log").read_text()
    assert f"{server.base_url}/docs" in banner and f"{server.base_url}/review/" in banner
    try:
        yield LiveService(server.base_url, reviewer, provider, url, second, admin)
    finally:
        server.stop()


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    folder = tmp_path_factory.mktemp("web")
    with serving(f"sqlite:///{folder / 'review.db'}", folder) as service:
        yield service


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def any_store_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveService]:
    """A live service on SQLite, then on a fresh PostgreSQL database."""
    folder = tmp_path_factory.mktemp("web")
    if request.param == "sqlite":
        with serving(f"sqlite:///{folder / 'review.db'}", folder) as service:
            yield service
        return
    if not pg_available():
        unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    with pg_database() as url, serving(url, folder) as service:
        yield service


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        unavailable("Debian chromium is not installed (scripts/setup --system installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})  # type: ignore[attr-defined]
    tab = context.new_page()
    yield tab
    context.close()


def screenshot(page: object, name: str, *, full_page: bool = True) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    return path


AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"


def axe_violations(page: object) -> list[dict[str, object]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA
    rules and axe's best practices). axe-core is installed by ``scripts/setup`` from
    ``tests/web/package-lock.json``."""
    if not AXE.exists():
        unavailable("axe-core is not installed: run scripts/setup (npm ci in tests/web)")
    page.add_script_tag(path=str(AXE))  # type: ignore[attr-defined]
    result = page.evaluate(  # type: ignore[attr-defined]
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result
        if v["impact"] in ("serious", "critical")
    ]
