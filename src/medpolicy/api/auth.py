"""Bearer-token access control: who is calling, and may they see this case.

API clients send ``Authorization: Bearer <token>``; the reviewer web app signs in with a token and
then sends only a server-side session's id, in an HttpOnly cookie (``medpolicy.store.sessions``).
A provider token carries its organization and sees only that organization's cases.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from medpolicy.api.errors import ApiError
from medpolicy.api.state import Services, services
from medpolicy.store import CaseSummary, Role, TokenInfo

__all__ = [
    "COOKIE",
    "Caller",
    "apply_organization",
    "authenticate",
    "bearer_token",
    "check_case_access",
    "require",
]

COOKIE = "medpolicy_session"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="medpolicy"'}


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        return value.strip() if scheme.lower() == "bearer" and value.strip() else ""
    return None


async def authenticate(request: Request, svc: Annotated[Services, Depends(services)]) -> TokenInfo:
    # async: a sync dependency would cost a worker-thread round trip on every request; the lookup
    # is an in-memory cache hit almost always, else one indexed query.
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "Authorization", "a bearer token is required", _CHALLENGE)
    info = svc.tokens.authenticate(token) if token else None
    if info is None:
        raise ApiError(401, "Authorization", "the bearer token is not valid", _CHALLENGE)
    return info


Caller = Annotated[TokenInfo, Depends(authenticate)]


def require(caller: TokenInfo, *roles: Role) -> None:
    if caller.role not in roles and caller.role is not Role.admin:
        allowed = " or ".join(r.value for r in roles)
        raise ApiError(403, "Authorization", f"this needs a {allowed} token")


def check_case_access(caller: TokenInfo, case: CaseSummary) -> None:
    """A provider may only see its own organization's cases."""
    if caller.role is Role.provider and case.organization != caller.organization:
        raise ApiError(403, "Authorization", "this case belongs to another organization")


def apply_organization(caller: TokenInfo, data: dict[str, Any]) -> None:
    """A provider's request is for its own organization: set it when absent, refuse another."""
    if caller.role is not Role.provider:
        return
    member = data.get("member")
    if not isinstance(member, dict):
        return
    organization = member.get("organization")
    if organization is None:
        member["organization"] = caller.organization
    elif organization != caller.organization:
        raise ApiError(
            403, "member.organization", "a provider token may only submit for its own organization"
        )
