"""The codes the FHIR adapters understand, as data.

Every table here names where its codes were read (``shared/reference/facts.md`` sections, the
published Da Vinci and mCODE examples). A coding that is in no table is *reported* by the adapter,
never guessed at: an unknown LOINC code on a HER2 observation, an RxNorm code outside the Kadcyla
set, a coverage type the plan does not map. Adding a code means adding a row here, with its source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

__all__ = [
    "BODY_WEIGHT",
    "BRAIN_METASTASES",
    "CERTIFICATION_TYPE",
    "DISEASE_STATUS",
    "DISEASE_STATUS_VALUES",
    "DOSE_UNITS",
    "DRUGS_BY_HCPCS",
    "ERBB2_HGNC",
    "GENETIC_VARIANT",
    "GENE_STUDIED",
    "HER2_IHC",
    "HER2_IHC_ANSWERS",
    "HER2_INTERPRETATION",
    "HER2_ISH_COPY_NUMBER",
    "HER2_ISH_QUALITATIVE",
    "HER2_ISH_RATIO",
    "HER2_SERUM",
    "LINE_OF_BUSINESS",
    "NDC_TO_HCPCS",
    "PRESENCE",
    "QUALITATIVE_RESULTS",
    "RXNORM_TO_DRUG",
    "SECONDARY_CANCER_PREFIXES",
    "SNOMED_INDICATIONS",
    "SOURCES",
    "X12_REPORT_TYPE",
    "Drug",
    "System",
    "hcpcs_system",
    "is_system",
    "known_system",
    "normalize_ndc",
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


# -- LOINC observation codes (facts.md §5.2) -----------------------------------------------------

HER2_IHC: Final = frozenset({"85319-2", "18474-7", "72383-3"})  # IHC (breast, tissue, immunoassay)
HER2_INTERPRETATION: Final = "48676-1"  # overall HER2 interpretation in tissue
HER2_ISH_RATIO: Final = "49683-6"  # ERBB2/CEP17 ratio by FISH
HER2_ISH_COPY_NUMBER: Final = "74860-8"  # ERBB2 copies per nucleus by FISH
HER2_ISH_QUALITATIVE: Final = frozenset({"85318-4", "31150-6", "96893-3"})  # amplified yes/no
HER2_SERUM: Final = frozenset({"32996-1", "42914-2", "51981-9"})  # serum HER2: not tissue status
BODY_WEIGHT: Final = "29463-7"
DISEASE_STATUS: Final = "97509-4"  # mCODE CancerDiseaseStatus (code fixed by the profile)
GENETIC_VARIANT: Final = "69548-6"  # mCODE GenomicVariant: "Genetic variant assessment"
GENE_STUDIED: Final = "48018-6"  # component: gene studied [ID], valued with an HGNC id
HGVS_COMPONENTS: Final = ("48005-3", "48004-6", "81290-9")  # protein, coding DNA, genomic HGVS
ERBB2_HGNC: Final = "HGNC:3430"

# IHC score answers. Only LA11842-4 "2+" is verified (facts.md §5.3); the LOINC answers for 0, 1+
# and 3+ are not, so they are not listed: such a coding is reported, and a plain "3+" in
# valueString or CodeableConcept.text is read as written.
HER2_IHC_ANSWERS: Mapping[tuple[str, str], str] = {(System.LOINC, "LA11842-4"): "2+"}

Qualitative = Literal["positive", "negative", "equivocal"]
# Qualitative results (facts.md §5.3): understood, but the guideline's HER2 definition needs the IHC
# score or ISH counts, so they are reported to the reviewer rather than turned into a score.
QUALITATIVE_RESULTS: Mapping[tuple[str, str], Qualitative] = {
    (System.LOINC, "LA6576-8"): "positive",
    (System.LOINC, "LA6577-6"): "negative",
    (System.LOINC, "LA11885-3"): "equivocal",
    (System.SNOMED, "10828004"): "positive",
    (System.SNOMED, "260385009"): "negative",
    (System.SNOMED, "42425007"): "equivocal",
}

# Variant present / absent (LOINC answer list used by mCODE GenomicVariant and genomics-reporting).
PRESENCE: Mapping[tuple[str, str], Literal["positive", "negative"]] = {
    (System.LOINC, "LA9633-4"): "positive",
    (System.LOINC, "LA9634-2"): "negative",
}

# mCODE ConditionStatusTrendVS (facts.md §5.1) -> the request's disease_status_on_treatment.
DISEASE_STATUS_VALUES: Mapping[str, Literal["progressed", "stable", "improved", "undetermined"]] = {
    "271299001": "progressed",  # Patient's condition worsened (finding)
    "359746009": "stable",
    "268910001": "improved",
    "709137006": "undetermined",
}

# -- conditions ------------------------------------------------------------------------------------

BRAIN_METASTASES: Final = frozenset({(System.ICD10CM, "C79.31"), (System.SNOMED, "94225005")})
# ICD-10-CM "secondary malignant neoplasm" of organs (C78, C79): distant, i.e. metastatic, disease.
# Not C77 (lymph nodes) and not the mCODE SecondaryCancerCondition profile as such: a regional
# lymph-node metastasis is not "metastatic breast cancer" in the guideline's sense.
SECONDARY_CANCER_PREFIXES: Final = ("C78", "C79")
# SNOMED disorders that state what the drug is requested for (as the order's reason). Only codes
# whose meaning was read in the published mCODE examples (their displays) are listed.
SNOMED_INDICATIONS: Mapping[str, str] = {
    "254837009": "breast_cancer",  # Malignant neoplasm of breast (disorder)
    "353431000119107": "breast_cancer",  # Primary malignant neoplasm of female left breast
    "408643008": "breast_cancer",  # Infiltrating duct carcinoma of breast (disorder)
    "94225005": "cns_brain_metastases",  # Secondary malignant neoplasm of brain
}

# -- drugs (facts.md §1.8-1.10) ------------------------------------------------------------------


class Drug:
    """A drug the adapters recognise: its name and, when it has one, its HCPCS Level II code."""

    __slots__ = ("hcpcs", "name")

    def __init__(self, name: str, hcpcs: str | None) -> None:
        self.name = name
        self.hcpcs = hcpcs


_KADCYLA = Drug("ado-trastuzumab emtansine", "J9354")
_TRASTUZUMAB = Drug("trastuzumab", "J9355")
_DERUXTECAN = Drug("fam-trastuzumab deruxtecan", "J9358")
_PERTUZUMAB = Drug("pertuzumab", None)

# 1371041 IN, 1371046 brand, 1658084 100 mg SCD and, by the openFDA rxcui list for the label, the
# other three (100 mg SBD, 160 mg SCD and SBD): the whole set is accepted, no role hard-coded.
RXNORM_TO_DRUG: Mapping[str, Drug] = {
    **{c: _KADCYLA for c in ("1371041", "1371046", "1658084", "1658087", "1658089", "1658091")},
    "224905": _TRASTUZUMAB,
    "2267582": _DERUXTECAN,
    "1298944": _PERTUZUMAB,
}
# Kadcyla NDCs, 10-digit 5-3-2 and 11-digit claim forms, compared without hyphens.
NDC_TO_HCPCS: Mapping[str, str] = {
    "5024208801": "J9354",
    "50242008801": "J9354",  # 100 mg vial
    "5024208701": "J9354",
    "50242008701": "J9354",  # 160 mg vial
}
DRUGS_BY_HCPCS: Mapping[str, Drug] = {
    d.hcpcs: d for d in (_KADCYLA, _TRASTUZUMAB, _DERUXTECAN) if d.hcpcs
}


def normalize_ndc(code: str) -> str:
    return code.replace("-", "").strip()


# -- units -------------------------------------------------------------------------------------

WEIGHT_UNITS: Mapping[str, Literal["kg", "lb"]] = {"kg": "kg", "[lb_av]": "lb"}
DOSE_UNITS: Mapping[str, Literal["mg", "mg/kg"]] = {"mg": "mg", "mg/kg": "mg/kg"}
PERIOD_DAYS: Mapping[str, int] = {"d": 1, "wk": 7}

# -- coverage ------------------------------------------------------------------------------------

LineOfBusiness = Literal[
    "commercial",
    "medicare_advantage",
    "medicare_part_d",
    "fep",
    "state_account_organization",
    "medicaid",
]
# Source of Payment Typology codes whose meaning is verified (US Core Coverage guidance: Part C is
# 111-113, Part D is 122; the SOPT list). Plain "1" (Medicare) or "121" (Original Medicare) do not
# say which of the plan's lines applies and are reported, as is 23 (Medicaid/SCHIP: whether CHIP is
# the plan's Medicaid line is not stated). FEP and State Account Organization have
# no SOPT code verified here: payers send them in medpolicy's line-of-business system.
_SOPT: Mapping[str, LineOfBusiness] = {
    **{c: "medicare_advantage" for c in ("11", "111", "112", "113", "119")},
    "122": "medicare_part_d",
    **{c: "medicaid" for c in ("2", "21", "211", "212", "213", "219", "22")},
    **{c: "commercial" for c in ("5", "51", "511", "512", "513", "514", "515", "519", "52", "521")},
}
LINE_OF_BUSINESS: Mapping[str, Mapping[str, LineOfBusiness]] = {
    System.SOPT: _SOPT,
    System.LINE_OF_BUSINESS: {
        v: v
        for v in (
            "commercial",
            "medicare_advantage",
            "medicare_part_d",
            "fep",
            "state_account_organization",
            "medicaid",
        )
    },
}

# X12 UM02 certification type: Initial starts therapy; Renewal and Extension continue it. Other
# codes (Revised, Appeal, Cancel, Reconsideration) do not say which phase is meant.
CERTIFICATION_TYPE: Mapping[str, Literal["initiation", "continuation"]] = {
    "I": "initiation",
    "R": "continuation",
    "4": "continuation",
}
