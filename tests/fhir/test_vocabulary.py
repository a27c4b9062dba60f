"""The FHIR side of the catalogue (``catalogue/fhir.yaml``) agrees with the catalogue it maps, and
the drug vocabulary recognises by code what the adapters' own tables used to."""

from __future__ import annotations

from pathlib import Path

import pytest

from medpolicy.adapters.fhir.codes import System
from medpolicy.adapters.fhir.vocabulary import drug_by_code, fhir_mapping, loinc_codes
from medpolicy.catalogue import shared_catalogue
from medpolicy.policy.registry import PolicyRegistry

CATALOGUE = shared_catalogue()
MAPPING = fhir_mapping()


def test_every_mapped_fact_is_a_catalogue_fact_and_every_answer_one_of_its_choices() -> None:
    for fact in MAPPING.facts:
        assert fact in CATALOGUE, fact
    for fact, table in MAPPING.reads.items():
        for choice in table.values():
            assert choice in CATALOGUE[fact].choices, (fact, choice)
    for fact, answers in MAPPING.answers.items():
        assert set(answers) == set(CATALOGUE[fact].choices), fact  # every choice coded, or none


def test_observation_codes_are_the_catalogues() -> None:
    assert MAPPING.codes("her2.ihc_score") == loinc_codes("her2.ihc_score")
    assert MAPPING.codes("her2_interpretation") == loinc_codes("her2.status")
    for name, entry in MAPPING.observations.items():
        assert MAPPING.codes(name), name
        assert "fact" in entry or "codes" in entry, name
    assert len(set(MAPPING.observation_codes)) == len(MAPPING.observation_codes)
    for question in MAPPING.questions.values():
        assert question.system == System.LOINC and question.display


def test_variables_read_the_catalogue_codes_and_every_prefill_names_a_variable() -> None:
    weight = MAPPING.variables["bodyWeight"]
    assert all(f"{System.LOINC}|{code}" in weight for code in loinc_codes("body_weight.kg"))
    for fact, expression in MAPPING.prefill.items():
        assert "{reads}" not in expression, fact
        assert any(f"%{name}." in expression for name in MAPPING.variables), fact


def test_coverage_types_and_conditions_state_known_values() -> None:
    lines = set(CATALOGUE["member.line_of_business"].choices)
    for system, table in MAPPING.line_of_business.items():
        assert set(table.values()) <= lines, system
    extents = set(CATALOGUE["disease_extent"].choices)
    for rule in MAPPING.conditions:
        assert rule.codes or rule.prefixes
        if rule.adds:
            assert rule.value in extents


def test_indications_are_a_policys() -> None:
    registry = PolicyRegistry.load_dir(Path(__file__).parents[2] / "policies")
    known = {i for p in registry.all() for i in p.indications}
    assert set(MAPPING.indications.values()) <= known


@pytest.mark.parametrize(
    ("system", "code", "name", "hcpcs"),
    [
        ("rxnorm", "1371041", "ado-trastuzumab emtansine", "J9354"),
        ("rxnorm", "1658091", "ado-trastuzumab emtansine", "J9354"),
        ("ndc", "50242-0087-01", "ado-trastuzumab emtansine", "J9354"),
        ("ndc", "5024208801", "ado-trastuzumab emtansine", "J9354"),
        ("hcpcs", "j9355", "trastuzumab", "J9355"),
        ("rxnorm", "224905", "trastuzumab", "J9355"),
        ("rxnorm", "2267582", "fam-trastuzumab deruxtecan", "J9358"),
        ("rxnorm", "1298944", "pertuzumab", None),
    ],
)
def test_drugs_by_code_come_from_the_vocabulary(
    system: str, code: str, name: str, hcpcs: str | None
) -> None:
    drug = drug_by_code(system, code)  # type: ignore[arg-type]
    assert drug is not None and (drug.name, drug.hcpcs) == (name, hcpcs)
    assert drug_by_code("rxnorm", "56946") is None  # paclitaxel: by name only


def test_a_choice_is_worded_for_its_own_fact() -> None:
    """A plan's "other" is another health plan; a prior therapy stopped for "other" reasons is
    not."""
    from medpolicy.adapters.fhir.answers import choice_coding

    assert choice_coding("prior_authorizations.record.plan", "other")["display"] == (
        "Another health plan"
    )
    assert choice_coding("prior_therapies.record.reason_stopped", "other")["display"] == "Other"
