"""Everything the service emits over its FHIR and CDS Hooks routes, collected once per session by
driving the running app: every PAS example submitted and inquired (certified, pended, denied by a
reviewer), every CRD example, the DTR package and Questionnaire, the CapabilityStatement, and the
OperationOutcome of each kind of refusal."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import Role, TokenStore
from tests.fhir.support import EXAMPLES, example, load

EXPECTED = load(EXAMPLES / "expected.json")


@dataclass(frozen=True)
class Emitted:
    name: str  # what was asked, for messages
    route: str
    status: int
    body: Any

    @property
    def resources(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The FHIR resources in the answer: the body, or (CDS Hooks) each system action's."""
        if isinstance(self.body, dict) and "resourceType" in self.body:
            yield self.name, self.body
        elif isinstance(self.body, dict):
            for i, action in enumerate(self.body.get("systemActions") or []):
                yield f"{self.name} systemActions[{i}]", action["resource"]

    @property
    def bundles(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every Bundle in the answer: the body, or the ones a Parameters carries."""
        body = self.body if isinstance(self.body, dict) else {}
        if body.get("resourceType") == "Bundle":
            yield self.name, body
        for p in body.get("parameter") or [] if body.get("resourceType") == "Parameters" else []:
            if isinstance(p.get("resource"), dict) and p["resource"]["resourceType"] == "Bundle":
                yield f"{self.name} {p['name']}", p["resource"]


class Driver:
    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens
        self.out: list[Emitted] = []

    def call(
        self,
        name: str,
        method: str,
        path: str,
        body: Any = None,
        who: str | None = "provider",
        raw: bytes | None = None,
    ) -> Emitted:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        if raw is not None:
            answer = self.client.request(method, path, content=raw, headers=headers)
        else:
            answer = self.client.request(method, path, json=body, headers=headers)
        emitted = Emitted(name, f"{method} {path}", answer.status_code, answer.json())
        self.out.append(emitted)
        return emitted


def _case_id(bundle: dict[str, Any]) -> str:
    for ext in bundle["entry"][0]["resource"]["item"][0].get("extension", []):
        if ext["url"].endswith("administrationReferenceNumber"):
            return str(ext["valueString"])
    raise AssertionError("no case id in the response")


def _pas(d: Driver) -> None:
    pas = sorted(n for n in EXPECTED if n.startswith("pas-") and "inquires" not in EXPECTED[n])
    for name in pas:
        d.call(name, "POST", "/fhir/Claim/$submit", example(name))
    denied = d.call("submit again", "POST", "/fhir/Claim/$submit", example(pas[0]))
    review = example("pas-breast-her2-negative-review")
    submitted = d.call("her2-negative", "POST", "/fhir/Claim/$submit", review)
    d.client.post(
        f"/api/v1/cases/{_case_id(submitted.body)}/actions",
        headers={"Authorization": f"Bearer {d.tokens['reviewer']}"},
        json={"action": "deny", "reason": "HER2-negative by IHC 1+ and ISH ratio 1.2"},
    )
    inquiry = example("pas-inquiry-breast-her2-negative-inquiry")
    d.call("inquire after a denial", "POST", "/fhir/Claim/$inquire", inquiry)
    pended = example("pas-breast-missing-her2-pended")
    d.call("inquire a pended case", "POST", "/fhir/Claim/$inquire", pended)
    del denied


def _refusals(d: Driver) -> None:
    approved = example("pas-breast-metastatic-ihc3-approved")
    d.call("no token", "POST", "/fhir/Claim/$submit", approved, who=None)
    d.call("reviewer token on $submit", "POST", "/fhir/Claim/$submit", approved, who="reviewer")
    d.call("not JSON", "POST", "/fhir/Claim/$submit", raw=b"{nope")
    d.call("not a Bundle", "POST", "/fhir/Claim/$submit", {"resourceType": "Patient"})
    broken = copy.deepcopy(approved)
    broken["entry"][0]["resource"]["created"] = "yesterday"
    d.call("invalid Bundle", "POST", "/fhir/Claim/$submit", broken)
    bogus = copy.deepcopy(approved)
    bogus["entry"][0]["resource"]["status"] = "bogus"
    d.call("a code outside a required binding", "POST", "/fhir/Claim/$submit", bogus)
    bad_icd = copy.deepcopy(approved)
    bad_icd["entry"][0]["resource"]["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0][
        "code"
    ] = "C50.999"
    d.call("an ICD-10-CM code that does not exist", "POST", "/fhir/Claim/$submit", bad_icd)
    unknown = copy.deepcopy(approved)
    unknown["entry"][0]["resource"]["identifier"][0]["value"] = "PA-NEVER-SENT"
    d.call("inquire for nothing on file", "POST", "/fhir/Claim/$inquire", unknown)
    d.call("unknown Questionnaire", "GET", "/fhir/Questionnaire/nope")
    d.call("unknown CDS service", "POST", "/cds-services/nope", {})
    wrong = example("crd-order-sign-breast-satisfied")
    d.call("hook sent to the wrong service", "POST", "/cds-services/medpolicy-order-select", wrong)
    d.call(
        "questionnaire-response to no case",
        "POST",
        "/api/v1/cases/case_x/questionnaire-response",
        {},
    )


def _dtr_and_crd(d: Driver) -> None:
    d.call("metadata", "GET", "/fhir/metadata")
    d.call("discovery", "GET", "/cds-services")
    d.call(
        "questionnaire package",
        "POST",
        "/fhir/Questionnaire/$questionnaire-package",
        example("dtr-questionnaire-package-input"),
    )
    other = copy.deepcopy(example("dtr-questionnaire-package-input"))
    other["parameter"][1]["resource"]["medicationCodeableConcept"]["coding"][0]["code"] = "617993"
    d.call("package for another drug", "POST", "/fhir/Questionnaire/$questionnaire-package", other)
    d.call("questionnaire read", "GET", "/fhir/Questionnaire/medpolicy-09-J1000-90")
    for name in sorted(n for n in EXPECTED if n.startswith("crd-")):
        body = example(name)
        d.call(name, "POST", f"/cds-services/medpolicy-{body['hook']}", body)


def emit_everything(registry: PolicyRegistry, database: Path) -> list[Emitted]:
    app = create_app(Settings(database_url=f"sqlite:///{database}"), registry=registry)
    tokens = TokenStore(app.state.services.store)
    with TestClient(app, base_url="http://testserver") as client:
        driver = Driver(
            client,
            {
                "provider": tokens.create(
                    Role.provider, name="Tampa", organization="tampa-oncology"
                )[0],
                "reviewer": tokens.create(Role.reviewer, name="Dr Rivera")[0],
            },
        )
        _pas(driver)
        _refusals(driver)
        _dtr_and_crd(driver)
    return driver.out
