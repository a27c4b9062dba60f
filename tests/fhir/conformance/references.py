"""Reference resolution in a Bundle, as the Da Vinci PAS test kit checks it.

Written from a reading of the kit's ``PasBundleValidation`` (``check_presence_of_referenced_
resources``, ``extract_base_url``, ``absolute_url``; inferno-framework/davinci-pas-test-kit,
``lib/davinci_pas_test_kit/cross_suite/pas_bundle_validation.rb``), not copied from it:

- one base URL for the whole Bundle: scheme, host and path less its last two segments, taken from
  the *first* entry's fullUrl for a request Bundle and the *last* entry's for a response Bundle
  (the port is dropped, as the kit's ``"#{scheme}://#{host}#{path}"`` drops it);
- a reference that is ``urn:uuid:`` or an absolute URI is used as it is, any other is
  ``<base>/<reference>``;
- starting from the first entry's resource, every ``Reference.reference`` found must match the
  fullUrl of exactly one entry, and the resource it matches is walked in turn;
- ``ClaimResponse.request`` is not followed (the response Bundle need not carry the Claim), nor,
  past the first Claim, ``Claim.related``.

``fhir_unresolved`` is the stricter base-FHIR reading over *every* entry (R4 Bundle §
"Resolving references in Bundles": relative to the entry's own fullUrl), so that a Bundle is
clean only if both agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

__all__ = ["fhir_unresolved", "kit_unresolved"]


def base_url(full_url: Any) -> str:
    if not isinstance(full_url, str) or not full_url:
        return ""
    parts = urlsplit(full_url)
    if not parts.scheme or not parts.hostname:
        return ""
    path = "/".join(parts.path.split("/")[:-2])
    return f"{parts.scheme}://{parts.hostname}{path}"


def _absolute(reference: str, base: str) -> str:
    if not base or reference.startswith("urn:uuid:") or urlsplit(reference).scheme:
        return reference
    return f"{base}/{reference}"


def _references(node: Any, resource_type: str, *, skip_related: bool) -> Iterator[str]:
    """Every Reference.reference under a resource, in document order (contained refs aside)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if resource_type == "ClaimResponse" and key == "request":
                continue
            if skip_related and resource_type == "Claim" and key == "related":
                continue
            if key == "reference" and isinstance(value, str):
                if not value.startswith("#"):
                    yield value
            elif key not in ("resourceType", "text", "contained"):
                yield from _references(value, resource_type, skip_related=skip_related)
    elif isinstance(node, list):
        for value in node:
            yield from _references(value, resource_type, skip_related=skip_related)


def kit_unresolved(bundle: dict[str, Any], *, response: bool) -> list[str]:
    """The kit's messages: each reference that does not match exactly one entry's fullUrl."""
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict)]
    if not entries:
        return ["the Bundle has no entries"]
    base = base_url(entries[-1 if response else 0].get("fullUrl"))
    problems: list[str] = []
    seen: set[int] = set()

    def walk(resource: Any, skip_related: bool) -> None:
        if not isinstance(resource, dict) or id(resource) in seen:
            return
        seen.add(id(resource))
        kind = str(resource.get("resourceType", ""))
        for ref in _references(resource, kind, skip_related=skip_related):
            target = _absolute(ref, base)
            found = [e for e in entries if e.get("fullUrl") == target]
            if len(found) != 1:
                problems.append(
                    f"The referenced {target} resource SHALL appear exactly once in the Bundle, "
                    f"but found {len(found)}."
                )
            if found:
                walk(found[0].get("resource"), True)

    walk(entries[0].get("resource"), False)
    return problems


def fhir_unresolved(bundle: dict[str, Any]) -> list[str]:
    """Every reference of every entry, resolved as base FHIR R4 resolves it in a Bundle."""
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict)]
    urls = [e.get("fullUrl") for e in entries]
    problems = []
    for i, entry in enumerate(entries):
        resource = entry.get("resource")
        kind = str(resource.get("resourceType", "")) if isinstance(resource, dict) else ""
        for ref in _references(resource, "", skip_related=False):
            target = _absolute(ref, base_url(entry.get("fullUrl")))
            if urls.count(target) != 1:
                problems.append(f"entry[{i}] {kind}: {ref} -> {target} ({urls.count(target)})")
    return problems
