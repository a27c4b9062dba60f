"""A resubmission: the provider's JSON Merge Patch, applied to a case in its own format.

A case opened with the member's clinical record (``CaseStore.opened_as`` is "record") is patched
in that record: objects merge, arrays and scalars replace, null removes (RFC 7396). The patched
record is checked as a submitted record is (``parse_record``, its problems named by record path;
no date after receipt; a provider's own organization), decided on as it stands, and kept with its
projection (``record.projection``) as the case's request.

A case opened in the earlier format, or through FHIR PAS and DTR (whose record is built from a
request and the DTR answers), is patched in its request, and the facts only its record held are
carried over (``kept_record``). So is a record case whose record another surface has since
cleared: it then holds nothing but a request to patch.

What may not change (the request id, the member, the organization; a birth date may be added)
is the store's rule for every surface (``store.identity``); those fields have the same paths in
both formats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.record_facts import keep_record_facts, record_of
from medpolicy.adapters.native import RECORD_FIELD, parse_record, parse_request
from medpolicy.api.auth import apply_organization
from medpolicy.api.state import Services
from medpolicy.engine.decision import Determination
from medpolicy.errors import FieldError, RequestError
from medpolicy.record.model import ClinicalRecord
from medpolicy.record.projection import project
from medpolicy.request import Request as PaRequest
from medpolicy.service import check_not_ahead, decision_catalogue, evaluate_request
from medpolicy.store import Case, CaseFormat, TokenInfo

__all__ = ["PATCH_RULE", "Resubmission", "kept_record", "merge_patch", "resubmission"]

PATCH_RULE = (
    "A JSON Merge Patch (RFC 7396) in the case's own format: of its clinical record when the case "
    "was opened with one, else of its request of the earlier format. Objects merge; an array or a "
    "value replaces the one the case held (a patch of observations lists every observation to "
    "keep); null removes."
)

# The earlier format's top-level fields a record has no field of: in a patch to a record case, a
# patch in the wrong format, named as such rather than as a misspelt field.
_EARLIER_ONLY = frozenset(PaRequest.model_fields) - frozenset(ClinicalRecord.model_fields)


@dataclass(frozen=True)
class Resubmission:
    """What a resubmission stores: the case's request, the record its decision was made on (when
    more than the request) and that decision."""

    request: PaRequest
    record: ClinicalRecord | None
    decision: Determination


def resubmission(
    svc: Services, caller: TokenInfo, case: Case, patch: dict[str, Any]
) -> Resubmission:
    """``patch`` applied to ``case`` in the case's own format, checked and decided."""
    # Only a case that keeps a record can be patched in it: no read of its trail otherwise.
    opened_as: CaseFormat = "request"
    if case.record_json is not None:
        opened_as = svc.store.opened_as(case.id)
    return _PATCHED[opened_as](svc, caller, case, patch)


def _patched_record(
    svc: Services, caller: TokenInfo, case: Case, patch: dict[str, Any]
) -> Resubmission:
    """The case's clinical record, patched: decided on as it stands, as a submitted record is."""
    if case.record_json is None:  # cleared by another surface: only a request left to patch
        return _patched_request(svc, caller, case, patch)
    foreign = sorted(_EARLIER_ONLY.intersection(patch))
    if foreign:
        problem = (
            "a field of the earlier request format: this case was opened with a clinical record "
            f"(which has {RECORD_FIELD}), and a resubmission patches that record"
        )
        raise RequestError([FieldError(name, problem) for name in foreign])
    data = merge_patch(json.loads(case.record_json), patch)
    apply_organization(caller, data)
    record = parse_record(data)
    check_not_ahead(record, svc.settings.clock())
    decision = evaluate_request(svc.registry, record)
    return Resubmission(project(record).request, record, decision)


def _patched_request(
    svc: Services, caller: TokenInfo, case: Case, patch: dict[str, Any]
) -> Resubmission:
    """The case's request, patched, with the facts only its record held carried over."""
    parsed = parse_request(merge_patch(case.request_data(), patch))
    check_not_ahead(parsed, svc.settings.clock())
    record = kept_record(svc, case, parsed)
    return Resubmission(parsed, record, evaluate_request(svc.registry, record or parsed))


_PATCHED: dict[CaseFormat, Callable[[Services, TokenInfo, Case, dict[str, Any]], Resubmission]] = {
    "record": _patched_record,
    "request": _patched_request,
}


def kept_record(svc: Services, case: Case, request: PaRequest) -> ClinicalRecord | None:
    """The case's clinical record carried onto ``request``: the facts only the record held (DTR
    answers) placed again where the catalogue reads them, so that a resubmission decides on no
    less than the case was decided on. None when the case keeps no record."""
    stored = case.record()
    if stored is None:
        return None
    draft = Draft("(body)")
    before = PaRequest.model_validate_json(case.request_json)
    keep_record_facts((before, stored), decision_catalogue(svc.registry, case.decision()), draft)
    return record_of(request, draft)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
