"""The native prior-authorization request: clinical facts as a provider's system reports them.

Every adapter (REST JSON, FHIR, claim lines) produces this model; the engine never reads anything
else. Absent means *not reported* (the engine treats it as unknown); an empty list means *reported
as none*. Units are always explicit.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)

from medpolicy.definitions.icd10 import normalize

__all__ = [
    "BodyWeight",
    "BrainMetastases",
    "Compendium",
    "DiseaseExtent",
    "DiseaseStatus",
    "Dose",
    "DrugRef",
    "Erbb2Mutation",
    "Erbb2Status",
    "Her2Ihc",
    "Her2Ish",
    "Her2Results",
    "IhcScore",
    "LineOfBusiness",
    "Medication",
    "Member",
    "NccnCategory",
    "Prescriber",
    "PriorAuthorization",
    "PriorTherapy",
    "Request",
    "RequestType",
]

Date = date  # fields named "date" would shadow the type inside their class
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Icd10Code = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=10),
    AfterValidator(normalize),  # shape only; the code set is checked by adapters.native
]
PositiveDecimal = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=4)]
Hcpcs = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z][0-9]{4}$")
]
RxNorm = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,10}$")]
# 10 digits in 4-4-2, 5-3-2 or 5-4-1 groups, or the 11-digit 5-4-2 form of claims
Ndc = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        pattern=r"^(?:[0-9]{4}-[0-9]{4}-[0-9]{2}|[0-9]{5}-[0-9]{3,4}-[0-9]{1,2}|[0-9]{10,11})$",
    ),
]
_CONDITION_CODE = (
    "The ICD-10-CM code of the condition the tested specimen comes from (the tumour this finding "
    "is about); a finding about another condition than the one requested is not used."
)

# The request's vocabularies, named once: the fact catalogue and the adapters reuse them.
RequestType = Literal["initiation", "continuation"]
DiseaseExtent = Literal[
    "locally_advanced", "inflammatory", "early_stage", "advanced", "metastatic", "recurrent"
]
IhcScore = Literal["0", "1+", "2+", "3+"]
Erbb2Status = Literal["positive", "negative"]
NccnCategory = Literal["1", "2A", "2B", "3", "none"]
DiseaseStatus = Literal["progressed", "stable", "improved", "undetermined"]


class _Model(BaseModel):
    # Unknown fields are an error: a misspelt fact silently dropped would read as "not reported".
    # Numbers and booleans are strict (``interval_days: true`` is not 1, ``"yes"`` is not true);
    # every list has a length limit.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class LineOfBusiness(StrEnum):
    commercial = "commercial"
    medicare_advantage = "medicare_advantage"
    medicare_part_d = "medicare_part_d"
    fep = "fep"
    state_account_organization = "state_account_organization"
    medicaid = "medicaid"


class Member(_Model):
    id: NonEmpty
    birth_date: date | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = Field(
        default=None, description="Administrative sex, as the member's record states it."
    )
    payer: NonEmpty | None = Field(
        default=None,
        description="The payer's id, as the policies name it; omitted: the deployment's payer.",
    )
    plan: NonEmpty | None = Field(default=None, description="The member's plan or program.")
    line_of_business: LineOfBusiness | None = None
    organization: NonEmpty | None = Field(
        default=None, description="The requesting provider organization (for access control)."
    )


class Prescriber(_Model):
    """Who ordered the drug: shown to the reviewer; no criterion reads it."""

    name: NonEmpty
    npi: Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")] | None = Field(
        default=None, description="The prescriber's National Provider Identifier (10 digits)."
    )


class Dose(_Model):
    value: PositiveDecimal
    unit: Literal["mg", "mg/kg"]


class DrugRef(_Model):
    """A drug by its codes and name: matched by code, or by the name as a whole, against the
    policy's drug vocabulary (never by a part of the name)."""

    drug: NonEmpty | None = Field(default=None, description="The drug's name, as reported.")
    hcpcs: Hcpcs | None = None
    rxnorm: RxNorm | None = None
    ndc: Ndc | None = None

    @model_validator(mode="after")
    def _named_or_coded(self) -> DrugRef:
        if self.drug is None and self.hcpcs is None and self.rxnorm is None and self.ndc is None:
            raise ValueError("a drug needs its name or a code (hcpcs, rxnorm or ndc)")
        return self


class Medication(_Model):
    hcpcs: Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9]{4}$")] = Field(
        description="HCPCS Level II code of the requested drug, e.g. J9354."
    )
    drug: NonEmpty | None = None
    rxnorm: RxNorm | None = Field(default=None, description="RxNorm code of the ordered drug.")
    ndc: Ndc | None = Field(default=None, description="NDC of the ordered product.")
    dose: Dose | None = None
    interval_days: Annotated[int, Field(gt=0, le=365, strict=True)] | None = Field(
        default=None, description="Days between doses (21 for every three weeks)."
    )
    start_date: date | None = None
    line_of_therapy: Annotated[int, Field(ge=1, le=20, strict=True)] | None = Field(
        default=None, description="1 = first line; 2 or more = subsequent therapy."
    )
    concurrent_anticancer_drugs: list[NonEmpty | DrugRef] | None = Field(
        default=None,
        max_length=20,
        description="Other anticancer drugs given with this one, each by name or as "
        "{drug, hcpcs, rxnorm, ndc}; [] = none (monotherapy).",
    )


class BodyWeight(_Model):
    value: PositiveDecimal
    unit: Literal["kg", "lb"]
    date: Date | None = None


class BrainMetastases(_Model):
    present: StrictBool
    extent: Literal["limited", "extensive"] | None = None


class Her2Ihc(_Model):
    score: IhcScore
    date: Date | None = None
    specimen_id: NonEmpty | None = None
    condition: Icd10Code | None = Field(default=None, description=_CONDITION_CODE)


class Her2Ish(_Model):
    ratio: Annotated[Decimal, Field(ge=0, le=100, max_digits=8, decimal_places=3)] | None = Field(
        default=None, description="Dual-probe HER2/CEP17 ratio."
    )
    copy_number: Annotated[Decimal, Field(ge=0, le=500, max_digits=8, decimal_places=3)] | None = (
        Field(default=None, description="Average HER2 copy number, signals per cell.")
    )
    date: Date | None = None
    specimen_id: NonEmpty | None = None
    condition: Icd10Code | None = Field(default=None, description=_CONDITION_CODE)


class Her2Results(_Model):
    ihc: list[Her2Ihc] = Field(default_factory=list, max_length=20)
    ish: list[Her2Ish] = Field(default_factory=list, max_length=20)


class Erbb2Mutation(_Model):
    status: Erbb2Status
    variant: NonEmpty | None = None
    date: Date | None = None
    condition: Icd10Code | None = Field(default=None, description=_CONDITION_CODE)


class PriorTherapy(_Model):
    drug: NonEmpty | None = Field(default=None, description="The drug's name, as reported.")
    hcpcs: Hcpcs | None = None
    rxnorm: RxNorm | None = None
    ndc: Ndc | None = None
    start_date: date | None = None
    end_date: date | None = None
    line: Annotated[int, Field(ge=1, le=20, strict=True)] | None = None
    reason_stopped: Literal["progression", "toxicity", "completion", "other", "ongoing"] | None = (
        None
    )

    @model_validator(mode="after")
    def _named_or_coded(self) -> PriorTherapy:
        if self.drug is None and self.hcpcs is None and self.rxnorm is None and self.ndc is None:
            raise ValueError("a prior therapy needs its drug's name or a code (hcpcs, rxnorm, ndc)")
        return self


class Compendium(_Model):
    fda_labeled_indication: StrictBool | None = Field(
        default=None,
        description="The condition is an indication in the FDA prescribing information.",
    )
    fda_label_requirements_met: StrictBool | None = Field(
        default=None,
        description="The member meets the label's additional Indications and Usage requirements.",
    )
    nccn_category: NccnCategory | None = None


class PriorAuthorization(_Model):
    plan: Literal["florida_blue", "other"]
    approved_on: date
    drug_hcpcs: Annotated[str, StringConstraints(pattern=r"^[A-Z][0-9]{4}$")]
    indication: NonEmpty | None = None


class Request(_Model):
    """One prior-authorization request for one drug."""

    request_id: NonEmpty
    submitted_at: datetime = Field(
        description="When the request was made: the decision's clock, so evaluation is repeatable."
    )
    request_type: RequestType
    urgency: Literal["standard", "expedited"] = "standard"
    member: Member
    prescriber: Prescriber | None = None
    medication: Medication
    indications: list[NonEmpty] | None = Field(
        default=None,
        max_length=20,
        description="What the drug is requested for, in the policy's indication ids.",
    )
    diagnoses: list[Icd10Code] | None = Field(default=None, max_length=50)
    disease_extent: list[DiseaseExtent] | None = Field(default=None, max_length=20)
    body_weight: BodyWeight | None = None
    brain_metastases: BrainMetastases | None = None
    her2: Her2Results | None = None
    erbb2_mutation: Erbb2Mutation | None = None
    prior_therapies: list[PriorTherapy] | None = Field(default=None, max_length=50)
    compendium: Compendium | None = None
    prior_authorizations: list[PriorAuthorization] | None = Field(default=None, max_length=50)
    initiation_criteria_previously_met: StrictBool | None = None
    disease_status_on_treatment: DiseaseStatus | None = Field(
        default=None, description="Disease course during treatment with the requested drug."
    )
