"""A reviewer's working day in Chromium: who each case is for, a queue that filters and pages,
claiming a case, another reviewer refused, every page checked by axe-core, every action by keyboard.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from medpolicy.adapters.native import parse_request
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from medpolicy.store import CaseStore, open_store
from tests.api.support import missing_information_request, not_met_request
from tests.store.helpers import PROVIDER, adapted, aetna_bundle, aetna_registry, submit_adapted
from tests.web.conftest import LiveService, axe_violations, screenshot

pytestmark = pytest.mark.browser

PRESCRIBER = {"name": "Dr Ana Ortiz", "npi": "1234567893"}


def with_identity(body: dict[str, Any], member: str, plan: str = "BlueOptions") -> dict[str, Any]:
    body["member"] = {**body["member"], "id": member, "sex": "female", "plan": plan}
    body["prescriber"] = PRESCRIBER
    return body


def submit(service: LiveService, body: dict[str, Any]) -> str:
    with service.api(service.provider_token) as api:
        response = api.post("/api/v1/cases", json=body)
        assert response.status_code == 201, response.text
        case_id: str = response.json()["id"]
        return case_id


def submit_overdue(service: LiveService, registry: PolicyRegistry, body: dict[str, Any]) -> str:
    """A case received nine days ago, so past its seven-day due time, written by the store (the
    API always receives a case now)."""
    received = datetime.now(UTC) - timedelta(days=9)
    store = CaseStore(open_store(service.database_url).engine, clock=lambda: received)
    try:
        request = parse_request(body)
        result = store.submit(request, evaluate_request(registry, request), actor=PROVIDER)
        return result.case.id
    finally:
        store.close()


def sign_in(page: Page, service: LiveService, token: str | None = None) -> None:
    page.goto(f"{service.base_url}/review/login")
    page.fill("#token", token or service.reviewer_token)
    page.click("button[type=submit]")
    expect(page.get_by_role("heading", name="Work queue")).to_be_visible()


def assert_accessible(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{where}: {violations}"


@pytest.fixture(scope="module")
def live(any_store_service: LiveService) -> LiveService:
    """This module's tests run against SQLite and against PostgreSQL."""
    return any_store_service


@pytest.fixture(scope="module")
def day(live: LiveService, registry: PolicyRegistry) -> dict[str, str]:
    """The queue for the module's tests: an overdue case, identified cases, more than a page."""
    made = {
        "overdue": submit_overdue(
            live, registry, with_identity(not_met_request("PA-DAY-LATE"), "M-LATE")
        ),
        "expedited": submit(
            live,
            with_identity(
                not_met_request("PA-DAY-EXP", urgency="expedited"), "M-EXP", "Blue Select"
            ),
        ),
        "pending": submit(
            live, with_identity(missing_information_request("PA-DAY-PEND"), "M-PEND")
        ),
    }
    for i in range(5):
        made[f"std{i}"] = submit(live, with_identity(not_met_request(f"PA-DAY-{i}"), f"M-{i}"))
    return made


def test_the_queue_shows_who_each_case_is_for_filters_and_pages(
    page: Page, live: LiveService, day: dict[str, str]
) -> None:
    sign_in(page, live)
    late = page.locator(f"tr[data-case='{day['overdue']}']")
    expect(late).to_have_class(re.compile("overdue"))
    expect(late.locator("td.due")).to_contain_text("Overdue")
    today = datetime.now(UTC).date()
    age = today.year - 1968 - ((today.month, today.day) < (3, 14))
    member = late.locator("td.member")
    expect(member).to_contain_text("M-LATE")
    expect(member).to_contain_text(f"born 1968-03-14, {age} y")
    expect(member).to_contain_text("female")
    expect(late).to_contain_text("BlueOptions")
    expect(late).to_contain_text("commercial")
    expect(late).to_contain_text("tampa-oncology")
    expect(late).to_contain_text("Dr Ana Ortiz (NPI 1234567893)")
    expect(page.locator("p.total")).to_contain_text("overdue")
    assert_accessible(page, "queue")

    # Filter by the form: expedited cases only; the counts follow the filter.
    page.select_option("#f-urgency", "expedited")
    page.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"urgency=expedited"))
    rows = page.locator("table.queue").first.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("PA-DAY-EXP")
    expect(page.locator("p.total")).to_contain_text("1 open case matches these filters")
    assert_accessible(page, "queue filtered")

    # Search by member id.
    page.goto(f"{live.base_url}/review/?q=M-PEND")
    expect(page.locator("table.queue").first.locator("tbody tr")).to_have_count(1)

    # Pages of three, in due order, filtered to the standard cases of one plan.
    page.goto(f"{live.base_url}/review/?urgency=standard&plan=BlueOptions&limit=3")
    seen: list[str] = []
    while True:
        seen += (
            page.locator("table.queue").first.locator("tbody tr td:nth-child(3)").all_inner_texts()
        )
        more = page.get_by_role("link", name="Next page")
        if more.count() == 0:
            break
        if len(seen) == 3:
            expect(page.get_by_role("link", name="First page")).to_have_count(0)
        more.click()
        expect(page.get_by_role("link", name="First page")).to_be_visible()
        assert page.locator("table.queue").first.locator("tbody tr").count() <= 3
        if len(seen) == 3:
            screenshot(page, "review-queue-filtered-paged.png")
            assert_accessible(page, "queue page 2")
    assert seen[0] == "PA-DAY-LATE" and len(seen) == len(set(seen))
    assert {"PA-DAY-PEND", "PA-DAY-0", "PA-DAY-4"} <= set(seen) and "PA-DAY-EXP" not in seen

    # A bad filter value or cursor is named, not a server error.
    for query, field in (
        ("status=approved", "status"),
        ("cursor=bogus", "cursor"),
        ("due=soon", "due"),
    ):
        response = page.goto(f"{live.base_url}/review/?{query}")
        assert response is not None and response.status == 422
        expect(page.get_by_role("alert").first).to_contain_text(f"{field}:")
    assert_accessible(page, "queue with a bad filter")


def test_a_claimed_case_is_refused_to_another_reviewer(
    browser: Browser, page: Page, live: LiveService, day: dict[str, str]
) -> None:
    case_id = day["std1"]
    sign_in(page, live)
    page.goto(f"{live.base_url}/review/cases/{case_id}")
    identity = page.locator("section.identity")
    for text in (
        "M-1",
        "1968-03-14",
        "female",
        "commercial",
        "BlueOptions",
        "tampa-oncology",
        "Dr Ana Ortiz",
    ):
        expect(identity).to_contain_text(text)
    page.get_by_role("button", name="Claim").click()
    expect(page.get_by_role("status")).to_contain_text("You have claimed this case")
    expect(page.locator("section.assignment")).to_contain_text("Claimed by you")
    expect(page.locator("section.history")).to_contain_text("case claimed")
    screenshot(page, "review-case-claimed.png")
    assert_accessible(page, "claimed case")

    page.goto(f"{live.base_url}/review/?assignee=me")
    rows = page.locator("table.queue").first.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Dr Rivera")

    other = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    try:
        sign_in(other, live, live.second_reviewer_token)
        other.goto(f"{live.base_url}/review/cases/{case_id}")
        expect(other.locator("section.assignment")).to_contain_text("Claimed by Dr Rivera")
        other.check("input[name=action][value=deny]")
        other.fill("#reason", "HER2-negative by IHC and ISH.")
        other.get_by_role("button", name="Record decision").click()
        expect(other.get_by_role("alert")).to_contain_text("claimed by Dr Rivera")
        expect(other.locator("h1 .status")).to_have_text("in review")
        screenshot(other, "review-case-claimed-refused.png", full_page=False)
        assert_accessible(other, "refused action")
    finally:
        other.context.close()

    page.goto(f"{live.base_url}/review/cases/{case_id}")
    page.get_by_role("button", name="Release").click()
    expect(page.locator("section.assignment")).to_contain_text("Unclaimed")


def test_refused_identity_changes_are_shown_on_the_case(
    page: Page, live: LiveService, day: dict[str, str]
) -> None:
    case_id = day["pending"]
    with live.api(live.provider_token) as api:
        refused = api.post(
            f"/api/v1/cases/{case_id}/resubmissions",
            json={"member": {"id": "M-SOMEONE-ELSE", "birth_date": "1970-01-01"}},
        )
    assert refused.status_code == 422
    sign_in(page, live)
    page.goto(f"{live.base_url}/review/cases/{case_id}")
    section = page.locator("section.refused")
    expect(section).to_contain_text("Identity changes refused")
    expect(section).to_contain_text("member.id M-PEND → M-SOMEONE-ELSE")
    expect(section).to_contain_text("member.birth_date 1968-03-14 → 1970-01-01")
    expect(section).to_contain_text("Tampa")
    assert_accessible(page, "case with refused changes")


def test_the_facts_a_decision_read_from_the_record_are_shown_on_the_case(
    page: Page, live: LiveService
) -> None:
    """A PAS case decided on its clinical record (the overall HER2 result answered in DTR),
    written by the store as PAS ``$submit`` writes it."""
    store = open_store(live.database_url)
    try:
        case_id = submit_adapted(store, aetna_registry(), adapted(aetna_bundle(answered=True)))
    finally:
        store.close()
    sign_in(page, live)
    page.goto(f"{live.base_url}/review/cases/{case_id.case.id}")
    section = page.locator("section.record-facts")
    expect(section.get_by_role("heading", name="Facts from the clinical record")).to_be_visible()
    expect(section.get_by_role("row").filter(has_text="positive")).to_contain_text("DTR answer")
    assert_accessible(page, "case decided on its clinical record")


def test_an_admin_reassigns_and_every_page_passes_axe(
    page: Page, live: LiveService, day: dict[str, str]
) -> None:
    page.goto(f"{live.base_url}/review/login")
    assert_accessible(page, "sign-in")
    sign_in(page, live, live.admin_token)
    page.goto(f"{live.base_url}/review/cases/{day['std2']}")
    page.select_option("#reassign-to", "Dr Chen")
    page.get_by_role("button", name="Reassign").click()
    expect(page.locator("section.assignment")).to_contain_text("Claimed by Dr Chen")
    assert_accessible(page, "admin's case view")
    page.goto(f"{live.base_url}/review/cases/{day['overdue']}")
    assert_accessible(page, "overdue case")
    page.goto(f"{live.base_url}/review/cases/case_none")
    assert_accessible(page, "missing case")


def tab_to(page: Page, name: str = "", *, selector: str = "", limit: int = 80) -> None:
    """Press Tab until the focused element's text (or value) is ``name``, or it matches the CSS
    ``selector``: what a keyboard user reaches, in the page's own order."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "(sel) => { const e = document.activeElement; if (sel) return e.matches(sel);"
            " return (e.innerText || e.value || '').trim(); }",
            selector,
        )
        if focused is True or (not selector and focused == name):
            return
    raise AssertionError(f"{name or selector!r} is not reachable by Tab")


def test_every_action_by_keyboard(page: Page, live: LiveService, day: dict[str, str]) -> None:
    case_id = day["std3"]
    page.goto(f"{live.base_url}/review/login")
    tab_to(page, selector="#token")
    page.keyboard.type(live.reviewer_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Work queue")).to_be_visible()

    tab_to(page, "PA-DAY-3")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name=re.compile("PA-DAY-3"))).to_be_visible()
    tab_to(page, "Claim")
    page.keyboard.press("Enter")
    expect(page.locator("section.assignment")).to_contain_text("Claimed by you")
    tab_to(page, "Release")
    page.keyboard.press("Space")
    expect(page.locator("section.assignment")).to_contain_text("Unclaimed")
    tab_to(page, "Claim")
    page.keyboard.press("Enter")
    expect(page.locator("section.assignment")).to_contain_text("Claimed by you")

    tab_to(page, "approve")  # the first radio of the action group
    page.keyboard.press("Space")
    expect(page.locator("input[name=action][value=approve]")).to_be_checked()
    page.keyboard.press("ArrowDown")  # within the group: deny
    expect(page.locator("input[name=action][value=deny]")).to_be_checked()
    page.keyboard.press("ArrowUp")
    expect(page.locator("input[name=action][value=approve]")).to_be_checked()
    page.keyboard.press("Tab")
    page.keyboard.type("Reviewed with the pharmacy: approved on the oncologist's peer-to-peer.")
    tab_to(page, "Record decision")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Recorded: approve")
    expect(page.locator("h1 .status")).to_have_text("approved")
    expect(page).to_have_url(re.compile(case_id))
    assert_accessible(page, "approved case")


def test_an_admin_reassigns_by_keyboard(page: Page, live: LiveService, day: dict[str, str]) -> None:
    page.goto(f"{live.base_url}/review/login")
    tab_to(page, selector="#token")
    page.keyboard.type(live.admin_token)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Work queue")).to_be_visible()
    page.goto(f"{live.base_url}/review/cases/{day['std4']}")
    tab_to(page, selector="#reassign-to")
    page.keyboard.press("ArrowDown")  # "No one" -> the first reviewer's name
    chosen = page.locator("#reassign-to").input_value()
    assert chosen, "the arrow key chose no reviewer"
    tab_to(page, "Reassign")
    page.keyboard.press("Enter")
    expect(page.locator("section.assignment")).to_contain_text(f"Claimed by {chosen}")
    tab_to(page, "Release")
    page.keyboard.press("Enter")
    expect(page.locator("section.assignment")).to_contain_text("Unclaimed")
