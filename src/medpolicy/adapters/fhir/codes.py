"""The protocol vocabularies the FHIR adapters read and write: code system URIs, the X12 and
HL7 code lists of Da Vinci PAS and CRD, UCUM units.

Every table here names where its codes were read (HL7 Terminology, the IG that defines them).
Clinical codes (LOINC, SNOMED, ICD-10-CM), drugs and coverage types are not here: they are
catalogue data (``catalogue/oncology.yaml``, ``catalogue/fhir.yaml``, ``catalogue/drugs.yaml``),
read through ``vocabulary``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

__all__ = [
    "CERTIFICATION_TYPE",
    "PERIOD_DAYS",
    "SOURCES",
    "X12_REPORT_TYPE",
    "System",
    "hcpcs_system",
    "is_system",
    "known_system",
]

# -- code systems ------------------------------------------------------------------------------


class System:
    """Canonical URIs of the code systems read and written: the one table, each checked against
    HL7 Terminology (THO) where THO names the system (``SOURCES`` says where each comes from).
    Inputs are matched through ``is_system``, which also accepts spellings seen in published
    examples (http/https, OIDs); what the service writes is always the canonical URI."""

    LOINC: Final = "http://loinc.org"
    SNOMED: Final = "http://snomed.info/sct"
    RXNORM: Final = "http://www.nlm.nih.gov/research/umls/rxnorm"
    ICD10CM: Final = "http://hl7.org/fhir/sid/icd-10-cm"
    NDC: Final = "http://hl7.org/fhir/sid/ndc"
    UCUM: Final = "http://unitsofmeasure.org"
    HCPCS: Final = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
    PLACE_OF_SERVICE: Final = (
        "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set"
    )
    SOPT: Final = (
        "https://nahdo.org/sopt"  # PHDSC Source of Payment Typology (US Core Coverage.type)
    )
    HGNC: Final = "http://www.genenames.org"
    X12_REVIEW_ACTION: Final = "https://codesystem.x12.org/005010/306"
    X12_CERTIFICATION_TYPE: Final = "https://codesystem.x12.org/005010/1322"
    X12_REPORT_TYPE: Final = "https://codesystem.x12.org/005010/755"
    X12_SERVICE_TYPE: Final = "https://codesystem.x12.org/005010/1365"
    X12_REQUEST_CATEGORY: Final = "https://codesystem.x12.org/005010/1525"
    CLAIM_TYPE: Final = "http://terminology.hl7.org/CodeSystem/claim-type"
    CLAIM_INFO_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"
    ADJUDICATION: Final = "http://terminology.hl7.org/CodeSystem/adjudication"
    PROCESS_PRIORITY: Final = "http://terminology.hl7.org/CodeSystem/processpriority"
    CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
    CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
    OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
    SDC_LAUNCH_CONTEXT: Final = "http://hl7.org/fhir/uv/sdc/CodeSystem/launchContext"
    CDS_CARD_TYPE: Final = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
    # medpolicy's own systems: the plan's lines of business and each fact's answer choices.
    MEDPOLICY: Final = "https://medpolicy.dev/fhir"
    LINE_OF_BUSINESS: Final = "https://medpolicy.dev/fhir/CodeSystem/line-of-business"


# Where each system URI is defined. THO: the HL7 Terminology CodeSystem (by id) whose url it is;
# an IG: the guide that defines it (X12's code lists have no THO entry: PAS names them); medpolicy:
# this service's own codes (choices and indications under ``System.MEDPOLICY``).
SOURCES: Mapping[str, str] = {
    System.LOINC: "THO CodeSystem v3-loinc",
    System.SNOMED: "THO CodeSystem v3-snomed-CT",
    System.RXNORM: "THO CodeSystem v3-rxNorm",
    System.ICD10CM: "THO CodeSystem icd10CM",
    System.NDC: "THO CodeSystem v3-ndc",
    System.UCUM: "THO CodeSystem v3-ucum",
    System.HCPCS: "THO CodeSystem HCPCS-all-codes",
    System.PLACE_OF_SERVICE: "THO CodeSystem CMSPlaceofServiceCodes",
    System.SOPT: "THO CodeSystem sopt",
    System.HGNC: "THO CodeSystem v3-hgnc",
    System.X12_REVIEW_ACTION: "Da Vinci PAS 2.0.1 (X12 element 306, HCR01)",
    System.X12_CERTIFICATION_TYPE: "Da Vinci PAS 2.0.1 (X12 element 1322, UM02)",
    System.X12_REPORT_TYPE: "Da Vinci PAS 2.0.1 (X12 element 755, PWK01)",
    System.X12_SERVICE_TYPE: "Da Vinci PAS 2.0.1 (X12 element 1365, UM03)",
    System.X12_REQUEST_CATEGORY: "Da Vinci PAS 2.0.1 (X12 element 1525, UM01)",
    System.CLAIM_TYPE: "THO CodeSystem claim-type",
    System.CLAIM_INFO_CATEGORY: "THO CodeSystem claiminformationcategory",
    System.ADJUDICATION: "THO CodeSystem adjudication",
    System.PROCESS_PRIORITY: "THO CodeSystem processpriority",
    System.CONDITION_CLINICAL: "THO CodeSystem condition-clinical",
    System.CONDITION_CATEGORY: "THO CodeSystem condition-category",
    System.OBSERVATION_CATEGORY: "THO CodeSystem observation-category",
    System.SDC_LAUNCH_CONTEXT: "SDC 3.0.0 CodeSystem launchContext",
    System.CDS_CARD_TYPE: "Da Vinci CRD 2.0.1 CodeSystem temp",
}

# The X12 PWK01 report type a PAS CommunicationRequest asks for (its required category): the
# prescribing physician's documentation of the facts named in its payloads. "PY" is the code the
# published PAS examples use for it.
X12_REPORT_TYPE: Mapping[str, str] = {
    "system": System.X12_REPORT_TYPE,
    "code": "PY",
    "display": "Physician's Report",
}


def known_system(uri: str) -> bool:
    """A system this service may write: in the table, or one of medpolicy's own."""
    return uri in SOURCES or uri.startswith(f"{System.MEDPOLICY}/")


_ALIASES: Mapping[str, frozenset[str]] = {
    System.HCPCS: frozenset(
        {
            System.HCPCS,
            "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets",
            "https://bluebutton.cms.gov/resources/codesystem/hcpcs",
            "urn:oid:2.16.840.1.113883.6.285",
        }
    ),
    System.HGNC: frozenset(
        {
            System.HGNC,
            "http://www.genenames.org/geneId",
            "https://www.genenames.org/geneId",
            "https://www.genenames.org",
            "http://www.genenames.org/",
        }
    ),
    System.X12_CERTIFICATION_TYPE: frozenset(
        {
            System.X12_CERTIFICATION_TYPE,
            "http://codesystem.x12.org/005010/1322",
        }
    ),
    System.X12_REVIEW_ACTION: frozenset(
        {
            System.X12_REVIEW_ACTION,
            "http://codesystem.x12.org/005010/306",
        }
    ),
    System.RXNORM: frozenset({System.RXNORM, "urn:oid:2.16.840.1.113883.6.88"}),
    System.LOINC: frozenset({System.LOINC, "http://loinc.org/", "urn:oid:2.16.840.1.113883.6.1"}),
    System.SNOMED: frozenset({System.SNOMED, "urn:oid:2.16.840.1.113883.6.96"}),
    System.ICD10CM: frozenset({System.ICD10CM, "urn:oid:2.16.840.1.113883.6.90"}),
    System.NDC: frozenset({System.NDC, "urn:oid:2.16.840.1.113883.6.69"}),
    System.SOPT: frozenset(
        {System.SOPT, "http://nahdo.org/sopt", "urn:oid:2.16.840.1.113883.3.221.5"}
    ),
}


def is_system(given: str | None, canonical: str) -> bool:
    return given is not None and given in _ALIASES.get(canonical, frozenset({canonical}))


def hcpcs_system(given: str | None) -> bool:
    return is_system(given, System.HCPCS)


# -- units -------------------------------------------------------------------------------------

PERIOD_DAYS: Mapping[str, int] = {"d": 1, "wk": 7}

# -- X12 certification type ---------------------------------------------------------------------

# X12 UM02 certification type: Initial starts therapy; Renewal and Extension continue it. Other
# codes (Revised, Appeal, Cancel, Reconsideration) do not say which phase is meant.
CERTIFICATION_TYPE: Mapping[str, Literal["initiation", "continuation"]] = {
    "I": "initiation",
    "R": "continuation",
    "4": "continuation",
}
