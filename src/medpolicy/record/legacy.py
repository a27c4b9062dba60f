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

from typing import Any, NamedTuple, TypeVar

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
    "RecordLike",
    "RecordView",
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
            sex=member.sex,
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
        conditions=_conditions(r, _MODELS),
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
        prior_authorizations=None
        if r.prior_authorizations is None
        else [
            _make(
                m.PriorAuthorization,
                plan=a.plan,
                approved_on=a.approved_on,
                drug_hcpcs=a.drug_hcpcs,
                indication=a.indication,
            )
            for a in r.prior_authorizations
        ],
        attestations=None
        if r.initiation_criteria_previously_met is None
        else [
            _make(
                m.Attestation,
                statement=INITIATION_CRITERIA_MET,
                value=r.initiation_criteria_previously_met,
                by=None,
                date=None,
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


class _Build:
    """How a condition and a finding are made: as the record's models, or as the view's small
    objects (the same attributes)."""

    def __init__(self, models: bool) -> None:
        self.models = models

    def finding(
        self,
        code: str,
        *,
        result: str | None = None,
        value: Any = None,
        unit: str | None = None,
        method: str | None = None,
        specimen_id: str | None = None,
        date: Any = None,
        variant: str | None = None,
    ) -> Any:
        test: str | None = None  # not in the earlier format
        if self.models:
            return _make(
                m.Finding,
                code=code,
                result=result,
                value=value,
                unit=unit,
                method=method,
                specimen_id=specimen_id,
                date=date,
                test=test,
                variant=variant,
            )
        fields = (code, result, value, unit, method, specimen_id, date, test, variant)
        return _new(_Finding, fields)

    def condition(self, code: str | None, extent: Any, findings: list[Any]) -> Any:
        if self.models:
            return _make(
                m.Condition,
                code=code,
                extent=extent,
                stage=None,
                recurrence_date=None,
                findings=findings,
            )
        return _new(_Condition, (code, extent, None, None, findings))


def _conditions(r: Request, build: _Build) -> list[Any] | None:
    """A condition per diagnosis code, in order; findings that name their condition under it
    (added when it is not among the codes); the rest under a condition whose code was not said."""
    coded: list[tuple[str, list[Any]]] = [(code, []) for code in r.diagnoses or ()]
    unsaid: list[Any] = []
    _finding = build.finding

    def place(finding: Any, about: str | None) -> None:
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
            place(_ihc(ihc, build), ihc.condition)
        for ish in r.her2.ish:
            for finding in _ish(ish, build):
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
    conditions = [build.condition(code, None, f) for code, f in coded]
    if unsaid or r.disease_extent is not None:
        conditions.append(build.condition(None, r.disease_extent, unsaid))
    if not conditions and r.diagnoses is None:
        return None
    return conditions


def _ihc(t: Her2Ihc, build: _Build) -> Any:
    return build.finding(
        HER2_IHC, result=t.score, method="IHC", specimen_id=t.specimen_id, date=t.date
    )


def _ish(t: Her2Ish, build: _Build) -> list[Any]:
    """One dual-probe ISH report: its ratio and its copy number, each a finding on the same
    specimen and date."""
    out = []
    _finding = build.finding
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


# -- the earlier format read in place -------------------------------------------------------------
#
# ``to_record`` builds the record's models: what a sender of the earlier format receives back, and
# what tests compare. The engine reads a request of the earlier format through ``RecordView``
# instead: the same attributes as a ``ClinicalRecord``, read from the request where they lie (a
# field of the same name and meaning is the request's own object; conditions, observations and
# attestations are made on first read, as small named tuples). Building a record's dozen
# models cost more than a decision's criteria (small named tuples cost a fraction); tests hold
# every decision made through the view
# equal to the one made from ``to_record``'s record.


# The view's objects are named tuples made by ``tuple.__new__`` (one C call, where a constructor
# is a Python call): read-only, their fields read as attributes, as the record's models are.
_new = tuple.__new__


class _Drug(NamedTuple):
    hcpcs: str
    name: str | None
    rxnorm: str | None
    ndc: str | None


class _Member(NamedTuple):
    id: str
    birth_date: Any
    sex: str | None
    payer: str | None
    plan: str | None
    line_of_business: Any
    organization: str | None


class _Order(NamedTuple):
    drug: _Drug
    dose: Any
    interval_days: int | None
    start_date: Any
    line_of_therapy: int | None
    setting: str | None
    indications: list[str] | None
    condition: str | None
    concurrent_drugs: list[Any] | None


class _Condition(NamedTuple):
    code: str | None
    extent: list[str] | None
    stage: str | None
    recurrence_date: Any
    findings: list[Any]


class _Finding(NamedTuple):
    code: str
    result: str | None
    value: Any
    unit: str | None
    method: str | None
    specimen_id: str | None
    date: Any
    test: str | None
    variant: str | None


class _Observation(NamedTuple):
    code: str
    value: Any
    unit: str
    date: Any


class _Attestation(NamedTuple):
    statement: str
    value: bool
    by: str | None
    date: Any


_MODELS, _VIEW = _Build(models=True), _Build(models=False)


class RecordView:
    """A request of the earlier format, read as its clinical record (see above)."""

    __slots__ = (
        "_conditions",
        "_observations",
        "member",
        "order",
        "request",
        "request_id",
        "request_type",
        "submitted_at",
        "urgency",
    )

    def __init__(self, request: Request) -> None:
        med = request.medication
        self.request = request
        self.request_id = request.request_id
        self.submitted_at = request.submitted_at
        self.request_type = request.request_type
        self.urgency = request.urgency
        m = request.member
        self.member = _new(
            _Member,
            (m.id, m.birth_date, m.sex, m.payer, m.plan, m.line_of_business, m.organization),
        )
        self.order = _new(
            _Order,
            (
                _new(_Drug, (med.hcpcs, med.drug, med.rxnorm, med.ndc)),
                med.dose,
                med.interval_days,
                med.start_date,
                med.line_of_therapy,
                None,
                request.indications,
                None,
                med.concurrent_anticancer_drugs,
            ),
        )
        self._conditions: list[Any] | bool | None = False  # not read yet
        self._observations: list[Any] | bool | None = False

    @property
    def conditions(self) -> list[Any] | None:
        if self._conditions is False:
            self._conditions = _conditions(self.request, _VIEW)
        return self._conditions  # type: ignore[return-value]

    @property
    def observations(self) -> list[Any] | None:
        if self._observations is False:
            w = self.request.body_weight
            self._observations = (
                None if w is None else [_new(_Observation, (BODY_WEIGHT, w.value, w.unit, w.date))]
            )
        return self._observations  # type: ignore[return-value]

    @property
    def medication_history(self) -> list[Any] | None:
        return self.request.prior_therapies  # the same fields, but for setting, cycles, response

    @property
    def prior_authorizations(self) -> list[Any] | None:
        return self.request.prior_authorizations

    @property
    def attestations(self) -> list[Any] | None:
        met = self.request.initiation_criteria_previously_met
        return (
            None
            if met is None
            else [_new(_Attestation, (INITIATION_CRITERIA_MET, met, None, None))]
        )

    @property
    def compendium(self) -> Any:
        return self.request.compendium


RecordLike = m.ClinicalRecord | RecordView  # what the engine reads a request as
