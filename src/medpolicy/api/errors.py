"""Every error the API returns is JSON naming the field(s): ``{"errors": [{field, problem}]}``;
on the FHIR and CDS Hooks routes the same errors are an OperationOutcome, each issue's
``expression`` naming the field.

Bad input is never a 500: request-model validation, engine ``RequestError``s, store conflicts and
HTTP errors are all turned into this one shape. An error body is bounded: at most ``MAX_ERRORS``
problems (then one saying how many more), each field and problem cut to a few hundred characters,
so a request with 150,000 bad items gets a short answer, not a 25 MB one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import orjson
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from medpolicy.adapters.fhir.operation_outcome import OutcomeIssue, operation_outcome
from medpolicy.adapters.native import field_path
from medpolicy.errors import BodyError, FieldError, RequestError
from medpolicy.store import (
    CaseAssigned,
    CaseConflict,
    CaseNotFound,
    IdempotencyConflict,
    StoreUnavailable,
)

__all__ = [
    "MAX_ERRORS",
    "ApiError",
    "bounded",
    "error_response",
    "fhir_surface",
    "install_error_handlers",
    "surface_error_response",
]

log = logging.getLogger("medpolicy.api")

MAX_ERRORS = 50
_MAX_FIELD = 200
_MAX_PROBLEM = 500
FHIR_JSON = "application/fhir+json"


class ApiError(HTTPException):
    """An HTTP error naming the field it concerns."""

    def __init__(
        self, status_code: int, field: str, problem: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=problem, headers=headers)
        self.field = field
        self.problem = problem


def _cut(text: str, limit: int) -> str:
    """``text`` at most ``limit`` characters long, and writable as UTF-8 (a lone surrogate
    echoed from the input is shown escaped)."""
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def bounded(errors: Sequence[FieldError]) -> list[FieldError]:
    """At most ``MAX_ERRORS`` errors, each cut short, then one counting those left out."""
    kept = [FieldError(_cut(e.field, _MAX_FIELD), _cut(e.problem, _MAX_PROBLEM)) for e in errors]
    if len(kept) <= MAX_ERRORS:
        return kept
    more = len(kept) - MAX_ERRORS + 1
    return [*kept[: MAX_ERRORS - 1], FieldError("(more)", f"{more} more problems not listed")]


def error_response(
    status_code: int, errors: Sequence[FieldError], headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"errors": [{"field": e.field, "problem": e.problem} for e in bounded(errors)]}
    return JSONResponse(body, status_code=status_code, headers=headers)


def fhir_surface(path: str) -> bool:
    """Routes whose errors are OperationOutcomes: FHIR, CDS Hooks, and DTR answers to a case."""
    return (
        path.startswith(("/fhir/", "/cds-services"))
        or path == "/fhir"
        or (path.startswith("/api/v1/cases/") and path.endswith("/questionnaire-response"))
    )


# FHIR IssueType for each status an error can have.
_ISSUE_CODES = {
    400: "structure",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    503: "transient",
}


def outcome_response(
    status_code: int, errors: Sequence[FieldError], headers: dict[str, str] | None = None
) -> Response:
    code = _ISSUE_CODES.get(status_code, "processing")
    issues = [OutcomeIssue("error", code, e.problem, e.field) for e in bounded(errors)]
    return Response(
        orjson.dumps(operation_outcome(issues)),
        status_code=status_code,
        media_type=FHIR_JSON,
        headers=headers,
    )


def surface_error_response(
    path: str,
    status_code: int,
    errors: Sequence[FieldError],
    headers: dict[str, str] | None = None,
) -> Response:
    """The error in the shape of the route's surface: an OperationOutcome on FHIR routes, else
    the API's ``{"errors": [...]}``."""
    if fhir_surface(path):
        return outcome_response(status_code, errors, headers)
    return error_response(status_code, errors, headers)


def request_error_status(exc: RequestError) -> int:
    """400 for a body that is not JSON at all, 413 for one too large, 422 for everything else."""
    if isinstance(exc, BodyError):
        return 400
    if any(e.field == "(body)" and e.problem.startswith("malformed JSON") for e in exc.errors):
        return 400
    if any(e.field == "(body)" and e.problem.startswith("larger than") for e in exc.errors):
        return 413
    return 422


_HTTP_FIELDS = {401: "Authorization", 403: "Authorization", 405: "(method)", 404: "(path)"}


def install_error_handlers(app: FastAPI) -> None:
    def answer(
        request: Request,
        status_code: int,
        errors: Sequence[FieldError],
        headers: dict[str, str] | None = None,
    ) -> Response:
        return surface_error_response(request.url.path, status_code, errors, headers)

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> Response:
        return answer(request, request_error_status(exc), exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = []
        for e in exc.errors():
            loc = list(e.get("loc", ()))
            where = loc[0] if loc else "body"
            path = field_path(loc[1:]) if len(loc) > 1 else "(body)"
            if where in ("header", "query", "path", "cookie") and len(loc) > 1:
                path = str(loc[1])
            problem = "required" if e.get("type") == "missing" else str(e.get("msg", "invalid"))
            if e.get("type") == "json_invalid":
                return answer(request, 400, [FieldError("(body)", f"malformed JSON: {problem}")])
            errors.append(FieldError(path, problem))
        return answer(request, 422, errors)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        return answer(request, exc.status_code, [FieldError(exc.field, exc.problem)], headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        field = _HTTP_FIELDS.get(exc.status_code, "(request)")
        headers = dict(exc.headers) if exc.headers else None
        return answer(request, exc.status_code, [FieldError(field, str(exc.detail))], headers)

    @app.exception_handler(CaseNotFound)
    async def _not_found(request: Request, exc: CaseNotFound) -> Response:
        return answer(request, 404, [FieldError("case_id", f"no case {exc.case_id}")])

    @app.exception_handler(CaseAssigned)
    async def _assigned(request: Request, exc: CaseAssigned) -> Response:
        return answer(request, 409, [FieldError("assigned_to", str(exc))])

    @app.exception_handler(CaseConflict)
    async def _conflict(request: Request, exc: CaseConflict) -> Response:
        return answer(request, 409, [FieldError("status", str(exc))])

    @app.exception_handler(PermissionError)
    async def _forbidden(request: Request, exc: PermissionError) -> Response:
        return answer(request, 403, [FieldError("Authorization", str(exc))])

    @app.exception_handler(OperationalError)
    async def _store_down(request: Request, exc: OperationalError) -> Response:
        # The driver's message can quote SQL parameters (member data): log only its class.
        log.error("case store unavailable: %s", type(exc.orig).__name__)
        problem = "the case store is unavailable; retry (with the same Idempotency-Key)"
        return answer(request, 503, [FieldError("(service)", problem)], {"Retry-After": "5"})

    @app.exception_handler(StoreUnavailable)
    async def _store_busy(request: Request, exc: StoreUnavailable) -> Response:
        log.error("case store unavailable: %s", exc)
        problem = f"the case store cannot take this now ({exc}); retry"
        return answer(request, 503, [FieldError("(service)", problem)], {"Retry-After": "5"})

    @app.exception_handler(PoolTimeout)
    async def _no_connection(request: Request, _: PoolTimeout) -> Response:
        log.error("case store unavailable: no database connection became free in time")
        problem = "the case store is overloaded; retry (with the same Idempotency-Key)"
        return answer(request, 503, [FieldError("(service)", problem)], {"Retry-After": "5"})

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> Response:
        # A value the database refuses (PostgreSQL cannot hold a NUL character in text): what
        # the service's own checks did not catch is still the caller's input, not a fault.
        log.warning("a value the case store refuses: %s", type(exc.orig).__name__)
        problem = "a value cannot be stored (e.g. text holding a NUL character)"
        return answer(request, 400, [FieldError("(request)", problem)])

    @app.exception_handler(IdempotencyConflict)
    async def _idempotency(request: Request, exc: IdempotencyConflict) -> Response:
        return answer(request, 409, [FieldError("Idempotency-Key", str(exc))])
