"""Determination notices in Chromium: from a case page, follow each notice link (approval,
request for information, denial; member and prescriber) and keep a screenshot of each in
test-artifacts/; the PDF links answer real PDFs."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.api.support import approved_request, missing_information_request, not_met_request
from tests.web.conftest import LiveService, screenshot
from tests.web.test_reviewer_app import sign_in

pytestmark = pytest.mark.browser

# What each notice must say, by kind and audience (beyond its title).
EXPECTED = {
    ("approval", "Member"): ["What we approved", "(6 months)", "every 21 days"],
    ("approval", "Provider"): ["Authorization", "Vials per administration", "Discarded units"],
    ("information", "Member"): ["We need more information from your doctor", "Send it by"],
    ("information", "Provider"): ["What to send", "her2.ihc", "Send it by"],
    ("denial", "Member"): ["Why we said no", "Guideline section", "Your right to appeal"],
    ("denial", "Provider"): ["Reasons for the denial", "Found: none of the alternatives"],
}
TITLES = {
    "approval": "Prior authorization approved",
    "information": "More information needed",
    "denial": "Prior authorization denied",
}


def _follow_notices(page: Page, service: LiveService, case_id: str, kind: str) -> None:
    case_url = f"{service.base_url}/review/cases/{case_id}"
    for audience in ("Member", "Provider"):
        page.goto(case_url)
        panel = page.locator("section.notices")
        expect(panel).to_be_visible()
        panel.get_by_role("link", name=f"{audience} notice (HTML)").click()
        expect(page).to_have_url(re.compile(rf"/notice\?audience={audience.lower()}&format=html"))
        expect(page.get_by_role("heading", level=1)).to_have_text(TITLES[kind])
        for phrase in EXPECTED[(kind, audience)]:
            expect(page.locator("body")).to_contain_text(phrase)
        screenshot(page, f"notice-{kind}-{audience.lower()}.png")
        page.goto(case_url)
        pdf_link = panel.get_by_role("link", name=f"{audience} notice (PDF)")
        href = pdf_link.get_attribute("href")
        assert href is not None
        pdf = page.request.get(f"{service.base_url}{href}")  # with the page's session cookie
        assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.body().startswith(b"%PDF-")


def test_each_notice_is_reached_from_its_case_page(page: Page, live_service: LiveService) -> None:
    made = {}
    with live_service.api(live_service.provider_token) as api:
        for kind, body in (
            ("approval", approved_request("PA-NOTICE-OK")),
            ("information", missing_information_request("PA-NOTICE-PEND")),
            ("denial", not_met_request("PA-NOTICE-DENY")),
        ):
            response = api.post("/api/v1/cases", json=body)
            assert response.status_code == 201, response.text
            made[kind] = response.json()["id"]
    sign_in(page, live_service)

    # Awaiting review: no notice yet, and no link to one.
    page.goto(f"{live_service.base_url}/review/cases/{made['denial']}")
    panel = page.locator("section.notices")
    expect(panel).to_contain_text("No notice yet: the case awaits a reviewer's decision")
    expect(panel.get_by_role("link")).to_have_count(0)
    page.check("input[name=action][value=deny]")
    page.fill("#reason", "HER2-negative: IHC 1+ and ISH ratio 1.2 with 2.1 copies per cell.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.locator("h1 .status")).to_have_text("denied")
    expect(panel.get_by_role("link")).to_have_count(4)

    for kind in ("approval", "information", "denial"):
        _follow_notices(page, live_service, made[kind], kind)
    # The reviewer's reason, in the denial notice as written.
    page.goto(f"{live_service.base_url}/review/cases/{made['denial']}")
    page.locator("section.notices").get_by_role("link", name="Member notice (HTML)").click()
    expect(page.locator("p.reason").first).to_contain_text("IHC 1+ and ISH ratio 1.2")

    with live_service.api(live_service.reviewer_token) as api:
        assert api.get(f"/api/v1/cases/{made['denial']}").status_code == 200
