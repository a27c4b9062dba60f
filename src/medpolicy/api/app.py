"""The service: ``create_app(settings)`` builds the FastAPI app (REST API, reviewer web app,
metrics) over one policy registry and one case store, migrating the store on start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medpolicy import __version__
from medpolicy.api import fhir_routes, notice_routes
from medpolicy.api.direct import DirectRoutes
from medpolicy.api.errors import ApiError, install_error_handlers, surface_error_response
from medpolicy.api.metrics import CONTENT_TYPE, Metrics
from medpolicy.api.routes import DIRECT_ENDPOINTS, router
from medpolicy.api.schemas import request_components
from medpolicy.api.settings import Settings
from medpolicy.api.state import Services
from medpolicy.errors import FieldError
from medpolicy.notices import load_notice_settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.store import TokenStore, open_store
from medpolicy.store.sessions import SessionStore, SessionTimeouts

__all__ = ["create_app"]

DESCRIPTION = """\
Prior authorization for drugs under executable coverage guidelines (Kadcyla, HCPCS J9354).

Submit a request and the engine decides at once: **approved**, **missing_information** (pended,
naming the facts needed), **not_met** (routed to a clinician reviewer with the cited reasons; the
engine never denies) or **out_of_scope** (another program). Every decision names the policy id,
version and content hash and the engine version; every transition is recorded in a hash-chained
audit trail. Authenticate with `Authorization: Bearer <token>` (`medpolicy token create`).
Errors are JSON: `{"errors": [{"field": ..., "problem": ...}]}`.
"""


def create_app(
    settings: Settings | None = None, *, registry: PolicyRegistry | None = None
) -> FastAPI:
    """The app. ``registry`` may be passed in to share one loaded set of policies (tests)."""
    settings = settings or Settings()
    registry = registry or PolicyRegistry.load_dir(settings.policies_dir)
    store = open_store(
        settings.database_url,
        service_levels=settings.service_levels,
        sqlite_synchronous=settings.sqlite_synchronous,
        # While serving, SQLite checkpoints in the background rather than inside a request.
        sqlite_checkpoint_pages=16_000,
        lock_timeout=settings.lock_timeout,
        statement_timeout=settings.statement_timeout,
    )
    sessions = SessionStore(store, SessionTimeouts(settings.session_idle, settings.session_max))
    svc = Services(
        settings,
        registry,
        store,
        TokenStore(store),
        Metrics(store),
        sessions,
        load_notice_settings(settings.policies_dir),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        store.checkpoint_in_background()
        # Views recorded in the read spool while the store was locked: chained now if the
        # store can be written (else at the next view).
        store.reads.drain()
        yield
        store.close()

    app = FastAPI(
        title="medpolicy",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=[
            {"name": "cases", "description": "Submit, read and add information to cases."},
            {"name": "review", "description": "The reviewer work queue and reviewer decisions."},
            {"name": "decisions", "description": "What-if evaluation, stored nowhere."},
            {"name": "policies", "description": "The coverage policies in force."},
        ],
    )
    app.state.services = svc
    install_error_handlers(app)
    app.include_router(router)
    app.include_router(notice_routes.router)
    app.include_router(fhir_routes.router)
    _add_operational_routes(app, svc)
    _install_web(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    # Added first, so it sits inside the body limit (middleware added later wraps it).
    app.add_middleware(DirectRoutes, fastapi=app, router=router, endpoints=DIRECT_ENDPOINTS)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(NoNulCharacters)
    return app


def _install_web(app: FastAPI) -> None:
    from medpolicy.api.web.views import install

    install(app)


def _add_operational_routes(app: FastAPI, svc: Services) -> None:
    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(svc.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/health/live", tags=["operations"], summary="Liveness: the process answers")
    def live() -> dict[str, Any]:
        """Always 200 while the server answers at all (it touches nothing)."""
        return {"live": True, "version": __version__}

    @app.get(
        "/health",
        tags=["operations"],
        summary="Liveness and readiness: can this server commit a decision now?",
        responses={503: {"description": "Not ready: the store cannot take writes now."}},
    )
    async def health() -> Response:
        """Live (the process answers) and ready (the store can commit a write now: on SQLite
        its write lock can be taken and its files are usable, on PostgreSQL the server takes
        writes). 503 with Retry-After when not ready, so a load balancer sends work elsewhere.
        ``/health/ready`` is the same answer, ``/health/live`` liveness alone."""
        return await _readiness(svc)

    @app.get("/health/ready", tags=["operations"], summary="Readiness alone (as /health)")
    async def ready() -> Response:
        return await _readiness(svc)


async def _readiness(svc: Services) -> Response:
    ready, state = await run_in_threadpool(svc.store.readiness)
    body = {
        "status": "ok" if ready else "unavailable",
        "live": True,
        "ready": ready,
        "store": {"database": svc.store.engine.dialect.name, "state": state},
        "version": __version__,
        "policies": [f"{p.meta.id} {p.meta.version}" for p in svc.registry.all()],
    }
    headers = None if ready else {"Retry-After": "5"}
    return JSONResponse(body, status_code=200 if ready else 503, headers=headers)


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    schema.setdefault("components", {}).setdefault("schemas", {}).update(request_components())
    schema["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    schema["security"] = [{"bearer": []}]
    app.openapi_schema = schema
    return schema


class NoNulCharacters:
    """Refuse a path or query parameter holding a NUL character with 400, before any route.

    No identifier, case id or parameter value has one, and PostgreSQL cannot even compare text
    holding one (bodies are refused by ``strict_json``, forms by the web app's reader)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            field = _nul_field(scope.get("path", ""), scope.get("query_string", b""))
            if field is not None:
                problem = FieldError(field, "a NUL character is not allowed")
                response = surface_error_response(scope.get("path", ""), 400, [problem])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _nul_field(path: str, query: bytes) -> str | None:
    if "\x00" in path:
        return "(path)"
    if b"%00" not in query.lower() and b"\x00" not in query:
        return None
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if "\x00" in name or "\x00" in value:
            return name.replace("\x00", "") or "(query)"
    return "(query)"


class BodyLimit:
    """Refuse bodies over ``limit`` bytes with 413, by Content-Length or while streaming."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            problem = FieldError("(body)", f"larger than {self.limit} bytes")
            response = surface_error_response(scope.get("path", ""), 413, [problem])
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # Raised inside the app, so its error handlers turn it into the JSON 413.
                    raise ApiError(413, "(body)", f"larger than {self.limit} bytes")
            return message

        await self.app(scope, limited_receive, send)
