"""The clinical record a request carries: the current request format.

Not shaped for one drug: a member, an order, the member's conditions with the findings about each
(tumour markers, metastases, disease course), dated observations, the medication history, prior
authorizations and the prescriber's attestations. Codes say what each thing is (ICD-10-CM for a
condition; LOINC, or a name the fact catalogue defines, for a finding or an observation; HCPCS,
RxNorm or NDC for a drug), so a new guideline reads new facts from the same record: the fact
catalogue (``policies/catalogue/``) says which.

Absent means *not reported*; an empty list means *reported as none*. Units are always explicit.
``medpolicy schema record`` prints the JSON Schema. The earlier request format
(``medpolicy.request.Request``) is still read, through ``medpolicy.record.legacy``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from medpolicy.definitions.icd10 import normalize
from medpolicy.request import (
    DiseaseExtent,
    DrugRef,
    Hcpcs,
    LineOfBusiness,
    Ndc,
    NonEmpty,
    PositiveDecimal,
    RequestType,
    RxNorm,
)

__all__ = [
    "Attestation",
    "ClinicalRecord",
    "Compendium",
    "Condition",
    "Dose",
    "Finding",
    "MedicationUse",
    "Member",
    "Observation",
    "Order",
    "OrderedDrug",
    "PriorAuthorization",
]

Date = date  # fields named "date" would shadow the type inside their class
Icd10Code = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=10), AfterValidator(normalize)
]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Quantity = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=4, allow_inf_nan=False)]


class _Model(BaseModel):
    # Unknown fields are an error: a misspelt fact silently dropped would read as "not reported".
    # Numbers and booleans are strict (``interval_days: true`` is not 1, ``"yes"`` is not true);
    # every list has a length limit.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Member(_Model):
    id: NonEmpty
    birth_date: date | None = None
    sex: Literal["female", "male", "other", "unknown"] | None = None
    payer: NonEmpty | None = Field(
        default=None,
        description="The payer's id, as the policies name it; omitted: the deployment's payer.",
    )
    plan: NonEmpty | None = Field(default=None, description="The member's plan or program.")
    line_of_business: LineOfBusiness | None = None
    organization: NonEmpty | None = Field(
        default=None, description="The requesting provider organization (for access control)."
    )


class OrderedDrug(_Model):
    hcpcs: Hcpcs = Field(description="HCPCS Level II code of the requested drug.")
    name: NonEmpty | None = None
    rxnorm: RxNorm | None = None
    ndc: Ndc | None = None


class Dose(_Model):
    value: PositiveDecimal
    unit: Literal["mg", "mg/kg", "mg/m2"]


class Order(_Model):
    """What is requested: the drug, its dose and schedule, and what it is for."""

    drug: OrderedDrug
    dose: Dose | None = None
    interval_days: Annotated[int, Field(gt=0, le=365, strict=True)] | None = Field(
        default=None, description="Days between doses (21 for every three weeks)."
    )
    start_date: date | None = None
    line_of_therapy: Annotated[int, Field(ge=1, le=20, strict=True)] | None = Field(
        default=None, description="1 = first line; 2 or more = subsequent therapy."
    )
    setting: Literal["neoadjuvant", "adjuvant", "metastatic"] | None = None
    indications: list[NonEmpty] | None = Field(
        default=None,
        max_length=10,
        description="What the drug is requested for, in the policy's indication ids.",
    )
    condition: Icd10Code | None = Field(
        default=None, description="The ICD-10-CM code of the condition the drug treats."
    )
    concurrent_drugs: list[NonEmpty | DrugRef] | None = Field(
        default=None,
        max_length=20,
        description="Other anticancer drugs given with it, by name or code; [] = none.",
    )


class Finding(_Model):
    """One result about a condition: a tumour marker, a metastasis, the disease course.

    ``code`` says what was found (a LOINC code, or a name the fact catalogue defines, such as
    ``her2-ihc`` or ``brain-metastases``); ``result`` is its reported category (``3+``,
    ``positive``, ``limited``, ``stable``) and ``value``/``unit`` its quantity."""

    code: Code
    result: NonEmpty | None = None
    value: Quantity | None = None
    unit: NonEmpty | None = None
    method: NonEmpty | None = Field(default=None, description="e.g. IHC, dual-probe ISH.")
    specimen_id: NonEmpty | None = None
    date: Date | None = None
    test: Literal["fda_approved", "clia", "other"] | None = Field(
        default=None, description="The kind of test: FDA-approved, CLIA-compliant, or other."
    )
    variant: NonEmpty | None = None


class Condition(_Model):
    """A condition of the member, with its extent and the findings about it. ``code`` may be
    omitted for findings whose condition the sender did not say (they are then used only when a
    request concerns a single condition)."""

    code: Icd10Code | None = None
    extent: list[DiseaseExtent] | None = Field(default=None, max_length=6)
    stage: NonEmpty | None = None
    recurrence_date: date | None = None
    findings: list[Finding] = Field(default_factory=list, max_length=50)


class Observation(_Model):
    """A dated measurement of the member: body weight, height, LVEF, … by LOINC code."""

    code: Code
    value: Quantity
    unit: NonEmpty
    date: Date | None = None


class MedicationUse(_Model):
    """A course of a drug in the member's history."""

    drug: NonEmpty | None = Field(default=None, description="The drug's name, as reported.")
    hcpcs: Hcpcs | None = None
    rxnorm: RxNorm | None = None
    ndc: Ndc | None = None
    start_date: date | None = None
    end_date: date | None = None
    line: Annotated[int, Field(ge=1, le=20, strict=True)] | None = None
    setting: Literal["neoadjuvant", "adjuvant", "metastatic"] | None = None
    cycles: Annotated[int, Field(ge=0, le=200, strict=True)] | None = None
    response: Literal["complete", "partial", "stable", "progression", "none"] | None = None
    reason_stopped: Literal["progression", "toxicity", "completion", "other", "ongoing"] | None = (
        None
    )


class PriorAuthorization(_Model):
    """An earlier approval of the drug: by which plan (this payer's id, or another's), when, for
    which indication."""

    plan: NonEmpty
    approved_on: date
    drug_hcpcs: Hcpcs
    indication: NonEmpty | None = None


class Attestation(_Model):
    """A named statement by the prescriber (``statement``: an id the policy or catalogue
    defines), true or false, with who made it (``by``) and when (``date``)."""

    statement: Code
    value: StrictBool
    by: NonEmpty | None = None
    date: Date | None = None


class Compendium(_Model):
    fda_labeled_indication: StrictBool | None = None
    fda_label_requirements_met: StrictBool | None = None
    nccn_category: Literal["1", "2A", "2B", "3", "none"] | None = None


class ClinicalRecord(_Model):
    """One prior-authorization request for one drug, as the member's clinical record."""

    request_id: NonEmpty
    submitted_at: datetime = Field(
        description="When the request was made: the decision's clock, so evaluation is repeatable."
    )
    request_type: RequestType
    urgency: Literal["standard", "expedited"] = "standard"
    member: Member
    order: Order
    conditions: list[Condition] | None = Field(default=None, max_length=50)
    observations: list[Observation] | None = Field(default=None, max_length=100)
    medication_history: list[MedicationUse] | None = Field(default=None, max_length=50)
    prior_authorizations: list[PriorAuthorization] | None = Field(default=None, max_length=50)
    attestations: list[Attestation] | None = Field(default=None, max_length=50)
    compendium: Compendium | None = None
