"""Reading FHIR JSON: resources located by FHIRPath, references resolved, codings and values read.

The adapters read plain JSON rather than parsed models, so messy real-world data (older mCODE
profiles, a stray element) does not stop the facts that *can* be read; each resource keeps the
FHIRPath expression of where it sits, so anything reported points at the element concerned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "Coding",
    "Located",
    "ResourceIndex",
    "as_list",
    "codings",
    "parse_date",
    "parse_datetime",
    "to_decimal",
]

JSON = dict[str, Any]


@dataclass(frozen=True)
class Located:
    """A resource and the FHIRPath expression of where it sits in what was sent."""

    resource: JSON
    path: str

    @property
    def type(self) -> str:
        return str(self.resource.get("resourceType", ""))

    @property
    def id(self) -> str | None:
        rid = self.resource.get("id")
        return rid if isinstance(rid, str) else None

    def at(self, *parts: str | int) -> str:
        """The expression of an element under this resource: ``at("code", "coding", 0)``."""
        out = self.path
        for part in parts:
            out += f"[{part}]" if isinstance(part, int) else f".{part}"
        return out


@dataclass(frozen=True)
class Coding:
    system: str | None
    code: str | None
    display: str | None
    path: str


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def codings(concept: Any, path: str) -> list[Coding]:
    """The codings of a CodeableConcept (or a bare Coding), each with its own expression."""
    if not isinstance(concept, dict):
        return []
    if "coding" not in concept and ("code" in concept or "system" in concept):
        return [_coding(concept, path)]
    return [
        _coding(c, f"{path}.coding[{i}]")
        for i, c in enumerate(as_list(concept.get("coding")))
        if isinstance(c, dict)
    ]


def _coding(c: JSON, path: str) -> Coding:
    def text(key: str) -> str | None:
        v = c.get(key)
        return v.strip() if isinstance(v, str) and v.strip() else None

    return Coding(text("system"), text("code"), text("display"), path)


def concept_text(concept: Any) -> str | None:
    if isinstance(concept, dict) and isinstance(concept.get("text"), str):
        return str(concept["text"]).strip() or None
    return None


def parse_date(value: Any) -> date | None:
    """The date part of a FHIR date or dateTime; None for partial dates (a year, a month)."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        day = parse_date(value)
        return datetime(day.year, day.month, day.day) if day else None


def to_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def effective_date(resource: JSON) -> date | None:
    """When an observation or condition holds: effective[x], else issued / recordedDate."""
    for key in (
        "effectiveDateTime",
        "effectiveInstant",
        "onsetDateTime",
        "issued",
        "recordedDate",
        "dateAsserted",
        "authoredOn",
    ):
        found = parse_date(resource.get(key))
        if found:
            return found
    for key in ("effectivePeriod", "onsetPeriod"):
        period = resource.get(key)
        if isinstance(period, dict):
            found = parse_date(period.get("start")) or parse_date(period.get("end"))
            if found:
                return found
    return None


class ResourceIndex:
    """Every resource sent, findable by type and by reference (relative, absolute or urn:uuid)."""

    def __init__(self, located: Iterable[Located]) -> None:
        self.items = [x for x in located if x.type]
        self._by_key: dict[str, Located] = {}
        for item in self.items:
            # Contained resources are local to their container: reachable only through "#id".
            if item.id and ".contained[" not in item.path:
                self._by_key.setdefault(f"{item.type}/{item.id}", item)

    def add_urls(self, pairs: Iterable[tuple[str, Located]]) -> None:
        for url, item in pairs:
            self._by_key.setdefault(url, item)

    @classmethod
    def from_bundle(cls, bundle: JSON, path: str = "Bundle") -> ResourceIndex:
        located, urls = list(_bundle_entries(bundle, path)), []
        for i, entry in enumerate(as_list(bundle.get("entry"))):
            if isinstance(entry, dict) and isinstance(entry.get("fullUrl"), str):
                resource = entry.get("resource")
                if isinstance(resource, dict):
                    urls.append(
                        (entry["fullUrl"], Located(resource, f"{path}.entry[{i}].resource"))
                    )
        index = cls(located)
        index.add_urls(urls)
        return index

    @classmethod
    def from_parts(cls, parts: Iterable[tuple[Any, str]]) -> ResourceIndex:
        """One index over several resources and Bundles, each at its own expression (a CDS Hooks
        request's prefetch entries and draft orders)."""
        located: list[Located] = []
        urls: list[tuple[str, Located]] = []
        for value, path in parts:
            if not isinstance(value, dict):
                continue
            if value.get("resourceType") == "Bundle":
                inner = cls.from_bundle(value, path)
                located += inner.items
                urls += [(k, v) for k, v in inner._by_key.items() if ":" in k]
            elif value.get("resourceType"):
                located.append(Located(value, path))
        index = cls(located)
        index.add_urls(urls)
        return index

    def without(self, paths: set[str]) -> ResourceIndex:
        """The same index less the resources at these expressions (and what they contain)."""

        def gone(item: Located) -> bool:
            return any(item.path == p or item.path.startswith(f"{p}.contained[") for p in paths)

        index = ResourceIndex(x for x in self.items if not gone(x))
        index.add_urls((k, v) for k, v in self._by_key.items() if ":" in k and not gone(v))
        return index

    def of_type(self, *types: str) -> list[Located]:
        return [x for x in self.items if x.type in types]

    def resolve(self, reference: Any, within: Located | None = None) -> Located | None:
        """The resource a Reference points to: contained (#id), by key or by full URL."""
        ref = reference.get("reference") if isinstance(reference, dict) else reference
        if not isinstance(ref, str) or not ref:
            return None
        if ref.startswith("#") and within is not None:
            for i, res in enumerate(as_list(within.resource.get("contained"))):
                if isinstance(res, dict) and res.get("id") == ref[1:]:
                    return Located(res, within.at("contained", i))
            return None
        if ref in self._by_key:
            return self._by_key[ref]
        tail = "/".join(ref.split("/_history")[0].rstrip("/").split("/")[-2:])
        return self._by_key.get(tail)


def _bundle_entries(bundle: JSON, path: str) -> Iterator[Located]:
    for i, entry in enumerate(as_list(bundle.get("entry"))):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            continue
        here = f"{path}.entry[{i}].resource"
        yield Located(resource, here)
        for j, inner in enumerate(as_list(resource.get("contained"))):
            if isinstance(inner, dict):
                yield Located(inner, f"{here}.contained[{j}]")
