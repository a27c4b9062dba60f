"""The examples in examples/fhir: up to date with their composer, and each answered as expected.json
says by a running ``medpolicy serve``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from medpolicy.store import Role, TokenStore, open_store
from tests.api.support import running_server
from tests.fhir.support import EXAMPLES, example, load


def test_the_examples_are_what_the_composer_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "compose.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def review_actions(bundle: dict[str, Any]) -> list[str]:
    out = []
    for item in bundle["entry"][0]["resource"]["item"]:
        parts = item["adjudication"][0]["extension"][0]["extension"]
        code = next(p for p in parts if p["url"].endswith("reviewActionCode"))
        out.append(code["valueCodeableConcept"]["coding"][0]["code"])
    return out


def submit_examples(client: httpx.Client, token: str, expected: dict[str, Any]) -> str:
    """Every PAS example submitted; returns the case id of the one a reviewer will deny."""
    case_id = ""
    for name, wanted in sorted(expected.items()):
        if not name.startswith("pas-") or "inquires" in wanted:
            continue
        answer = client.post(
            "/fhir/Claim/$submit", json=example(name), headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 200, (name, answer.text)
        assert answer.headers["content-type"] == "application/fhir+json"
        assert review_actions(answer.json()) == wanted.get("actions", [wanted.get("action")]), name
        if name == "pas-breast-her2-negative-review":
            case_id = answer.json()["entry"][0]["resource"]["item"][0]["extension"][0][
                "valueString"
            ]
    return case_id


def test_every_pas_example_gets_its_review_action_from_medpolicy_serve(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'cases.db'}"
    store = open_store(database)
    tokens = TokenStore(store)
    provider = tokens.create(Role.provider, name="Tampa", organization="tampa-oncology")[0]
    reviewer = tokens.create(Role.reviewer, name="Dr Rivera")[0]
    store.engine.dispose()
    expected = load(EXAMPLES / "expected.json")
    with (
        running_server(database, tmp_path / "server.log") as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        case_id = submit_examples(client, provider, expected)
        seen = client.get(
            f"/api/v1/cases/{case_id}", headers={"Authorization": f"Bearer {reviewer}"}
        ).json()["decision_count"]
        denied = client.post(
            f"/api/v1/cases/{case_id}/actions",
            headers={"Authorization": f"Bearer {reviewer}"},
            json={
                "action": "deny",
                "decision_count": seen,
                "reason": "HER2-negative (IHC 1+, ISH ratio 1.2, copy number 2.1)",
            },
        )
        assert denied.status_code == 200, denied.text
        inquiry = client.post(
            "/fhir/Claim/$inquire",
            headers={"Authorization": f"Bearer {provider}"},
            json=example("pas-inquiry-breast-her2-negative-inquiry"),
        )
        assert inquiry.status_code == 200, inquiry.text
        assert review_actions(inquiry.json()) == [
            expected["pas-inquiry-breast-her2-negative-inquiry"]["action"]
        ]
