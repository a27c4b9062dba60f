"""What the analyst sees: the command's output and progress bar, and the HTML report looked at in
Chromium (a screenshot is kept under test-artifacts/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from medpolicy.cli import main
from tests.support import REPO, unavailable


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli")
    runner = CliRunner()
    made = runner.invoke(
        main,
        [
            "claims",
            "generate",
            "--lines",
            "2000",
            "--out",
            str(folder / "claims.parquet"),
            "--seed",
            "5",
            "--rate",
            "0.03",
        ],
    )
    assert made.exit_code == 0, made.output
    assert "2000 claim lines" in made.output
    out = folder / "out"
    result = runner.invoke(
        main,
        [
            "claims",
            "audit",
            str(folder / "claims.parquet"),
            "--authorizations",
            str(folder / "claims.authorizations.parquet"),
            "--members",
            str(folder / "claims.members.parquet"),
            "--out",
            str(out),
            "--progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2000 lines read" in result.output and "at risk" in result.output
    assert "running the checks" in result.output and "[####" in result.output  # the progress bar
    return out


def test_the_audit_writes_what_an_analyst_reads(audited: Path) -> None:
    for name in (
        "flags.parquet",
        "flags.csv",
        "summary_by_check.csv",
        "summary_by_provider.csv",
        "summary_by_month.csv",
        "rejects.csv",
        "report.html",
        "audit.json",
    ):
        assert (audited / name).exists(), name
    header = (audited / "summary_by_provider.csv").read_text(encoding="utf-8").splitlines()[0]
    assert "dollars_at_risk" in header and "billing_npi" in header


def test_an_unsupported_construct_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "claims",
            "audit",
            "nothing.csv",
            "--out",
            str(tmp_path),
            "--authorizations",
            str(tmp_path / "x"),
            "--database",
            "sqlite:///x",
        ],
    )
    assert result.exit_code != 0


@pytest.mark.browser
def test_the_report_renders_its_charts_in_chromium(audited: Path) -> None:
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists():
        unavailable("Debian's chromium is not installed (scripts/setup --system installs it)")
    from playwright.sync_api import sync_playwright

    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(chromium),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1600})
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto((audited / "report.html").as_uri())
            assert page.locator("h1").inner_text().startswith("Claims audit: J9354")
            assert page.locator("svg").count() == 3  # by check, by month, by provider
            assert page.locator("svg rect").count() >= 8
            box = page.locator("svg").first.bounding_box()
            assert box is not None and box["width"] > 500 and box["height"] > 100
            assert "look_alike_product" in page.content()
            page.screenshot(path=str(artifacts / "claims-audit-report.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [(audited / "report.html").as_uri()]  # self-contained: nothing else loaded
    assert (artifacts / "claims-audit-report.png").stat().st_size > 10_000
