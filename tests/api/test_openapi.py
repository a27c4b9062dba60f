"""The published OpenAPI schema is golden-tested.

After an intended API change, regenerate the golden file and review the diff:

    MEDPOLICY_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/api/test_openapi.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

GOLDEN = Path(__file__).parent / "golden" / "openapi.json"


def _normalized(schema: dict[str, object]) -> str:
    schema = dict(schema)
    info = dict(schema["info"])  # type: ignore[arg-type]
    info["version"] = "(redacted)"  # the package version changes with every release
    schema["info"] = info
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_openapi_matches_the_golden_file(app: FastAPI) -> None:
    actual = _normalized(app.openapi())
    if os.environ.get("MEDPOLICY_REGENERATE_GOLDEN"):
        GOLDEN.write_text(actual, encoding="utf-8")
    assert GOLDEN.exists(), "run with MEDPOLICY_REGENERATE_GOLDEN=1 to create the golden file"
    assert actual == GOLDEN.read_text(encoding="utf-8"), (
        "the OpenAPI schema changed; if intended, regenerate: "
        "MEDPOLICY_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/api/test_openapi.py"
    )


def test_openapi_is_served_and_documents_the_request_and_errors(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    submit = schema["paths"]["/api/v1/cases"]["post"]
    body = submit["requestBody"]["content"]["application/json"]["schema"]
    assert body == {
        "oneOf": [
            {"$ref": "#/components/schemas/ClinicalRecord"},
            {"$ref": "#/components/schemas/PriorAuthorizationRequest"},
        ]
    }
    assert "ClinicalRecord" in schema["components"]["schemas"]
    assert "PriorAuthorizationRequest" in schema["components"]["schemas"]
    assert "Member" in schema["components"]["schemas"]
    assert submit["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ErrorBody"
    )
    assert client.get("/docs").status_code == 200
