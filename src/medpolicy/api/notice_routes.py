"""Determination notices over the REST API, and the read audit every view of a case goes through.

``GET /api/v1/cases/{id}/notice?audience=member|provider&format=html|pdf``: the notice of the
case's determination (``medpolicy.notices``). Who may fetch it: reviewers and admins, and the
provider organization the case belongs to (``check_case_access``). A case awaiting a clinician
reviewer, or of another program, has no notice: 409 saying why.

``record_view``: each surface that shows a case's request or decision calls it before answering
(``medpolicy.store.reads``; on SQLite, while another process holds the write lock, the view is
recorded in the read spool). When neither the store nor the spool can record it, the store
raises ``StoreBusy`` and the caller gets a 503, not the case.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from medpolicy.api.auth import Caller, check_case_access
from medpolicy.api.errors import ApiError
from medpolicy.api.schemas import ErrorBody
from medpolicy.api.state import Services, services
from medpolicy.engine.decision import Authorization
from medpolicy.errors import RequestError
from medpolicy.notices import (
    MEDIA_TYPES,
    Audience,
    NoNotice,
    NoticeFormat,
    build_notice,
    render_html,
    render_pdf,
)
from medpolicy.service import reviewer_authorization
from medpolicy.store import Actor, Case, CaseStatus, ReviewerAction, ReviewerDecision

__all__ = ["notice_response", "record_view", "router"]

router = APIRouter(prefix="/api/v1")
Svc = Annotated[Services, Depends(services)]
NOTICE_ROUTE = "GET /api/v1/cases/{case_id}/notice"
# The notice's HTML needs nothing but its own inline style.
_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def record_view(svc: Services, case_id: str, actor: Actor, route: str) -> None:
    """Record that ``actor`` is shown case ``case_id``'s health information through ``route``
    (``StoreBusy`` when neither the store nor the read spool can record it: the view must then
    be refused)."""
    svc.store.reads.record(case_id, actor, route)


def _approval_authorization(
    svc: Services, case: Case, reviews: list[ReviewerDecision]
) -> Authorization | None:
    """What a reviewer's approval authorized: as recorded, else computed again (the same
    request, as the engine decided it, under the same policy version), as the FHIR routes do."""
    if case.status is not CaseStatus.approved or not reviews:
        return None
    last = reviews[-1]
    if last.action is not ReviewerAction.approve:
        return None
    if last.authorization is not None:
        return last.authorization
    with contextlib.suppress(RequestError):
        return reviewer_authorization(svc.registry, case.decided_on(), case.decision())
    return None


def notice_response(
    svc: Services, case: Case, audience: Audience, fmt: NoticeFormat, actor: Actor, route: str
) -> Response:
    """The notice as a response (409 when the case has none), its view recorded first."""
    reviews = svc.store.reviewer_decisions(case.id)
    try:
        notice = build_notice(
            case, reviews, audience, svc.notices, _approval_authorization(svc, case, reviews)
        )
    except NoNotice as exc:
        raise ApiError(409, "notice", str(exc)) from None
    record_view(svc, case.id, actor, route)
    body = render_html(notice).encode("utf-8") if fmt == "html" else render_pdf(notice)
    filename = f"{case.id}-{notice.kind}-{audience}.{fmt}"
    headers = {
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "no-store",
        **(_HTML_HEADERS if fmt == "html" else {"X-Content-Type-Options": "nosniff"}),
    }
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422, 503)
}


@router.get(
    "/cases/{case_id}/notice",
    summary="The determination notice of a case, for the member or the prescriber",
    response_class=Response,
    responses={
        **_ERRORS,
        200: {
            "description": "The notice: approval (period, dose, units), request for information "
            "(what to send, by when) or denial (the reviewer's reasons, each guideline clause, "
            "how to appeal).",
            "content": {
                "text/html": {"schema": {"type": "string"}},
                "application/pdf": {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
    tags=["cases"],
)
def case_notice(
    case_id: str,
    caller: Caller,
    svc: Svc,
    audience: Annotated[
        Audience, Query(description="Who the notice is for: the member or the prescriber.")
    ],
    format: Annotated[NoticeFormat, Query(description="html or pdf.")] = "html",
) -> Response:
    """Reviewers, admins and the case's own provider organization. A case awaiting a clinician
    reviewer has no notice yet (409): the engine never denies. Each answered request is recorded
    in the read audit (``medpolicy audit reads``)."""
    case = svc.store.get(case_id)
    if case is None:
        raise ApiError(404, "case_id", f"no case {case_id}")
    check_case_access(caller, case)
    return notice_response(svc, case, audience, format, caller.actor(), NOTICE_ROUTE)
