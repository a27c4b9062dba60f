"""Determination notices over the API, on SQLite and PostgreSQL: approval, request for
information and denial, for the member and the prescriber, as HTML and as a real PDF (read back
with poppler's pdftotext and rendered with pdftoppm into test-artifacts/notices/)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from medpolicy.notices import load_notice_settings
from tests.api.conftest import Tokens
from tests.api.support import approved_request, missing_information_request, not_met_request
from tests.support import REPO, unavailable

ARTIFACTS = REPO / "test-artifacts" / "notices"
DENY_REASON = "HER2-negative: IHC 1+ and ISH ratio 1.2 <script>alert('x')</script>"


def submit(client: TestClient, tokens: Tokens, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/cases", json=body, headers=Tokens.auth(tokens.provider))
    assert response.status_code == 201, response.text
    case: dict[str, Any] = response.json()
    return case


def notice(
    client: TestClient, token: str, case_id: str, audience: str = "member", fmt: str = "html"
) -> Any:
    return client.get(
        f"/api/v1/cases/{case_id}/notice",
        params={"audience": audience, "format": fmt},
        headers=Tokens.auth(token),
    )


def deny(client: TestClient, tokens: Tokens, case_id: str) -> None:
    response = client.post(
        f"/api/v1/cases/{case_id}/actions",
        json={"action": "deny", "reason": DENY_REASON, "decision_count": 1},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert response.status_code == 200, response.text


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_an_approval_gives_period_dose_and_units(client: TestClient, tokens: Tokens) -> None:
    case = submit(client, tokens, approved_request())
    member = notice(client, tokens.provider, case["id"], "member")
    assert member.status_code == 200, member.text
    assert member.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in member.headers["content-security-policy"]
    text = text_of(member.text)
    assert "Prior authorization approved" in text
    assert "November 9, 2026 through May 8, 2027 (6 months)" in text
    assert "246.6 mg (3.600 mg/kg at 68.5 kg) every 21 days" in text
    assert "247 per administration; 2223 in all" in text
    provider = text_of(notice(client, tokens.reviewer, case["id"], "provider").text)
    assert "1 × 160 mg, 1 × 100 mg" in provider and "Discarded units (JW) 13" in provider


def test_a_request_for_information_says_what_to_send_and_by_when(
    client: TestClient, tokens: Tokens
) -> None:
    case = submit(client, tokens, missing_information_request())
    provider = text_of(notice(client, tokens.provider, case["id"], "provider").text)
    assert "More information needed" in provider
    for label in (
        "the HER2 immunohistochemistry (IHC) score (0, 1+, 2+ or 3+)",
        "the dual-probe ISH HER2/CEP17 ratio",
    ):
        assert label in provider
    assert "Position Statement > Initiation > 1.b.i" in provider
    # 14 days (policies/deployment.yaml) from the day the case was pended.
    by = date.fromisoformat(case["updated_at"][:10]) + timedelta(days=14)
    assert f"Send it by {by:%B} {by.day}, {by.year} (14 days from this notice)" in provider
    member = text_of(notice(client, tokens.provider, case["id"], "member").text)
    assert "We need more information from your doctor" in member


def test_no_denial_notice_until_a_reviewer_denies(client: TestClient, tokens: Tokens) -> None:
    case = submit(client, tokens, not_met_request())
    waiting = notice(client, tokens.reviewer, case["id"], "member")
    assert waiting.status_code == 409
    [error] = waiting.json()["errors"]
    assert error["field"] == "notice" and "awaits a clinician reviewer" in error["problem"]
    assert "never denies" in error["problem"]

    deny(client, tokens, case["id"])
    member = notice(client, tokens.provider, case["id"], "member")
    assert member.status_code == 200, member.text
    # Untrusted text is escaped, never markup.
    assert "<script>" not in member.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in member.text
    text = text_of(member.text)
    assert "Prior authorization denied" in text and "Why we said no" in text
    assert "Guideline section Position Statement > Initiation > 1.b" in text
    assert "Member has HER2-positive disease defined as ONE of the following:" in text
    # The plan's appeal instructions, from the deployment's configuration.
    assert "This is called an appeal" in text and "(180 days from this notice)" in text
    assert "expedited appeal" in text
    provider = text_of(notice(client, tokens.reviewer, case["id"], "provider").text)
    assert "Found: none of the alternatives holds" in provider
    assert "peer-to-peer" in provider


def test_the_same_case_gives_the_same_bytes(client: TestClient, tokens: Tokens) -> None:
    case = submit(client, tokens, not_met_request())
    deny(client, tokens, case["id"])
    for fmt in ("html", "pdf"):
        first = notice(client, tokens.reviewer, case["id"], "member", fmt)
        again = notice(client, tokens.reviewer, case["id"], "member", fmt)
        assert first.status_code == 200 and first.content == again.content, fmt


def test_a_pdfs_dates_are_the_determinations_own(
    client: TestClient, tokens: Tokens, tmp_path: Path
) -> None:
    _pdf_tools()
    case = submit(client, tokens, not_met_request())
    deny(client, tokens, case["id"])
    denied_at = client.get(
        f"/api/v1/cases/{case['id']}", headers=Tokens.auth(tokens.reviewer)
    ).json()["reviewer_decisions"][0]["at"]
    path = tmp_path / "denial.pdf"
    path.write_bytes(notice(client, tokens.reviewer, case["id"], "member", "pdf").content)
    info = subprocess.run(
        ["pdfinfo", "-isodates", str(path)], check=True, capture_output=True, text=True
    ).stdout
    dates = dict(
        line.split(":", 1)
        for line in info.splitlines()
        if line.startswith(("CreationDate", "ModDate"))
    )
    want = datetime.fromisoformat(denied_at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {k: v.strip() for k, v in dates.items()} == {"CreationDate": want, "ModDate": want}


def test_who_may_fetch_a_notice(client: TestClient, tokens: Tokens) -> None:
    case = submit(client, tokens, approved_request())
    url = f"/api/v1/cases/{case['id']}/notice?audience=member"
    assert client.get(url).status_code == 401
    other = client.get(url, headers=Tokens.auth(tokens.other_provider))
    assert other.status_code == 403
    assert other.json()["errors"][0]["problem"] == "this case belongs to another organization"
    for token in (tokens.provider, tokens.reviewer, tokens.admin):
        assert client.get(url, headers=Tokens.auth(token)).status_code == 200
    missing = client.get(
        "/api/v1/cases/case_nope/notice?audience=member", headers=Tokens.auth(tokens.reviewer)
    )
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"audience": "foo"}, "audience"),
        ({"audience": "member", "format": "docx"}, "format"),
        ({}, "audience"),
        ({"audience": "member", "format": "PDF "}, "format"),
    ],
)
def test_bad_parameters_name_themselves(
    client: TestClient, tokens: Tokens, query: dict[str, str], field: str
) -> None:
    case = submit(client, tokens, approved_request())
    response = client.get(
        f"/api/v1/cases/{case['id']}/notice", params=query, headers=Tokens.auth(tokens.reviewer)
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]


def _pdf_tools() -> None:
    if not all(shutil.which(tool) for tool in ("pdftotext", "pdftoppm", "pdfinfo")):
        unavailable("poppler-utils is not installed (scripts/setup --system installs it)")


def _read_pdf(pdf: bytes, name: str, tmp_path: Path) -> str:
    """The PDF's text (pdftotext), and its first page kept as a PNG artifact (pdftoppm)."""
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-singlefile", str(path), str(ARTIFACTS / name)],
        check=True,
        timeout=60,
    )
    assert (ARTIFACTS / f"{name}.png").stat().st_size > 5_000
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return re.sub(r"\s+", " ", done.stdout)


def test_a_denial_pdf_holds_the_reasons_and_clauses(
    client: TestClient, tokens: Tokens, tmp_path: Path, database_url: str
) -> None:
    _pdf_tools()
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    case = submit(client, tokens, not_met_request())
    deny(client, tokens, case["id"])
    for audience in ("member", "provider"):
        response = notice(client, tokens.reviewer, case["id"], audience, "pdf")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        text = _read_pdf(response.content, f"denial-{audience}-{backend}", tmp_path)
        for phrase in (
            "Prior authorization denied",
            "HER2-negative: IHC 1+ and ISH ratio 1.2 <script>",  # as text, escaped
            "Position Statement > Initiation > 1.b",
            "Member has HER2-positive disease defined as ONE of the following",
            "180 days from this notice",
        ):
            assert _squashed(phrase) in _squashed(text), (audience, phrase)
    approval = submit(client, tokens, approved_request())
    response = notice(client, tokens.provider, approval["id"], "member", "pdf")
    text = _squashed(_read_pdf(response.content, f"approval-member-{backend}", tmp_path))
    assert _squashed("November 9, 2026 through May 8, 2027") in text
    assert _squashed("2223 in all") in text


def _squashed(text: str) -> str:
    """Without whitespace: a PDF's text breaks lines where the layout did."""
    return re.sub(r"\s+", "", text)


def test_a_reviewers_request_for_information_is_sent_in_the_reviewers_words(
    client: TestClient, tokens: Tokens
) -> None:
    case = submit(client, tokens, not_met_request())
    asked = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={"action": "request_information", "reason": "Please send the ISH pathology report."},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert asked.status_code == 200, asked.text
    provider = text_of(notice(client, tokens.provider, case["id"], "provider").text)
    assert "More information needed" in provider
    assert "The reviewer asks for: Please send the ISH pathology report." in provider
    assert "(14 days from this notice)" in provider


def test_a_reviewers_approval_and_untrusted_text_escaped(
    client: TestClient, tokens: Tokens
) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    body = not_met_request(f"PA-{hostile}")
    body["member"]["id"] = f"M{hostile}"
    case = submit(client, tokens, body)
    approved = client.post(
        f"/api/v1/cases/{case['id']}/actions",
        json={"action": "approve", "reason": f"Peer review {hostile}", "decision_count": 1},
        headers=Tokens.auth(tokens.reviewer),
    )
    assert approved.status_code == 200, approved.text
    for audience in ("member", "provider"):
        html = notice(client, tokens.provider, case["id"], audience).text
        assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
        text = text_of(html)
        assert "Prior authorization approved" in text and "Decided by: Dr Rivera." in text
        assert "(6 months)" in text


def test_the_deployments_notice_settings_are_checked(tmp_path: Path) -> None:
    (tmp_path / "deployment.yaml").write_text(
        "notices:\n  information_due_days: 0\n  appeal: {deadline_days: 30, fax: '555'}\n"
    )
    with pytest.raises(ValueError) as raised:
        load_notice_settings(tmp_path)
    message = str(raised.value)
    assert "information_due_days" in message and "appeal.fax" in message
    (tmp_path / "deployment.yaml").write_text("default_payer: florida_blue\n")
    assert load_notice_settings(tmp_path).information_due_days == 14
