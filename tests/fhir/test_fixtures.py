"""Every clinical record and DTR request in the shared external fixtures goes through the adapters:
nothing crashes; what cannot be read is reported, never guessed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from medpolicy.adapters.fhir.resources import Located, ResourceIndex
from medpolicy.adapters.fhir.to_request import OrderContext, to_request
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from tests.fhir.conftest import Service
from tests.fhir.support import NOW, all_json, validate

CLINICAL = (
    "mcode-",
    "davinci-dtr-test-kit/pat015",
    "davinci-crd-test-kit/crd_transaction",
    "davinci-prior-auth-ri/bundle-dtr",
)


def records(folder: Path) -> list[tuple[str, ResourceIndex]]:
    """The patient records: Bundles, and one JSON array of resources (mcode-pathways/Maureen,
    legacy profiles, not R4) read as if bundled."""
    found = []
    for path, data in all_json(folder):
        name = str(path.relative_to(folder))
        if not name.startswith(CLINICAL):
            continue
        if isinstance(data, list):
            data = {"resourceType": "Bundle", "entry": [{"resource": r} for r in data]}
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            found.append((name, ResourceIndex.from_bundle(data)))
    return found


def kadcyla_order_for(index: ResourceIndex) -> OrderContext:
    patient = next(iter(index.of_type("Patient")), None)
    return OrderContext(
        request_id="fixture",
        request_id_source="(test)",
        submitted_at=NOW,
        submitted_at_source="(test)",
        hcpcs="J9354",
        hcpcs_source="(test)",
        request_type="initiation",
        patient=patient,
        coverage=next(iter(index.of_type("Coverage")), None),
    )


def test_every_clinical_record_is_read_or_its_problems_located(
    registry: PolicyRegistry, fixtures_dir: Path
) -> None:
    found = records(fixtures_dir)
    assert len(found) >= 12
    her2_seen = 0
    for name, index in found:
        adapted = to_request(index, kadcyla_order_for(index))
        for issue in adapted.issues:
            assert issue.expression.startswith("Bundle"), (name, issue)
        if adapted.request is None:
            assert all(p.expression for p in adapted.problems), name
            continue
        decision = evaluate_request(registry, adapted.request)
        assert decision.outcome.value in ("missing_information", "not_met"), name
        her2_seen += bool(adapted.request.her2) or any("HER2" in i.message for i in adapted.issues)
    assert her2_seen >= 4


def test_the_jenny_m_record(fixtures_dir: Path) -> None:
    """mCODE's extended breast-cancer example: HER2 "Negative" is an interpretation, not a score;
    the weight is in pounds; the disease status is improved; doxorubicin is history."""
    (index,) = [i for n, i in records(fixtures_dir) if n.endswith("fullBundle.json")]
    adapted = to_request(index, kadcyla_order_for(index))
    r = adapted.request
    assert r is not None and r.her2 is None
    assert r.body_weight is not None and (str(r.body_weight.value), r.body_weight.unit) == (
        "155",
        "lb",
    )
    assert r.disease_status_on_treatment == "improved"
    assert any("interpretation reported as negative" in i.message for i in adapted.issues)


def test_the_non_standard_her2_code_is_reported(fixtures_dir: Path) -> None:
    (index,) = [i for n, i in records(fixtures_dir) if "breastcancertrials" in n]
    adapted = to_request(index, kadcyla_order_for(index))
    codes = [i.coding or "" for i in adapted.issues if i.kind == "unrecognized-coding"]
    assert any(c.startswith("http://loinc.org|34566") for c in codes)


@pytest.mark.parametrize(
    "name",
    [
        "davinci-dtr-ig-2.0.1/Parameters-QuestionnairePackageInputParamsExample.json",
        "davinci-dtr-test-kit/questionnaire_package_input_params_conformant.json",
    ],
)
def test_dtr_package_requests_for_other_services_get_an_outcome(
    service: Service, fixtures_dir: Path, name: str
) -> None:
    body = (fixtures_dir / name).read_text(encoding="utf-8")
    answer = service.client.post(
        "/fhir/Questionnaire/$questionnaire-package",
        content=body,
        headers={**service.auth(service.provider), "Content-Type": "application/fhir+json"},
    )
    # DTR 2.0.1's output carries at least one PackageBundle: with none, an OperationOutcome.
    assert answer.status_code == 404, answer.text
    outcome: dict[str, Any] = answer.json()
    validate(outcome)
    assert outcome["resourceType"] == "OperationOutcome"
    assert {i["code"] for i in outcome["issue"]} == {"not-found"}


def test_the_non_conformant_dtr_request_is_refused(service: Service, fixtures_dir: Path) -> None:
    body = (
        fixtures_dir
        / "davinci-dtr-test-kit"
        / "questionnaire_package_input_params_non_conformant.json"
    ).read_text(encoding="utf-8")
    answer = service.client.post(
        "/fhir/Questionnaire/$questionnaire-package",
        content=body,
        headers={**service.auth(service.provider), "Content-Type": "application/fhir+json"},
    )
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["expression"] == ["Parameters"]


def test_located_paths_name_the_entry() -> None:
    assert Located({}, "Bundle.entry[3].resource").at("code", "coding", 0) == (
        "Bundle.entry[3].resource.code.coding[0]"
    )
