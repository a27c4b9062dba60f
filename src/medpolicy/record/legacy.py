"""The earlier request format (``medpolicy.request.Request``) read into the clinical record.

Every fact the earlier format carries has its place in the record: the medication is the order;
each diagnosis code is a condition; HER2 and ERBB2 results, brain metastases and the disease
course are findings (about the condition a result names, or, when it names none, about a
condition whose code was not said); the body weight is an observation; prior therapies are the
medication history; "initiation criteria previously met" is the prescriber's attestation.

This runs on every decision made from the earlier format, so it builds the record's models from
values the request's own validation has already checked, without validating them again
(``_make``); tests hold what it builds equal to the validated record.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from medpolicy.record import model as m
from medpolicy.request import Her2Ihc, Her2Ish, Request

__all__ = [
    "BODY_WEIGHT",
    "BRAIN_METASTASES",
    "DISEASE_STATUS",
    "ERBB2_MUTATION",
    "HER2_IHC",
    "HER2_ISH_COPY_NUMBER",
    "HER2_ISH_RATIO",
    "INITIATION_CRITERIA_MET",
    "to_record",
]

# The names the shared fact catalogue (policies/catalogue/facts.yaml) reads these by; it also
# lists the LOINC codes that mean the same.
BODY_WEIGHT = "body-weight"
HER2_IHC = "her2-ihc"
HER2_ISH_RATIO = "her2-ish-ratio"
HER2_ISH_COPY_NUMBER = "her2-ish-copy-number"
ERBB2_MUTATION = "erbb2-mutation"
BRAIN_METASTASES = "brain-metastases"
DISEASE_STATUS = "disease-status"
INITIATION_CRITERIA_MET = "initiation-criteria-previously-met"

M = TypeVar("M", bound=BaseModel)


def _make(cls: type[M], **fields: Any) -> M:
    """The model from checked values, every field given (``model_construct`` without its
    per-field bookkeeping: this runs for every request)."""
    record = cls.__new__(cls)
    object.__setattr__(record, "__dict__", fields)
    object.__setattr__(record, "__pydantic_fields_set__", set(fields))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", None)
    return record


def to_record(r: Request) -> m.ClinicalRecord:
    med = r.medication
    member = r.member
    return _make(
        m.ClinicalRecord,
        request_id=r.request_id,
        submitted_at=r.submitted_at,
        request_type=r.request_type,
        urgency=r.urgency,
        member=_make(
            m.Member,
            id=member.id,
            birth_date=member.birth_date,
            sex=None,
            payer=member.payer,
            plan=member.plan,
            line_of_business=member.line_of_business,
            organization=member.organization,
        ),
        order=_make(
            m.Order,
            drug=_make(
                m.OrderedDrug, hcpcs=med.hcpcs, name=med.drug, rxnorm=med.rxnorm, ndc=med.ndc
            ),
            dose=None
            if med.dose is None
            else _make(m.Dose, value=med.dose.value, unit=med.dose.unit),
            interval_days=med.interval_days,
            start_date=med.start_date,
            line_of_therapy=med.line_of_therapy,
            setting=None,
            indications=r.indications,
            condition=None,
            concurrent_drugs=med.concurrent_anticancer_drugs,
        ),
        conditions=_conditions(r),
        observations=_observations(r),
        medication_history=None
        if r.prior_therapies is None
        else [
            _make(
                m.MedicationUse,
                drug=t.drug,
                hcpcs=t.hcpcs,
                rxnorm=t.rxnorm,
                ndc=t.ndc,
                start_date=t.start_date,
                end_date=t.end_date,
                line=t.line,
                setting=None,
                cycles=None,
                response=None,
                reason_stopped=t.reason_stopped,
            )
            for t in r.prior_therapies
        ],
        prior_authorizations=r.prior_authorizations,
        attestations=None
        if r.initiation_criteria_previously_met is None
        else [
            _make(
                m.Attestation,
                statement=INITIATION_CRITERIA_MET,
                value=r.initiation_criteria_previously_met,
                by=None,
                on=None,
            )
        ],
        compendium=None
        if (c := r.compendium) is None
        else _make(
            m.Compendium,
            fda_labeled_indication=c.fda_labeled_indication,
            fda_label_requirements_met=c.fda_label_requirements_met,
            nccn_category=c.nccn_category,
        ),
    )


def _observations(r: Request) -> list[m.Observation] | None:
    w = r.body_weight
    if w is None:
        return None
    return [_make(m.Observation, code=BODY_WEIGHT, value=w.value, unit=w.unit, date=w.date)]


def _finding(code: str, **fields: Any) -> m.Finding:
    values = {
        "result": None,
        "value": None,
        "unit": None,
        "method": None,
        "specimen_id": None,
        "date": None,
        "test": None,
        "variant": None,
    }
    values.update(fields)
    return _make(m.Finding, code=code, **values)


def _conditions(r: Request) -> list[m.Condition] | None:
    """A condition per diagnosis code, in order; findings that name their condition under it
    (added when it is not among the codes); the rest under a condition whose code was not said."""
    coded: list[tuple[str, list[m.Finding]]] = [(code, []) for code in r.diagnoses or ()]
    unsaid: list[m.Finding] = []

    def place(finding: m.Finding, about: str | None) -> None:
        if about is None:
            unsaid.append(finding)
            return
        for code, findings in coded:  # under the first condition with its code
            if code == about:
                findings.append(finding)
                return
        coded.append((about, [finding]))  # a finding about a condition is a diagnosis of it

    if r.her2 is not None:
        for ihc in r.her2.ihc:
            place(_ihc(ihc), ihc.condition)
        for ish in r.her2.ish:
            for finding in _ish(ish):
                place(finding, ish.condition)
    if (e := r.erbb2_mutation) is not None:
        place(
            _finding(ERBB2_MUTATION, result=e.status, variant=e.variant, date=e.date), e.condition
        )
    if (b := r.brain_metastases) is not None:
        result = "none" if not b.present else b.extent or "unspecified"
        unsaid.append(_finding(BRAIN_METASTASES, result=result))
    if (status := r.disease_status_on_treatment) is not None:
        unsaid.append(_finding(DISEASE_STATUS, result=status))
    conditions = [
        _make(m.Condition, code=code, extent=None, stage=None, recurrence_date=None, findings=f)
        for code, f in coded
    ]
    if unsaid or r.disease_extent is not None:
        conditions.append(
            _make(
                m.Condition,
                code=None,
                extent=r.disease_extent,
                stage=None,
                recurrence_date=None,
                findings=unsaid,
            )
        )
    if not conditions and r.diagnoses is None:
        return None
    return conditions


def _ihc(t: Her2Ihc) -> m.Finding:
    return _finding(HER2_IHC, result=t.score, method="IHC", specimen_id=t.specimen_id, date=t.date)


def _ish(t: Her2Ish) -> list[m.Finding]:
    """One dual-probe ISH report: its ratio and its copy number, each a finding on the same
    specimen and date."""
    out = []
    if t.ratio is not None:
        out.append(
            _finding(
                HER2_ISH_RATIO,
                value=t.ratio,
                method="dual-probe ISH",
                specimen_id=t.specimen_id,
                date=t.date,
            )
        )
    if t.copy_number is not None:
        out.append(
            _finding(
                HER2_ISH_COPY_NUMBER,
                value=t.copy_number,
                unit="signals/cell",
                method="dual-probe ISH",
                specimen_id=t.specimen_id,
                date=t.date,
            )
        )
    return out
