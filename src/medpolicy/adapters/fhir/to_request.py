"""FHIR R4 resources -> the engine's one input, ``medpolicy.request.Request``.

The transport (a PAS Claim, a CRD hook) says what is requested, by whom and when
(``OrderContext``); the resources sent with it (Patient, Coverage, mCODE conditions and
observations, medication history, DTR QuestionnaireResponses) give the clinical facts. The
assembled request is validated by the same parser as the REST API's JSON, so a FHIR request and a
REST request meet one set of rules, and each problem is reported at the FHIR element it came from.

Nothing is guessed: a coding the catalogue data does not list (``vocabulary``) is reported in
``issues``; an unstated request type defaults to initiation and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from medpolicy.adapters.fhir.codes import is_system
from medpolicy.adapters.fhir.conditions import (
    read_conditions,
    read_stated_concept,
    read_stated_reference,
)
from medpolicy.adapters.fhir.draft import AdapterIssue, Draft, expression_for
from medpolicy.adapters.fhir.dtr_response import read_questionnaire_response
from medpolicy.adapters.fhir.medications import read_dosage, read_prior_therapies
from medpolicy.adapters.fhir.observations import read_observations
from medpolicy.adapters.fhir.record_facts import with_record_facts
from medpolicy.adapters.fhir.resources import Located, ResourceIndex, as_list, codings, parse_date
from medpolicy.adapters.fhir.vocabulary import fhir_mapping
from medpolicy.adapters.native import parse_request
from medpolicy.errors import RequestError
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request

__all__ = ["AdaptedRequest", "FieldProblem", "OrderContext", "to_request"]

RequestType = Literal["initiation", "continuation"]


@dataclass(frozen=True)
class OrderContext:
    """What the transport itself says about the request, with where it says it."""

    request_id: str
    request_id_source: str
    submitted_at: datetime
    submitted_at_source: str
    hcpcs: str
    hcpcs_source: str
    root: str = "Bundle"
    drug_name: str | None = None
    request_type: RequestType | None = None
    request_type_source: str = ""
    urgency: Literal["standard", "expedited"] | None = None
    urgency_source: str = ""
    patient: Located | None = None
    coverage: Located | None = None
    order: Located | None = None
    start_date: str | None = None
    start_date_source: str = ""
    stated: tuple[tuple[Any, str], ...] = ()  # (CodeableConcept, expression): stated diagnoses
    stated_refs: tuple[tuple[Any, str, Located | None], ...] = ()  # (Reference, expr, container)
    not_history: frozenset[str] = field(default_factory=frozenset)  # the order itself, by path
    organization: str | None = None  # the requesting provider organization (access control)


@dataclass(frozen=True)
class FieldProblem:
    """A request field that failed validation, at the FHIR element it was read from."""

    expression: str
    field: str
    problem: str


@dataclass(frozen=True)
class AdaptedRequest:
    request: Request | None
    problems: tuple[FieldProblem, ...]
    issues: tuple[AdapterIssue, ...]
    data: dict[str, Any]  # the native request JSON as assembled (for audit and debugging)
    sources: dict[str, str]  # native field -> the FHIR element it was read from
    root: str = "Bundle"
    # the request as the clinical record, with the facts only the record holds (answered in a
    # DTR QuestionnaireResponse); None when there are none
    record: ClinicalRecord | None = None

    @property
    def for_engine(self) -> Request | ClinicalRecord | None:
        """What the engine decides: the record when it holds more than the request."""
        return self.record or self.request

    def expression_for(self, native_field: str) -> str:
        return expression_for(self.sources, native_field, self.root)

    def problems_for(self, exc: RequestError) -> tuple[FieldProblem, ...]:
        """A RequestError raised later (e.g. by the engine) located at the FHIR elements."""
        return tuple(
            FieldProblem(self.expression_for(e.field), e.field, e.problem) for e in exc.errors
        )


def to_request(index: ResourceIndex, ctx: OrderContext) -> AdaptedRequest:
    draft = Draft(ctx.root)
    index = _about_the_member(index, ctx.patient, draft)
    _transport(ctx, draft)
    if ctx.order is not None:
        _order(index, ctx.order, draft)
    for concept, path in ctx.stated:
        read_stated_concept(concept, path, draft)
    for reference, path, within in ctx.stated_refs:
        read_stated_reference(index, reference, path, draft, within)
    _member(ctx, draft)
    read_observations(index, draft)
    read_conditions(index, draft)
    read_prior_therapies(index, draft, ctx.not_history)
    for qr in index.of_type("QuestionnaireResponse"):
        read_questionnaire_response(qr, draft)
    if draft.set("request_type", "initiation", ctx.root):
        draft.report(
            ctx.root,
            "assumption",
            "the request does not say whether it starts or "
            "continues therapy (no certification type, no questionnaire answer); "
            "reviewed as initiation",
        )
    return _validated(draft)


# Clinical resources read for the member, each saying in ``subject`` whom it is about.
_WITH_SUBJECT = frozenset(
    {
        "Observation",
        "Condition",
        "MedicationStatement",
        "MedicationRequest",
        "MedicationAdministration",
        "Procedure",
        "Specimen",
        "QuestionnaireResponse",
    }
)


def _about_the_member(index: ResourceIndex, patient: Located | None, draft: Draft) -> ResourceIndex:
    """The resources less those about someone or something else: a subject whose reference is
    not to the member (another Patient, sent or not, or a Group, a Device, a Location). Such a
    result (a HER2 score, a weight) is not the member's to be decided on: it is reported and not
    read. A resource whose subject gives no reference (none, or only an identifier) is read:
    nothing says it is another's."""
    if patient is None:
        return index
    gone = set()
    for item in index.items:
        subject = item.resource.get("subject") if item.type in _WITH_SUBJECT else None
        text = subject.get("reference") if isinstance(subject, dict) else None
        if not isinstance(text, str) or ".contained[" in item.path:
            continue
        target = index.resolve(subject, item)
        if target is None or target.resource is not patient.resource:
            gone.add(item.path)
            draft.report(
                item.at("subject"),
                "not-usable",
                f"this {item.type} is about {text}, not the member of this request; not used",
            )
    return index.without(gone) if gone else index


def _transport(ctx: OrderContext, draft: Draft) -> None:
    submitted = (
        ctx.submitted_at if ctx.submitted_at.tzinfo else ctx.submitted_at.replace(tzinfo=UTC)
    )
    draft.set("request_id", ctx.request_id[:200], ctx.request_id_source)
    draft.set("submitted_at", submitted.isoformat(), ctx.submitted_at_source)
    draft.set("medication.hcpcs", ctx.hcpcs, ctx.hcpcs_source)
    if ctx.drug_name:
        draft.set("medication.drug", ctx.drug_name[:200], ctx.hcpcs_source)
    if ctx.request_type:
        draft.set("request_type", ctx.request_type, ctx.request_type_source)
    if ctx.urgency:
        draft.set("urgency", ctx.urgency, ctx.urgency_source)
    if ctx.start_date:
        draft.set("medication.start_date", ctx.start_date, ctx.start_date_source)
    if ctx.organization:
        draft.set("member.organization", ctx.organization, ctx.root)


def _order(index: ResourceIndex, order: Located, draft: Draft) -> None:
    """The requested order: its dose and schedule, the diagnoses it states as its reason, and
    who ordered it."""
    read_dosage(order, draft)
    _prescriber(index, order, draft)
    for i, reason in enumerate(as_list(order.resource.get("reasonCode"))):
        read_stated_concept(reason, order.at("reasonCode", i), draft)
    for i, reference in enumerate(as_list(order.resource.get("reasonReference"))):
        read_stated_reference(index, reference, order.at("reasonReference", i), draft, order)
    start = parse_date(order.resource.get("occurrenceDateTime"))
    if start:
        draft.set("medication.start_date", start.isoformat(), order.at("occurrenceDateTime"))


_NPI = "http://hl7.org/fhir/sid/us-npi"


def _prescriber(index: ResourceIndex, order: Located, draft: Draft) -> None:
    """MedicationRequest.requester, when it is a Practitioner with a name: its name and NPI."""
    found = index.resolve(order.resource.get("requester"), order)
    if found is None or found.type != "Practitioner":
        return
    names = [n for n in as_list(found.resource.get("name")) if isinstance(n, dict)]
    if not names:
        return
    name = names[0]
    given = " ".join(g for g in as_list(name.get("given")) if isinstance(g, str))
    family = name.get("family") if isinstance(name.get("family"), str) else ""
    text = name.get("text") or " ".join(p for p in (given, family) if p)
    if not isinstance(text, str) or not text.strip():
        return
    draft.set("prescriber.name", text.strip()[:200], found.at("name", 0))
    for i, ident in enumerate(as_list(found.resource.get("identifier"))):
        if not isinstance(ident, dict) or ident.get("system") != _NPI:
            continue
        value = ident.get("value")
        if isinstance(value, str) and re.fullmatch(r"\d{10}", value):
            draft.set("prescriber.npi", value, found.at("identifier", i))
            return


def _member(ctx: OrderContext, draft: Draft) -> None:
    """The member id is the plan's: Coverage.subscriberId, else the first identifier on the
    Coverage or the Patient, else the Patient's resource id."""
    coverage, patient = ctx.coverage, ctx.patient
    if coverage is not None and isinstance(coverage.resource.get("subscriberId"), str):
        draft.set("member.id", coverage.resource["subscriberId"], coverage.at("subscriberId"))
    for source in (s for s in (coverage, patient) if s is not None):
        for i, ident in enumerate(as_list(source.resource.get("identifier"))):
            if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                draft.set("member.id", ident["value"], source.at("identifier", i))
    if patient is not None:
        if patient.id:
            draft.set("member.id", patient.id, patient.at("id"))
        born = parse_date(patient.resource.get("birthDate"))
        if born:
            draft.set("member.birth_date", born.isoformat(), patient.at("birthDate"))
        gender = patient.resource.get("gender")
        if gender in ("female", "male", "other", "unknown"):
            draft.set("member.sex", gender, patient.at("gender"))
    if coverage is not None:
        _line_of_business(coverage, draft)


def _line_of_business(coverage: Located, draft: Draft) -> None:
    """Coverage.type in the data's tables (a payer vocabulary such as SOPT, or medpolicy's own
    system); any other coding is reported and the line of business left unstated, which the
    engine asks about."""
    tables = fhir_mapping().line_of_business
    for cd in codings(coverage.resource.get("type"), coverage.at("type")):
        table = next((t for system, t in tables.items() if is_system(cd.system, system)), None)
        if table is not None and (cd.code or "") in table:
            draft.set("member.line_of_business", table[cd.code or ""], cd.path)
            return
        draft.unrecognized(cd, "coverage type (line of business)")


def _validated(draft: Draft) -> AdaptedRequest:
    adapted = AdaptedRequest(None, (), tuple(draft.issues), draft.data, draft.sources, draft.root)
    try:
        request = parse_request(draft.data)
    except RequestError as exc:
        return replace(adapted, problems=adapted.problems_for(exc))
    if not draft.record_facts:
        return replace(adapted, request=request)
    # A refused answer refuses the request, as a refused field of the native request does.
    record, refused = with_record_facts(request, draft.record_facts, draft)
    return replace(
        adapted,
        request=None if refused else request,
        record=record,
        problems=tuple(FieldProblem(*p) for p in refused),
        issues=tuple(draft.issues),
    )
