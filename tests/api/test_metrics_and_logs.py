"""Prometheus metrics reflect decisions and the queue; logs carry no member data."""

from __future__ import annotations

import logging

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import Tokens
from tests.api.support import (
    SENSITIVE,
    approved_request,
    missing_information_request,
    not_met_request,
)


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_count_decisions_and_measure_the_queue(client: TestClient, tokens: Tokens) -> None:
    before = scrape(client)
    assert before[("medpolicy_queue_size", ())] == 0
    assert before[("medpolicy_queue_oldest_age_seconds", ())] == 0
    for body in (
        approved_request(),
        not_met_request(),
        not_met_request(),
        missing_information_request(),
    ):
        assert (
            client.post(
                "/api/v1/cases", json=body, headers=Tokens.auth(tokens.provider)
            ).status_code
            == 201
        )
    after = scrape(client)
    sub = (("kind", "submission"),)
    assert after[("medpolicy_decisions_total", (*sub, ("outcome", "approved")))] == 1
    assert after[("medpolicy_decisions_total", (*sub, ("outcome", "not_met")))] == 2
    assert after[("medpolicy_decisions_total", (*sub, ("outcome", "missing_information")))] == 1
    assert after[("medpolicy_decision_latency_seconds_count", sub)] == 4
    assert after[("medpolicy_queue_size", ())] == 3
    assert after[("medpolicy_queue_oldest_age_seconds", ())] >= 0


def test_logs_never_carry_member_identifiers_or_clinical_values(
    client: TestClient, tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = client.post(
        "/api/v1/cases", json=not_met_request(), headers=Tokens.auth(tokens.provider)
    ).json()
    client.post(
        f"/api/v1/cases/{created['id']}/actions",
        json={"action": "deny", "decision_count": 1, "reason": "HER2 negative"},
        headers=Tokens.auth(tokens.reviewer),
    )
    bad = approved_request()
    bad["body_weight"]["value"] = "heavy"
    client.post("/api/v1/cases", json=bad, headers=Tokens.auth(tokens.provider))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert created["id"] in text, "the service does log what happened"
    for value in SENSITIVE:
        assert value not in text
