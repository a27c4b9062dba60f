"""HL7 FHIR R4 over the engine: Da Vinci PAS, CRD and DTR, with mCODE oncology data.

- ``to_request``: FHIR resources -> ``medpolicy.request.Request``, with a report of every coding
  not understood (never guessed) and every problem located at its FHIR element.
- ``pas_flow``: ``Claim/$submit`` and ``Claim/$inquire`` (PAS request Bundle in, PAS response
  Bundle out, ClaimResponse first).
- ``dtr``: the Questionnaire generated from the policy tree; ``dtr_response`` reads answers back
  (``record_facts``: those of facts only the clinical record holds, into the record).
- ``vocabulary``: the clinical codes understood, read from the catalogue and its FHIR side.
- ``crd``: CDS Hooks discovery, ``order-select`` / ``order-sign`` cards and the
  coverage-information system action.
- ``operation_outcome``: every problem at once, each with its ``expression``.
"""

from medpolicy.adapters.fhir.draft import AdapterIssue
from medpolicy.adapters.fhir.dtr import generate_questionnaire, questionnaire_url
from medpolicy.adapters.fhir.operation_outcome import OutcomeIssue, operation_outcome
from medpolicy.adapters.fhir.pas_check import PasRejected
from medpolicy.adapters.fhir.pas_flow import (
    CaseRecord,
    CaseRecorder,
    EngineOnly,
    Naming,
    PasResult,
    inquire,
    submit,
)
from medpolicy.adapters.fhir.to_request import AdaptedRequest, OrderContext, to_request

__all__ = [
    "AdaptedRequest",
    "AdapterIssue",
    "CaseRecord",
    "CaseRecorder",
    "EngineOnly",
    "Naming",
    "OrderContext",
    "OutcomeIssue",
    "PasRejected",
    "PasResult",
    "generate_questionnaire",
    "inquire",
    "operation_outcome",
    "questionnaire_url",
    "submit",
    "to_request",
]
