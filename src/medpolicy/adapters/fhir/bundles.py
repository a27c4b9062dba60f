"""The one place that names the entries of every Bundle the service emits and the references
between them.

A reference is written as the *fullUrl of the entry it points to*, never relative: it then
resolves to exactly one entry under every reading of a Bundle (base FHIR R4 resolves a relative
reference against its own entry's fullUrl; the Da Vinci PAS test kit against one base taken from
the first or last entry). What the service makes gets a ``urn:uuid:`` fullUrl, stable for the
same response id, type and id: nothing here answers a RESTful read of a ClaimResponse or a
CommunicationRequest, so a server URL would be a link to nothing. A resource echoed from the
request keeps the fullUrl it came with (PAS: "the same fullUrl and resource identifiers"), and
brings every resource it references, so the Bundle is closed under its references. Something the
request sent only as a logical reference (an identifier, a display) stays logical.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from medpolicy.adapters.fhir.resources import Located, ResourceIndex

__all__ = ["BundleBuilder", "logical_reference", "references_in"]

JSON = dict[str, Any]


def references_in(node: Any) -> Iterator[str]:
    """Every ``Reference.reference`` under an element (local ``#id`` ones aside)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                if not value.startswith("#"):
                    yield value
            elif key not in ("text", "contained"):
                yield from references_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from references_in(value)


def logical_reference(reference: Any, fallback: str) -> JSON:
    """A Reference without a literal target: its type, identifier and display, as sent."""
    kept = {
        k: v
        for k, v in (reference if isinstance(reference, dict) else {}).items()
        if k in ("type", "identifier", "display")
    }
    return kept or {"display": fallback}


class BundleBuilder:
    """Entries in the order added (the focal resource first), each with its fullUrl.

    ``namespace`` makes the urn:uuids of one response distinct from another's and stable within
    it: the same response id gives the same Bundle.
    """

    def __init__(self, namespace: str, request: JSON | None = None) -> None:
        self._namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"medpolicy:{namespace}")
        self._request = request or {}
        self._index = ResourceIndex.from_bundle(self._request) if request else None
        self._made: list[JSON] = []
        self._echoed: list[JSON] = []
        self._urls: dict[int, str] = {}  # id(resource) -> its fullUrl in this Bundle

    # -- naming ------------------------------------------------------------------------------

    def url_for_new(self, resource_type: str, resource_id: str) -> str:
        return f"urn:uuid:{uuid.uuid5(self._namespace, f'{resource_type}/{resource_id}')}"

    def reference_to_new(self, resource_type: str, resource_id: str) -> JSON:
        """The reference to a resource this response makes (added later with ``add``)."""
        return {"reference": self.url_for_new(resource_type, resource_id)}

    def reference(self, target: Located, sent: Any = None) -> JSON:
        """The reference to an echoed resource, its display kept when the request gave one."""
        out: JSON = {"reference": self._urls[id(target.resource)]}
        if isinstance(sent, dict) and isinstance(sent.get("display"), str):
            out["display"] = sent["display"]
        return out

    # -- entries -----------------------------------------------------------------------------

    def add(self, resource: JSON, url: str | None = None) -> str:
        """A resource this response makes: its fullUrl is ``url`` when the service answers a
        read there (a RESTful URL), else a urn:uuid."""
        url = url or self.url_for_new(str(resource["resourceType"]), str(resource.get("id", "")))
        self._made.append({"fullUrl": url, "resource": resource})
        self._urls[id(resource)] = url
        return url

    def echo(self, reference: Any, within: Located) -> JSON:
        """The request's resource a Reference names, echoed with everything it references; the
        reference to write in its place (logical when it cannot be echoed whole)."""
        target = self._index.resolve(reference, within) if self._index is not None else None
        if target is None or not self._echo_closed(target):
            return logical_reference(reference, "not in the submission")
        return self.reference(target, reference)

    def _echo_closed(self, target: Located) -> bool:
        """Echo the target and its references' targets, transitively; False (nothing added)
        when one of them is not in the request."""
        pending: list[Located] = [target]
        found: list[Located] = []
        while pending:
            item = pending.pop()
            if id(item.resource) in self._urls or any(item is f for f in found):
                continue
            found.append(item)
            for ref in references_in(item.resource):
                assert self._index is not None
                inner = self._index.resolve(ref, item)
                if inner is None or ".contained[" in inner.path:
                    return False
                pending.append(inner)
        for item in found:
            if id(item.resource) not in self._urls:
                url = self._request_url(item) or self.url_for_new(item.type, item.id or "")
                self._echoed.append({"fullUrl": url, "resource": item.resource})
                self._urls[id(item.resource)] = url
        return True

    def _request_url(self, item: Located) -> str | None:
        for entry in self._request.get("entry") or []:
            if isinstance(entry, dict) and entry.get("resource") is item.resource:
                url = entry.get("fullUrl")
                return url if isinstance(url, str) and url else None
        return None

    def bundle(self, first: JSON, **fields: Any) -> JSON:
        """The Bundle: ``first`` (already added), what the response made, then what it echoes
        (last, so a reader that takes one base URL from the last entry takes the request's)."""
        made = sorted(self._made, key=lambda e: e["resource"] is not first)
        return {"resourceType": "Bundle", **fields, "entry": [*made, *self._echoed]}
