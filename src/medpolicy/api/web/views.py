"""The reviewer web app: server-rendered pages over the same store and rules as the API.

A reviewer signs in with a reviewer token, which opens a server-side session
(``medpolicy.store.sessions``): the HttpOnly, SameSite=Strict cookie holds only the session's id
(Secure with ``--secure-cookies`` or over HTTPS), never the token. The session ends after an idle
or an absolute timeout, on sign-out, and when the token is revoked. Every form also carries a CSRF
value derived from the session id.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from medpolicy.adapters.fhir.record_facts import fact_spec
from medpolicy.api.auth import COOKIE
from medpolicy.api.body import FORM_TYPES, check_media_type
from medpolicy.api.errors import ApiError
from medpolicy.api.notice_routes import notice_response, record_view
from medpolicy.api.queue_query import parse_queue_query
from medpolicy.api.schemas import service_level
from medpolicy.api.state import Services, app_services
from medpolicy.engine.decision import Criterion, Decision
from medpolicy.errors import FieldError, RequestError
from medpolicy.notices import AUDIENCES, FORMATS
from medpolicy.service import reviewer_authorization
from medpolicy.store import (
    Case,
    CaseConflict,
    CaseStatus,
    ReviewerAction,
    Role,
    TokenInfo,
)
from medpolicy.store.queue import QueueCounts, QueueQuery

__all__ = ["install"]

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def _pathway_ids(criterion_ids: list[str]) -> list[str]:
    """Criterion ids are paths under their pathway ("pathway/criterion/..."): the pathways."""
    return list(dict.fromkeys(c.split("/", 1)[0] for c in criterion_ids))


templates.env.filters["pathway_ids"] = _pathway_ids
router = APIRouter(prefix="/review", include_in_schema=False)
_DECIDERS = (Role.reviewer, Role.admin)
MAX_FORM_BYTES = 64_000


class _LoginRequired(Exception):
    pass


def install(app: FastAPI) -> None:
    app.mount("/review/static", StaticFiles(directory=str(HERE / "static")), name="review-static")
    app.include_router(router)

    @app.exception_handler(_LoginRequired)
    async def _to_login(request: Request, _: _LoginRequired) -> Response:
        target = quote(request.url.path)
        return RedirectResponse(f"/review/login?next={target}", status_code=303)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/review/", status_code=303)


def _csrf(session: str) -> str:
    return hmac.new(b"medpolicy-csrf", session.encode(), hashlib.sha256).hexdigest()[:32]


def _reviewer(request: Request) -> tuple[TokenInfo, str]:
    """The signed-in reviewer and their session id; else to the sign-in page."""
    session = request.cookies.get(COOKIE, "")
    info = app_services(request).sessions.holder(session) if session else None
    if info is None or info.role not in (Role.reviewer, Role.admin):
        raise _LoginRequired
    return info, session


async def _form(request: Request) -> dict[str, list[str]]:
    """The posted form (only ``application/x-www-form-urlencoded`` is read: else a 415); a
    value holding a NUL character is a 400 (no text in the store may hold one)."""
    check_media_type(request, FORM_TYPES)
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    for name, values in form.items():
        if "\x00" in name or any("\x00" in v for v in values):
            raise ApiError(400, name.replace("\x00", ""), "a NUL character is not allowed")
    return form


def _first(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)


@router.get("/login")
def login_page(request: Request, next: str = "/review/") -> HTMLResponse:
    return _page(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    token = _first(form, "token").strip()
    target = _safe_next(_first(form, "next"))
    info = app_services(request).tokens.authenticate(token) if token else None
    if info is None or info.role not in (Role.reviewer, Role.admin):
        problem = "That token is not a valid reviewer token." if token else "Paste your token."
        return _page(request, "login.html", 401, next=target, error=problem)
    svc = app_services(request)
    session = await run_in_threadpool(svc.sessions.open, info)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        session,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        max_age=int(svc.sessions.timeouts.absolute.total_seconds()),
        path="/",
    )
    return response


def _secure(request: Request) -> bool:
    """Secure cookies when configured, or when the request came over HTTPS (directly, or as a
    trusted proxy's X-Forwarded-Proto has told uvicorn)."""
    return app_services(request).settings.secure_cookies or request.url.scheme == "https"


@router.post("/logout")
async def logout(request: Request) -> Response:
    _, session = _reviewer(request)
    form = await _form(request)
    response = RedirectResponse("/review/login", status_code=303)
    if hmac.compare_digest(_first(form, "csrf"), _csrf(session)):
        await run_in_threadpool(app_services(request).sessions.end, session)
        response.delete_cookie(COOKIE, path="/", secure=_secure(request), httponly=True)
    return response


def _tally(counts: QueueCounts | None, facet: str, key: str) -> int | None:
    """How many of the query's cases have ``key`` for ``facet`` (None after the first page)."""
    if counts is None:
        return None
    found: dict[str, int] = getattr(counts, facet)
    return found.get(key, 0)


def _safe_next(target: str) -> str:
    return target if target.startswith("/review/") and "//" not in target else "/review/"


_DUE_LABELS = {
    "overdue": "Overdue",
    "24h": "Due within 24 hours",
    "72h": "Due within 72 hours",
    "7d": "Due within 7 days",
}


@router.get("/")
def queue_page(request: Request) -> HTMLResponse:
    info, session = _reviewer(request)
    svc = app_services(request)
    params = dict(request.query_params)
    errors: list[str] = []
    try:
        query = parse_queue_query(params, info, svc.registry)
    except RequestError as exc:
        errors = [f"{e.field}: {e.problem}" for e in exc.errors]
        query = QueueQuery(limit=0)
    page = svc.store.queue_page(query) if not errors else None
    now = datetime.now(UTC)
    recent = svc.store.list_cases(
        statuses=[CaseStatus.approved, CaseStatus.denied, CaseStatus.out_of_scope], limit=15
    )
    chosen = {k: v for k, v in params.items() if k not in ("cursor", "limit") and v.strip()}
    size = {"limit": params["limit"]} if params.get("limit") else {}
    return _page(
        request,
        "queue.html",
        422 if errors else 200,
        reviewer=info,
        csrf=_csrf(session),
        rows=page.cases if page else [],
        counts=page.counts if page else None,
        tally=partial(_tally, page.counts if page else None),
        next_url=(
            "/review/?" + urlencode({**chosen, **size, "cursor": page.next_cursor})
            if page and page.next_cursor
            else None
        ),
        paged="cursor" in params,
        first_url="/review/?" + urlencode({**chosen, **size}),
        chosen=chosen,
        filtering=bool(chosen),
        policies=sorted({p.meta.id for p in svc.registry.all()}),
        pathways=sorted({p.id for policy in svc.registry.all() for p in policy.pathways}),
        due_labels=_DUE_LABELS,
        errors=errors,
        recent=recent,
        now=now,
        today=now.date(),
        due_text=due_text,
    )


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, done: str = "") -> HTMLResponse:
    info, session = _reviewer(request)
    return _case_page(
        request, app_services(request), info, session, case_id, notice=done, route=_CASE_ROUTE
    )


_CASE_ROUTE = "GET /review/cases/{case_id}"
_DECIDE_ROUTE = "POST /review/cases/{case_id}/decide"
_NOTICE_ROUTE = "GET /review/cases/{case_id}/notice"


@router.get("/cases/{case_id}/notice")
def notice_page(
    request: Request, case_id: str, audience: str = "member", format: str = "html"
) -> Response:
    """The case's determination notice (as the API's ``/cases/{id}/notice``), for the
    signed-in reviewer; its view recorded in the read audit."""
    info, _ = _reviewer(request)
    if audience not in AUDIENCES:
        raise ApiError(422, "audience", "must be member or provider")
    if format not in FORMATS:
        raise ApiError(422, "format", "must be html or pdf")
    svc = app_services(request)
    case = svc.store.get(case_id)
    if case is None:
        raise ApiError(404, "case_id", f"no case {case_id}")
    return notice_response(
        svc,
        case,
        audience,
        format,
        info.actor(),
        _NOTICE_ROUTE,
    )


def _expired(
    request: Request, svc: Services, info: TokenInfo, session: str, case_id: str
) -> HTMLResponse:
    """A form posted without this session's CSRF token (or an older one): refused, and the case
    shown again."""
    return _case_page(
        request,
        svc,
        info,
        session,
        case_id,
        status_code=403,
        errors=["The form expired: reload the page and try again."],
    )


def _case_page(
    request: Request,
    svc: Services,
    info: TokenInfo,
    session: str,
    case_id: str,
    *,
    notice: str = "",
    errors: list[str] | None = None,
    form: dict[str, list[str]] | None = None,
    status_code: int = 200,
    route: str = _DECIDE_ROUTE,
) -> HTMLResponse:
    case = svc.store.get(case_id)
    if case is None:
        return _page(
            request, "missing.html", 404, reviewer=info, csrf=_csrf(session), case_id=case_id
        )
    record_view(svc, case.id, info.actor(), route)
    decision = case.decision()
    history = svc.store.history(case.id)
    reason_clauses = list(dict.fromkeys(r.clause for r in decision.reasons))
    reviewer_decisions = svc.store.reviewer_decisions(case.id)
    return _page(
        request,
        "case.html",
        status_code,
        reviewer=info,
        csrf=_csrf(session),
        case=case,
        decision=decision,
        request_data=case.request_data(),
        record_facts=_record_facts(case, decision),
        history=history,
        reviewer_decisions=reviewer_decisions,
        approval=next(
            (r for r in reversed(reviewer_decisions) if r.action is ReviewerAction.approve), None
        ),
        decisions=svc.store.decisions(case.id),
        today=datetime.now(UTC).date(),
        refused=[e for e in history if e.event_type == "case.resubmission_refused"],
        reviewers=(
            sorted({t.name for t in svc.tokens.list() if t.role in _DECIDERS and not t.revoked})
            if info.role is Role.admin
            else []
        ),
        service_level=service_level(case).label,
        now=datetime.now(UTC),
        due_text=due_text,
        reason_clauses=reason_clauses,
        pathway_labels={
            p.id: p.indication_label or p.phase.capitalize() for p in decision.pathways
        },
        notice=notice,
        notice_links=_notice_links(case),
        errors=errors or [],
        form=form or {},
    )


# Where a fact only the clinical record holds came from: a FHIR submission puts there the answers
# to its DTR questions, or the laboratory's Observation when one states it (which comes first).
_RECORD_SOURCE = "DTR answer (or the FHIR Observation stating it)"


def _record_facts(case: Case, decision: Decision) -> list[tuple[str, str, str]]:
    """The facts only the clinical record holds that the decision read, for a case decided on
    its record: (the catalogue's label, the value with its unit, where it came from)."""
    if case.record_json is None:
        return []
    read: dict[str, Any] = {}
    for pathway in decision.pathways:
        if pathway.criteria is not None:
            _facts_read(pathway.criteria, read)
    shown = []
    for fact, value in read.items():
        spec = fact_spec(fact)
        if spec is None or spec.request_field or value is None:
            continue
        unit = f" {spec.unit}" if spec.unit and spec.unit != "1" else ""
        shown.append((spec.label, f"{value}{unit}", _RECORD_SOURCE))
    return shown


def _facts_read(criterion: Criterion, into: dict[str, Any]) -> None:
    into.update(criterion.get("facts") or {})
    for child in criterion.get("children") or []:
        _facts_read(child, into)


def _notice_links(case: Case) -> list[tuple[str, str]]:
    """The case page's links to its notices: (label, URL); none while no notice exists."""
    if case.status not in _NOTICE_STATUSES:
        return []
    base = f"/review/cases/{quote(case.id)}/notice"
    return [
        (f"{who.capitalize()} notice ({fmt.upper()})", f"{base}?audience={who}&format={fmt}")
        for who in AUDIENCES
        for fmt in FORMATS
    ]


_NOTICE_STATUSES = frozenset(
    {CaseStatus.approved, CaseStatus.denied, CaseStatus.pending_information}
)


@router.post("/cases/{case_id}/decide")
async def decide(request: Request, case_id: str) -> Response:
    info, session = _reviewer(request)
    svc = app_services(request)
    form = await _form(request)
    if not hmac.compare_digest(_first(form, "csrf"), _csrf(session)):
        return _expired(request, svc, info, session, case_id)
    raw_action = _first(form, "action")
    reason = _first(form, "reason")
    clauses = [c for c in form.get("clauses", []) if c.strip()]
    extra = _first(form, "extra_clause").strip()
    if extra:
        clauses.append(extra)
    try:
        if raw_action not in ReviewerAction.__members__:
            raise RequestError(
                [FieldError("action", "Choose an action: approve, deny or request information.")]
            )
        action = ReviewerAction(raw_action)
        svc.store.record_reviewer_action(
            case_id,
            action,
            reason,
            actor=info.actor(),
            clauses=clauses,
            seen_decisions=_decision_count(_first(form, "decision_count")),
            authorize=partial(reviewer_authorization, svc.registry),
        )
    except RequestError as exc:
        problems = [f"{e.field}: {e.problem}" for e in exc.errors]
        return _case_page(
            request, svc, info, session, case_id, errors=problems, form=form, status_code=422
        )
    except CaseConflict as exc:
        return _case_page(
            request, svc, info, session, case_id, errors=[str(exc)], form=form, status_code=409
        )
    svc.metrics.reviewer_actions.labels(action.value).inc()
    return RedirectResponse(f"/review/cases/{case_id}?done={action.value}", status_code=303)


@router.post("/cases/{case_id}/assignment")
async def assignment(request: Request, case_id: str) -> Response:
    """Claim (``do=claim``), release (``do=release``) or, for an admin, reassign
    (``do=reassign`` with ``reviewer``: a name, or empty for no one)."""
    info, session = _reviewer(request)
    svc = app_services(request)
    form = await _form(request)
    if not hmac.compare_digest(_first(form, "csrf"), _csrf(session)):
        return _expired(request, svc, info, session, case_id)
    verb, actor = _first(form, "do"), info.actor()
    try:
        if verb == "claim":
            await run_in_threadpool(svc.store.claim, case_id, actor=actor)
        elif verb == "release":
            await run_in_threadpool(svc.store.release, case_id, actor=actor)
        elif verb == "reassign":
            to = _first(form, "reviewer").strip() or None
            await run_in_threadpool(svc.store.reassign, case_id, to, actor=actor)
        else:
            raise RequestError([FieldError("do", "claim, release or reassign")])
    except RequestError as exc:
        problems = [f"{e.field}: {e.problem}" for e in exc.errors]
        return _case_page(request, svc, info, session, case_id, errors=problems, status_code=422)
    except CaseConflict as exc:
        return _case_page(request, svc, info, session, case_id, errors=[str(exc)], status_code=409)
    except PermissionError as exc:
        return _case_page(request, svc, info, session, case_id, errors=[str(exc)], status_code=403)
    return RedirectResponse(f"/review/cases/{case_id}?done={verb}", status_code=303)


def _decision_count(value: str) -> int | None:
    """The form's decision_count: None when absent (the store requires it to approve or deny),
    else a whole number; anything else is an error, never ignored."""
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) <= 6):
        raise RequestError([FieldError("decision_count", "must be a whole number")])
    return int(value)


def due_text(due: datetime, now: datetime) -> str:
    """'due in 2 d 4 h' / 'overdue by 3 h', to the hour."""
    delta = due - now
    late = delta < timedelta(0)
    hours = int(abs(delta).total_seconds() // 3600)
    span = f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"
    if hours == 0:
        span = f"{int(abs(delta).total_seconds() // 60)} min"
    return f"overdue by {span}" if late else f"due in {span}"
