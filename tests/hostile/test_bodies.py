"""Hostile bodies on every route that reads one: each refused with a 4xx that names the problem.

Deep nesting and over-long integers were 500s; duplicate keys, byte order marks, UTF-16, NaN and
any Content-Type were accepted (the last duplicate key winning); an empty Idempotency-Key opened
a case; a 413 on a FHIR route was not an OperationOutcome; an error body could be 25 MB.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.support import approved_request
from tests.hostile.conftest import Hostile

FHIR_JSON = "application/fhir+json"

# Every route that reads a JSON body: (path, the media type it is sent as, whose token).
JSON_ROUTES = [
    ("/api/v1/evaluate", "application/json", "provider"),
    ("/api/v1/cases", "application/json", "provider"),
    ("/api/v1/cases/case_x/resubmissions", "application/merge-patch+json", "provider"),
    ("/api/v1/cases/case_x/actions", "application/json", "reviewer"),
    ("/api/v1/cases/case_x/questionnaire-response", FHIR_JSON, "provider"),
    ("/fhir/Claim/$submit", FHIR_JSON, "provider"),
    ("/fhir/Claim/$inquire", FHIR_JSON, "provider"),
    ("/fhir/Questionnaire/$questionnaire-package", FHIR_JSON, "provider"),
    ("/cds-services/medpolicy-order-sign", "application/json", "provider"),
    ("/cds-services/medpolicy-order-select", "application/json", "provider"),
]
ROUTE_IDS = [path.rsplit("/", 1)[-1] for path, _, _ in JSON_ROUTES]


def fhir_route(path: str) -> bool:
    return path.startswith(("/fhir", "/cds-services")) or path.endswith("questionnaire-response")


def problems(response: Any) -> list[tuple[str, str]]:
    """(field, problem) of every error, whichever surface answered."""
    body = response.json()
    if body.get("resourceType") == "OperationOutcome":
        assert response.headers["content-type"].startswith(FHIR_JSON)
        # an issue about no element of a resource (the body, a header) names it in its diagnostics
        return [
            (i["expression"][0], i["diagnostics"])
            if "expression" in i
            else tuple(i["diagnostics"].split(": ", 1))
            for i in body["issue"]
        ]
    return [(e["field"], e["problem"]) for e in body["errors"]]


def send(hostile: Hostile, route: tuple[str, str, str], content: bytes, **headers: str) -> Any:
    path, media_type, role = route
    token = getattr(hostile.tokens, role)
    return hostile.post(
        path, token, content=content, headers={"Content-Type": media_type, **headers}
    )


@pytest.mark.parametrize("route", JSON_ROUTES, ids=ROUTE_IDS)
def test_deep_nesting_is_a_400_on_every_json_route(hostile: Hostile, route: Any) -> None:
    for body in ("[" * 10_000 + "]" * 10_000, '{"a":' * 500 + "1" + "}" * 500, "[" * 41 + "]" * 41):
        response = send(hostile, route, body.encode())
        assert response.status_code == 400, response.text
        assert problems(response)[0][1] == "malformed JSON: nested more than 40 deep"


@pytest.mark.parametrize("route", JSON_ROUTES, ids=ROUTE_IDS)
def test_unreadable_json_is_a_400_on_every_json_route(hostile: Hostile, route: Any) -> None:
    for body, says in (
        (b'{"a": ' + b"1" * 5000 + b"}", "an integer of more than 40 digits"),
        (b'{"a": -' + b"9" * 41 + b"}", "an integer of more than 40 digits"),
        (b'{"a": NaN}', "NaN is not a JSON value"),
        (b'{"a": -Infinity}', "-Infinity is not a JSON value"),
        (b'{"a": 1, "b": {"c": 2, "c": 3}}', 'duplicate key "c"'),
        (b"\xef\xbb\xbf{}", "byte order mark"),
        ('{"a": 1}'.encode("utf-16"), "byte order mark"),
        ('{"a": 1}'.encode("utf-16-le"), "UTF-16 or UTF-32 is refused"),
        ('{"a": 1}'.encode("utf-32-be"), "UTF-16 or UTF-32 is refused"),
        (b'{"a": "\xff"}', "not UTF-8 text"),
    ):
        response = send(hostile, route, body)
        assert response.status_code == 400, (body[:20], response.text)
        [(field, problem)] = problems(response)
        assert field == "(body)" and says in problem, (body[:20], problem)


def test_a_duplicate_key_is_never_resolved_by_taking_the_last(hostile: Hostile) -> None:
    """Two ``her2`` keys, the second HER2-positive: the approval must not rest on either."""
    body = approved_request()
    text = json.dumps(body)
    negative = '"her2": {"ihc": [{"score": "0", "date": "2026-09-18"}], "ish": []}, '
    doubled = text.replace('"her2": ', negative + '"her2": ', 1)
    for path in ("/api/v1/evaluate", "/api/v1/cases"):
        response = hostile.post(
            path,
            hostile.tokens.provider,
            content=doubled.encode(),
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 400
        assert problems(response) == [
            ("(body)", 'malformed JSON: duplicate key "her2": a key may appear once in an object')
        ]
    assert hostile.app.state.services.store.count() == 0


@pytest.mark.parametrize("route", JSON_ROUTES, ids=ROUTE_IDS)
def test_only_declared_media_types_are_read(hostile: Hostile, route: Any) -> None:
    path, media_type, _ = route
    readable = json.dumps({"resourceType": "Nothing"}).encode()
    for content_type in (
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/json-patch+json",
        "application/xml",
        "application/json; charset=utf-16",
        "application/json; charset=latin-1",
        *([] if fhir_route(path) else [FHIR_JSON]),
    ):
        headers = {} if content_type is None else {"Content-Type": content_type}
        response = hostile.post(
            path, getattr(hostile.tokens, route[2]), content=readable, headers=headers
        )
        assert response.status_code == 415, (content_type, response.text)
        [(field, problem)] = problems(response)
        assert field == "Content-Type", problem
    fine = send(hostile, route, readable, **{"Content-Type": f"{media_type}; charset=UTF-8"})
    assert fine.status_code != 415, fine.text


def test_fhir_routes_read_fhir_json_and_plain_json(hostile: Hostile) -> None:
    for content_type in (FHIR_JSON, "application/json"):
        response = hostile.post(
            "/fhir/Claim/$submit",
            hostile.tokens.provider,
            content=b"{}",
            headers={"Content-Type": content_type},
        )
        assert response.status_code in (400, 422), response.text
        assert response.json()["resourceType"] == "OperationOutcome"


def test_a_nul_character_in_a_body_is_refused_naming_the_field(hostile: Hostile) -> None:
    body = approved_request()
    body["request_id"] = "PA-\u0000-1"
    response = hostile.post("/api/v1/cases", hostile.tokens.provider, json=body)
    assert response.status_code == 400
    assert problems(response) == [("request_id", "a NUL character (\\u0000) is not allowed")]
    body = approved_request()
    body["member"]["id"] = "M1\u0000"
    response = hostile.post("/api/v1/evaluate", hostile.tokens.provider, json=body)
    assert response.status_code == 400 and problems(response)[0][0] == "member.id"
    keyed = hostile.post(
        "/api/v1/cases",
        hostile.tokens.provider,
        content=b'{"x\\u0000": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert keyed.status_code == 400 and problems(keyed)[0][0] == "x\u0000"
    assert hostile.app.state.services.store.count() == 0


def test_a_lone_surrogate_is_refused_naming_the_field(hostile: Hostile) -> None:
    """Not text: it cannot be stored or even written back in an error as UTF-8."""
    for body, field in (
        (b'{"request_id": "PA-\\ud800"}', "request_id"),
        (b'{"member": {"id": "M\\udfff"}}', "member.id"),
        (b'{"x\\ud800": 1}', "x\\ud800"),
    ):
        for path in ("/api/v1/cases", "/fhir/Claim/$submit"):
            response = hostile.post(
                path,
                hostile.tokens.provider,
                content=body,
                headers={"Content-Type": "application/json"},
            )
            assert response.status_code == 400, response.text
            assert problems(response)[0] == (
                field,
                "not valid Unicode text (a lone surrogate, e.g. \\ud800)",
            )
    ok = hostile.post(
        "/api/v1/evaluate",
        hostile.tokens.provider,
        content=json.dumps({**approved_request(), "request_id": "PA-\U0001f600"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert ok.status_code == 200, "a surrogate pair (an emoji, escaped) is text"


def test_an_empty_idempotency_key_is_a_400(hostile: Hostile) -> None:
    for key in ("", "   "):
        response = hostile.post(
            "/api/v1/cases",
            hostile.tokens.provider,
            json=approved_request(),
            headers={"Idempotency-Key": key},
        )
        assert response.status_code == 400
        assert problems(response)[0][0] == "Idempotency-Key"
    assert hostile.app.state.services.store.count() == 0


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/fhir/Claim/$submit", FHIR_JSON),
        ("/cds-services/medpolicy-order-sign", "application/json"),
    ],
)
def test_a_413_on_a_fhir_route_is_an_operation_outcome(
    hostile: Hostile, path: str, media_type: str
) -> None:
    big = b"[" + b"0," * 600_000 + b"0]"
    declared = hostile.post(
        path, hostile.tokens.provider, content=big, headers={"Content-Type": media_type}
    )

    def chunks() -> Any:  # no Content-Length: the limit is enforced while streaming
        for _ in range(12):
            yield b" " * 100_000

    streamed = hostile.post(
        path, hostile.tokens.provider, content=chunks(), headers={"Content-Type": media_type}
    )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.headers["content-type"].startswith(FHIR_JSON)
        [issue] = response.json()["issue"]
        assert issue["code"] == "too-costly" and "larger than" in issue["diagnostics"]


def test_error_bodies_are_bounded(hostile: Hostile) -> None:
    """150,000 bad items once gave a 25 MB error body."""
    body = approved_request()
    body["indications"] = ["z"] * 150_000
    body["diagnoses"] = ["NOPE"] * 40
    many = {f"unknown_{i}": 1 for i in range(5_000)}
    many["k" * 10_000] = 1
    for sent in (body, {**approved_request(), **many}):
        response = hostile.post("/api/v1/evaluate", hostile.tokens.provider, json=sent)
        assert response.status_code == 422
        assert len(response.content) < 40_000, len(response.content)
        listed = problems(response)
        assert len(listed) <= 50
        assert all(len(field) <= 200 and len(problem) <= 500 for field, problem in listed)
    assert listed[-1][0] == "(more)" and "more problems not listed" in listed[-1][1]
