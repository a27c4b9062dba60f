"""The reviewer web app end to end in Chromium: sign in, work the queue, read a case, decide."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.api.support import approved_request, missing_information_request, not_met_request
from tests.web.conftest import LiveService, screenshot

pytestmark = pytest.mark.browser


def seed(service: LiveService) -> dict[str, str]:
    """Cases in every state; returns request id -> case id."""
    made: dict[str, str] = {}
    with service.api(service.provider_token) as api:
        for body in (
            not_met_request("PA-WEB-STD"),
            not_met_request("PA-WEB-EXP", urgency="expedited"),
            missing_information_request("PA-WEB-PEND"),
            approved_request("PA-WEB-OK"),
        ):
            response = api.post("/api/v1/cases", json=body)
            assert response.status_code == 201, response.text
            made[body["request_id"]] = response.json()["id"]
    return made


def sign_in(page: Page, service: LiveService) -> None:
    page.goto(f"{service.base_url}/review/")
    expect(page).to_have_url(re.compile(r"/review/login"))
    page.fill("#token", service.reviewer_token)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Work queue")).to_be_visible()


def test_sign_in_refuses_a_wrong_token(page: Page, live_service: LiveService) -> None:
    page.goto(f"{live_service.base_url}/review/login")
    page.fill("#token", "mp_wrong")
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("not a valid reviewer token")
    page.fill("#token", live_service.provider_token)
    page.click("button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("not a valid reviewer token")
    cookies = page.context.cookies()
    assert not any(c["name"] == "medpolicy_session" for c in cookies)


def test_reviewer_works_the_queue_and_denies_with_reason(
    page: Page, live_service: LiveService
) -> None:
    cases = seed(live_service)
    sign_in(page, live_service)
    [session] = [c for c in page.context.cookies() if c["name"] == "medpolicy_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"

    rows = page.locator("table.queue").first.locator("tbody tr")
    order = [rows.nth(i).locator("td").nth(2).inner_text() for i in range(rows.count())]
    # Soonest due first: expedited (72 h), then the standard cases in order of receipt.
    assert order.index("PA-WEB-EXP") < order.index("PA-WEB-STD") < order.index("PA-WEB-PEND")
    assert "PA-WEB-OK" not in order, "an approved case is not in the work queue"
    expect(page.locator(f"tr[data-case='{cases['PA-WEB-EXP']}']")).to_contain_text("not met")
    expect(page.locator(f"tr[data-case='{cases['PA-WEB-PEND']}']")).to_contain_text(
        "missing information"
    )
    expect(page.locator(f"tr[data-case='{cases['PA-WEB-EXP']}']")).to_contain_text(
        "initiation breast cancer"
    )
    screenshot(page, "review-queue.png")

    page.get_by_role("link", name="PA-WEB-STD").click()
    expect(page.get_by_role("heading", name=re.compile("PA-WEB-STD"))).to_be_visible()
    # The criteria tree: each result with the guideline clause and the facts it read.
    criteria = page.locator("section.criteria")
    expect(criteria).to_contain_text("Member has HER2-positive disease")
    expect(criteria).to_contain_text("Position Statement > Initiation > 1.b")
    expect(criteria.locator("li.crit.not_met").first).to_be_visible()
    expect(criteria).to_contain_text("her2.ihc_score")
    expect(page.locator("section.reasons")).to_contain_text("Why the criteria are not met")
    precautions = page.locator("section.precautions")
    expect(precautions).to_contain_text("Boxed warning")
    expect(precautions).to_contain_text("interstitial lung disease or pneumonitis")
    expect(precautions).to_contain_text("should not be substituted for or with trastuzumab")
    expect(page.locator(".due-box")).to_contain_text("plan service level")
    screenshot(page, "review-case-not-met.png")
    screenshot(page, "review-case-not-met-screen.png", full_page=False)  # what the reviewer sees

    page.check("input[name=action][value=deny]")
    page.fill("#reason", "HER2-negative: IHC 1+ and ISH ratio 1.2 with 2.1 copies per cell.")
    clause_boxes = page.locator("fieldset.clauses input[type=checkbox]")
    assert clause_boxes.count() >= 1 and clause_boxes.first.is_checked()
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: deny")
    expect(page.locator("h1 .status")).to_have_text("denied")
    expect(page.locator("section.final")).to_contain_text("Denied by Dr Rivera")
    expect(page.locator("section.history")).to_contain_text("review deny")
    screenshot(page, "review-case-denied.png")

    with live_service.api(live_service.reviewer_token) as api:
        case = api.get(f"/api/v1/cases/{cases['PA-WEB-STD']}").json()
    assert case["status"] == "denied"
    [decision] = case["reviewer_decisions"]
    assert decision["reviewer"] == "Dr Rivera"
    assert decision["clauses"] == ["Position Statement > Initiation > 1.b"]
    assert decision["reason"].startswith("HER2-negative")


def test_a_pended_case_shows_what_is_missing_and_can_be_sent_back(
    page: Page, live_service: LiveService
) -> None:
    with live_service.api(live_service.provider_token) as api:
        case_id = api.post("/api/v1/cases", json=missing_information_request("PA-WEB-MISS")).json()[
            "id"
        ]
    sign_in(page, live_service)
    page.goto(f"{live_service.base_url}/review/cases/{case_id}")
    missing = page.locator("section.missing")
    expect(missing).to_contain_text("Information needed")
    expect(missing).to_contain_text("her2.")
    page.check("input[name=action][value=request_information]")
    page.fill("#reason", "Please send the HER2 IHC and ISH pathology report.")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("status")).to_contain_text("Recorded: request information")
    expect(page.locator("h1 .status")).to_have_text("pending information")
    screenshot(page, "review-case-pended.png", full_page=False)
