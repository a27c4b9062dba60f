"""The routes every submission takes, served without FastAPI's routing and dependency machinery.

``POST /api/v1/cases`` and ``POST /api/v1/evaluate`` take no path or query parameters and resolve
no dependencies, yet FastAPI's per-request work (middleware layers, route matching, dependency
resolution, exit stacks) cost 66 us a request in-process, against 15 us served here: a tenth of
what a durable submission costs the server in all. ``DirectRoutes`` calls the very endpoint
functions FastAPI has registered (their registration still writes the OpenAPI), and hands their
exceptions to the app's own exception handlers, so a response is the same either way (a test
holds the two equal, error by error). Everything else goes on to FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DirectRoutes"]

Endpoint = Callable[[Request], Awaitable[Response]]
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


class DirectRoutes:
    """``endpoints``: routes of ``router``, which ``fastapi`` includes without a further prefix."""

    def __init__(
        self, app: ASGIApp, fastapi: FastAPI, router: APIRouter, endpoints: Iterable[Endpoint]
    ) -> None:
        self.app = app
        self._fastapi = fastapi
        wanted = set(endpoints)
        self._routes: dict[tuple[str, str], Endpoint] = {
            (method, route.path): route.endpoint
            for route in router.routes
            if isinstance(route, APIRoute) and route.endpoint in wanted
            for method in route.methods or ()
        }
        missing = wanted - set(self._routes.values())
        if missing:
            raise ValueError(f"not routes of this router: {sorted(e.__name__ for e in missing)}")

    @property
    def routes(self) -> list[tuple[str, str]]:
        """(method, path) of every route served here."""
        return sorted(self._routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self._routes.get((scope.get("method", ""), scope.get("path", "")))
        if endpoint is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise  # the server-error layer outside answers 500, as for any route
            answer = handler(request, exc)
            response = answer if isinstance(answer, Response) else await answer
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Handler | None:
        """The app's handler for ``exc``, looked up along its class's MRO as Starlette does."""
        handlers: dict[Any, Handler] = self._fastapi.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers and cls is not Exception:
                return handlers[cls]
        return None
