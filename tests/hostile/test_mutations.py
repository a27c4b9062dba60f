"""Generated hostile inputs (seeded, so every run sends the same ones): each valid example is
mutated field by field (wrong types, boundary and absurd values, removed and unknown fields,
injected markup and SQL, odd Unicode) and byte by byte (truncated, corrupted), and sent to every
route that takes a body. No answer may be a 5xx, every refusal names what is wrong, and the
audit trail verifies afterwards."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

from tests.api.support import approved_request, missing_information_request, not_met_request
from tests.fhir.support import example
from tests.hostile.conftest import Hostile

SEED = 20261206
FHIR_JSON = "application/fhir+json"

HOSTILE_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 2**31, 2**63, -(2**63), 10**39, 0.1, -0.0, 1e308, 1e-308,
    "", " ", "\t", "a" * 5000, "x", "0", "-1", "true", "null", "NaN", "Infinity", "1e999",
    "3.6e1000", "\u22123.6", "\u0663", "\uff13.\uff16", "2026-02-30", "2026-13-01",
    "9999-12-31", "0001-01-01", "10000-01-01", "2026-11-02T25:00:00Z", "+002026-11-02",
    "<script>alert(1)</script>", "'; DROP TABLE cases; --", "../../etc/passwd", "%00",
    "\u202e", "\ufeff", "\U0001f600", "C50.912" * 30, [], [None], [[[]]], {}, {"x": 1},
    [1] * 60, ["breast_cancer"] * 21, {"value": "3.6", "unit": "mg/kg"}, "J9354", "mg/kg",
    "\ud800", "a\udfffb", "a\u0000b", "9999-07-01", "9999-07-01T00:00:00Z", 10**50,
    json.loads("[" * 45 + "]" * 45), {"a": {"b": {"c": {"d": {}}}}},
]  # fmt: skip


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from _paths(child, (*path, i))


def _mutate(rng: random.Random, document: Any) -> Any:
    doc = copy.deepcopy(document)
    paths = [p for p in _paths(doc) if p]
    if not paths:
        return rng.choice(HOSTILE_VALUES)
    path = rng.choice(paths)
    *parents, last = path
    node = doc
    for part in parents:
        node = node[part]
    kind = rng.randrange(5)
    if kind == 0 and isinstance(node, dict):
        del node[last]
    elif kind == 1 and isinstance(node, dict):
        node[f"unknown_{rng.randrange(99)}"] = rng.choice(HOSTILE_VALUES)
    elif kind == 2:
        node[last] = [node[last]] * rng.choice((1, 2, 30))
    else:
        node[last] = copy.deepcopy(rng.choice(HOSTILE_VALUES))
    return doc


def _corrupt(rng: random.Random, body: bytes) -> bytes:
    where = rng.randrange(len(body))
    kind = rng.randrange(4)
    if kind == 0:
        return body[:where]
    if kind == 1:
        return body[:where] + bytes([rng.randrange(256)]) + body[where + 1 :]
    if kind == 2:
        return body[:where] + rng.choice([b'"', b"{", b"]", b"\\", b"\x00", b"\xff"]) + body[where:]
    return body[:where] + body[where:].replace(b'"', b"'", 1)


def _bodies(rng: random.Random, documents: list[Any], count: int) -> Iterator[bytes]:
    for i in range(count):
        doc = rng.choice(documents)
        for _ in range(rng.choice((1, 1, 2, 3))):
            doc = _mutate(rng, doc)
        body = json.dumps(doc).encode()
        yield _corrupt(rng, body) if i % 5 == 4 else body


def _assert_refusal_names_the_problem(response: Any) -> None:
    if not 400 <= response.status_code < 500:
        return
    body = response.json()
    if body.get("resourceType") == "OperationOutcome":
        assert body["issue"] and all(i["diagnostics"] for i in body["issue"]), body
    else:
        assert body["errors"] and all(e["field"] and e["problem"] for e in body["errors"]), body


def _send(hostile: Hostile, path: str, token: str, body: bytes, media_type: str) -> Any:
    response = hostile.post(path, token, content=body, headers={"Content-Type": media_type})
    _assert_refusal_names_the_problem(response)
    return response


def test_mutated_requests_on_the_rest_routes(hostile: Hostile) -> None:
    rng = random.Random(SEED)
    provider, reviewer = hostile.tokens.provider, hostile.tokens.reviewer
    requests = [
        approved_request("PA-M-1"),
        not_met_request("PA-M-2"),
        missing_information_request(),
    ]
    statuses: dict[int, int] = {}
    for path, count in (("/api/v1/evaluate", 800), ("/api/v1/cases", 500)):
        for body in _bodies(rng, requests, count):
            response = _send(hostile, path, provider, body, "application/json")
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
    open_case = hostile.post(
        "/api/v1/cases", provider, json=missing_information_request("PA-M-OPEN")
    ).json()
    patches = [{"her2": approved_request()["her2"]}, {"body_weight": {"value": "70", "unit": "kg"}}]
    for body in _bodies(rng, patches, 250):
        _send(
            hostile,
            f"/api/v1/cases/{open_case['id']}/resubmissions",
            provider,
            body,
            "application/merge-patch+json",
        )
    review = hostile.post("/api/v1/cases", provider, json=not_met_request("PA-M-REV")).json()
    actions = [
        {"action": "request_information", "reason": "Send the ISH report."},
        {"action": "deny", "reason": "HER2-negative", "decision_count": 1, "clauses": ["X"]},
    ]
    for body in _bodies(rng, actions, 250):
        _send(hostile, f"/api/v1/cases/{review['id']}/actions", reviewer, body, "application/json")
    assert statuses.get(200, 0) + statuses.get(201, 0) > 0, "some mutations are still valid"
    assert hostile.app.state.services.store.verify_audit().ok


def test_mutated_bundles_and_hooks_on_the_fhir_routes(hostile: Hostile) -> None:
    rng = random.Random(SEED + 1)
    provider = hostile.tokens.provider
    bundles = [
        example("pas-breast-metastatic-ihc3-approved"),
        example("pas-breast-missing-her2-pended"),
        example("pas-breast-her2-negative-review"),
    ]
    for body in _bodies(rng, bundles, 200):
        _send(hostile, "/fhir/Claim/$submit", provider, body, FHIR_JSON)
    for body in _bodies(rng, [example("pas-inquiry-breast-her2-negative-inquiry")], 50):
        _send(hostile, "/fhir/Claim/$inquire", provider, body, FHIR_JSON)
    hooks = [
        example("crd-order-sign-breast-satisfied"),
        example("crd-order-select-breast-conditional"),
    ]
    for body in _bodies(rng, hooks, 100):
        service = "medpolicy-order-sign" if b"order-sign" in body else "medpolicy-order-select"
        _send(hostile, f"/cds-services/{service}", provider, body, "application/json")
    for body in _bodies(rng, [example("dtr-questionnaire-package-input")], 50):
        _send(hostile, "/fhir/Questionnaire/$questionnaire-package", provider, body, FHIR_JSON)
    assert hostile.app.state.services.store.verify_audit().ok
