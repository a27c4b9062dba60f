"""Every error the API returns is JSON naming the field(s): ``{"errors": [{field, problem}]}``.

Bad input is never a 500: request-model validation, engine ``RequestError``s, store conflicts and
HTTP errors are all turned into this one shape.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from medpolicy.adapters.native import field_path
from medpolicy.errors import FieldError, RequestError
from medpolicy.store import CaseConflict, CaseNotFound, IdempotencyConflict

__all__ = ["ApiError", "error_response", "install_error_handlers"]

log = logging.getLogger("medpolicy.api")


class ApiError(HTTPException):
    """An HTTP error naming the field it concerns."""

    def __init__(
        self, status_code: int, field: str, problem: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=problem, headers=headers)
        self.field = field
        self.problem = problem


def error_response(
    status_code: int, errors: Sequence[FieldError], headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"errors": [{"field": e.field, "problem": e.problem} for e in errors]}
    return JSONResponse(body, status_code=status_code, headers=headers)


def request_error_status(exc: RequestError) -> int:
    """400 for a body that is not JSON at all, 413 for one too large, 422 for everything else."""
    if any(e.field == "(body)" and e.problem.startswith("malformed JSON") for e in exc.errors):
        return 400
    if any(e.field == "(body)" and e.problem.startswith("larger than") for e in exc.errors):
        return 413
    return 422


_HTTP_FIELDS = {401: "Authorization", 403: "Authorization", 405: "(method)", 404: "(path)"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return error_response(request_error_status(exc), exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for e in exc.errors():
            loc = list(e.get("loc", ()))
            where = loc[0] if loc else "body"
            path = field_path(loc[1:]) if len(loc) > 1 else "(body)"
            if where in ("header", "query", "path", "cookie") and len(loc) > 1:
                path = str(loc[1])
            problem = "required" if e.get("type") == "missing" else str(e.get("msg", "invalid"))
            if e.get("type") == "json_invalid":
                return error_response(400, [FieldError("(body)", f"malformed JSON: {problem}")])
            errors.append(FieldError(path, problem))
        return error_response(422, errors)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, [FieldError(exc.field, exc.problem)], headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        field = _HTTP_FIELDS.get(exc.status_code, "(request)")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, [FieldError(field, str(exc.detail))], headers)

    @app.exception_handler(CaseNotFound)
    async def _not_found(_: Request, exc: CaseNotFound) -> JSONResponse:
        return error_response(404, [FieldError("case_id", f"no case {exc.case_id}")])

    @app.exception_handler(CaseConflict)
    async def _conflict(_: Request, exc: CaseConflict) -> JSONResponse:
        return error_response(409, [FieldError("status", str(exc))])

    @app.exception_handler(PermissionError)
    async def _forbidden(_: Request, exc: PermissionError) -> JSONResponse:
        return error_response(403, [FieldError("Authorization", str(exc))])

    @app.exception_handler(OperationalError)
    async def _store_down(_: Request, exc: OperationalError) -> JSONResponse:
        # The driver's message can quote SQL parameters (member data): log only its class.
        log.error("case store unavailable: %s", type(exc.orig).__name__)
        problem = "the case store is unavailable; retry (with the same Idempotency-Key)"
        return error_response(503, [FieldError("(service)", problem)], {"Retry-After": "5"})

    @app.exception_handler(IdempotencyConflict)
    async def _idempotency(_: Request, exc: IdempotencyConflict) -> JSONResponse:
        return error_response(409, [FieldError("Idempotency-Key", str(exc))])
