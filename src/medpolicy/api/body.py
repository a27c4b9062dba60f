"""Reading a request body: only the media types a route declares, only UTF-8, only strict JSON.

Every route that reads a body goes through ``json_body`` (or ``check_media_type`` for forms), so
a body is never read as something it does not say it is: anything else is a 415 naming
``Content-Type``, and the JSON itself is read by ``medpolicy.strict_json`` (a 400 on ``(body)``
for what it refuses).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from medpolicy.adapters.native import decode_json
from medpolicy.api.errors import ApiError

__all__ = [
    "FHIR_TYPES",
    "FORM_TYPES",
    "JSON_TYPES",
    "MERGE_PATCH_TYPES",
    "check_media_type",
    "json_body",
]

JSON_TYPES = ("application/json",)
FHIR_TYPES = ("application/fhir+json", "application/json")
MERGE_PATCH_TYPES = ("application/merge-patch+json", "application/json")
FORM_TYPES = ("application/x-www-form-urlencoded",)

_UTF8 = ("utf-8", "utf8")


def check_media_type(request: Request, accepted: tuple[str, ...]) -> None:
    """415 unless the body's Content-Type is one of ``accepted`` (in UTF-8, if it names a
    charset at all)."""
    raw = request.headers.get("content-type")
    media, _, parameters = (raw or "").partition(";")
    wanted = " or ".join(accepted)
    if media.strip().lower() not in accepted:
        got = f"got {raw[:80]!r}" if raw else "none was given"
        raise ApiError(415, "Content-Type", f"send the body as {wanted} ({got})")
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            raise ApiError(
                415, "Content-Type", f"only UTF-8 is read (got charset={value.strip()[:40]})"
            )


async def json_body(request: Request, accepted: tuple[str, ...] = JSON_TYPES) -> Any:
    """The body's JSON value, after ``check_media_type``."""
    check_media_type(request, accepted)
    return decode_json(await request.body())
