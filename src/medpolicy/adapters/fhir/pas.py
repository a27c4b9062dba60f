"""PAS request Bundle -> one engine request per Claim item this payer's policies cover.

After ``pas_check`` has accepted the Bundle, each Claim item is classified by its code (HCPCS,
or the RxNorm / NDC code of the MedicationRequest its requestedService extension names): an item a
policy covers becomes a ``Request`` through ``to_request``; any other item is answered as not
covered by these policies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from medpolicy.adapters.fhir import codes as c
from medpolicy.adapters.fhir.draft import AdapterIssue
from medpolicy.adapters.fhir.medications import DrugMatch, identify, medication_concept
from medpolicy.adapters.fhir.pas_check import check_bundle
from medpolicy.adapters.fhir.resources import (
    Located,
    ResourceIndex,
    as_list,
    codings,
    parse_date,
    parse_datetime,
)
from medpolicy.adapters.fhir.to_request import AdaptedRequest, OrderContext, to_request

__all__ = ["Covers", "PasItem", "PasSubmission", "claim_identifier", "read_submission"]

EXT = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/extension-"
Covers = Callable[[str, date], bool]


@dataclass(frozen=True)
class PasItem:
    sequence: int
    path: str
    product: str  # what was requested, in words, for notes
    hcpcs: str | None
    covered: bool  # a policy in the registry covers this code on the requested date
    adapted: AdaptedRequest | None


@dataclass(frozen=True)
class PasSubmission:
    bundle: dict[str, Any]
    index: ResourceIndex
    claim: Located
    items: tuple[PasItem, ...]


@dataclass(frozen=True)
class _Claimed:
    """What every item of one Claim shares."""

    index: ResourceIndex
    claim: Located
    created: datetime
    organization: str | None


def read_submission(data: Any, covers: Covers, organization: str | None = None) -> PasSubmission:
    """Raises ``PasRejected`` (every structural problem) before reading any item."""
    index, claim = check_bundle(data)
    created = parse_datetime(claim.resource["created"])
    assert created is not None  # checked by check_bundle
    shared = _Claimed(index, claim, created, organization)
    raw = [
        (i, item)
        for i, item in enumerate(as_list(claim.resource.get("item")))
        if isinstance(item, dict)
    ]
    found = [(i, item, _drug(index, claim, claim.at("item", i), item)) for i, item in raw]
    covered = {i for i, _, m in found if m.hcpcs and covers(m.hcpcs, created.date())}
    items = tuple(
        _item(shared, i, item, match, i in covered, len(covered) > 1) for i, item, match in found
    )
    return PasSubmission(data, index, claim, items)


def claim_identifier(claim: Located) -> str | None:
    for ident in as_list(claim.resource.get("identifier")):
        if isinstance(ident, dict) and isinstance(ident.get("value"), str):
            return str(ident["value"])
    return claim.id


def _requested(index: ResourceIndex, claim: Located, item: dict[str, Any]) -> Located | None:
    for ext in as_list(item.get("extension")):
        if isinstance(ext, dict) and ext.get("url") == f"{EXT}requestedService":
            return index.resolve(ext.get("valueReference"), claim)
    return None


def _ordered(index: ResourceIndex, order: Located) -> DrugMatch:
    if order.type == "MedicationRequest":
        return identify(*medication_concept(index, order))
    return identify(order.resource.get("code"), order.at("code"))


def _drug(index: ResourceIndex, claim: Located, path: str, item: dict[str, Any]) -> DrugMatch:
    """The item's own code, else (an X12 service type, say) the drug its requested order names."""
    match = identify(item.get("productOrService"), f"{path}.productOrService")
    order = _requested(index, claim, item)
    if order is not None and (not match.recognized or match.hcpcs is None):
        from_order = _ordered(index, order)
        if from_order.hcpcs:
            return from_order
    return match


def _substitution(shared: _Claimed, item: dict[str, Any], match: DrugMatch) -> AdapterIssue | None:
    """An item coded for one drug whose order names another (Kadcyla billed, trastuzumab
    ordered) is decided as coded, and flagged: the label forbids substituting one for the other."""
    order = _requested(shared.index, shared.claim, item)
    if order is None:
        return None
    ordered = _ordered(shared.index, order)
    if ordered.hcpcs is None or ordered.hcpcs == match.hcpcs:
        return None
    return AdapterIssue(
        order.path,
        "not-usable",
        f"the item is coded {match.hcpcs} but its order "
        f"names {ordered.name} ({ordered.hcpcs}); decided as coded, check for "
        "substitution",
    )


def _item(
    shared: _Claimed, i: int, item: dict[str, Any], match: DrugMatch, covered: bool, several: bool
) -> PasItem:
    path = shared.claim.at("item", i)
    sequence = item["sequence"] if isinstance(item.get("sequence"), int) else i + 1
    product = _product(item, match)
    if not covered:
        return PasItem(sequence, path, product, match.hcpcs, False, None)
    ident = claim_identifier(shared.claim) or "claim"
    if several:  # one request per covered item, and each needs its own id
        ident = f"{ident}/item-{sequence}"
    ctx = _context(shared, path, item, match, ident)
    adapted = to_request(shared.index, ctx)
    flagged = _substitution(shared, item, match)
    if flagged is not None:
        adapted = replace(adapted, issues=(flagged, *adapted.issues))
    return PasItem(sequence, path, product, match.hcpcs, True, adapted)


def _product(item: dict[str, Any], match: DrugMatch) -> str:
    codes = [
        f"{cd.code}" + (f" {cd.display}" if cd.display else "")
        for cd in codings(item.get("productOrService"), "")
        if cd.code
    ]
    shown = ", ".join(codes) or "no code"
    return f"{match.name}: {shown}" if match.hcpcs and match.name else shown


def _context(
    shared: _Claimed, path: str, item: dict[str, Any], match: DrugMatch, ident: str
) -> OrderContext:
    index, claim = shared.index, shared.claim
    order = _requested(index, claim, item)
    cert, cert_path = _certification(item, path)
    start, start_path = _serviced(item, path)
    return OrderContext(
        request_id=ident,
        request_id_source=claim.at("identifier"),
        submitted_at=shared.created,
        submitted_at_source=claim.at("created"),
        hcpcs=match.hcpcs or "",
        hcpcs_source=f"{path}.productOrService",
        drug_name=match.name,
        request_type=cert,
        request_type_source=cert_path,
        urgency=_urgency(claim.resource),
        urgency_source=claim.at("priority"),
        patient=index.resolve(claim.resource.get("patient"), claim),
        coverage=_coverage(index, claim),
        order=order
        if order is not None and order.type in ("MedicationRequest", "ServiceRequest")
        else None,
        start_date=start,
        start_date_source=start_path,
        stated=tuple(_diagnoses(claim, item, "diagnosisCodeableConcept")),
        stated_refs=tuple(
            (ref, p, claim) for ref, p in _diagnoses(claim, item, "diagnosisReference")
        ),
        not_history=frozenset({order.path}) if order is not None else frozenset(),
        organization=shared.organization,
    )


def _certification(item: dict[str, Any], path: str) -> tuple[Any, str]:
    for j, ext in enumerate(as_list(item.get("extension"))):
        if isinstance(ext, dict) and ext.get("url") == f"{EXT}certificationType":
            for cd in codings(
                ext.get("valueCodeableConcept"), f"{path}.extension[{j}].valueCodeableConcept"
            ):
                if c.is_system(cd.system, c.System.X12_CERTIFICATION_TYPE):
                    return c.CERTIFICATION_TYPE.get(cd.code or ""), cd.path
    return None, ""


def _serviced(item: dict[str, Any], path: str) -> tuple[str | None, str]:
    day = parse_date(item.get("servicedDate"))
    if day:
        return day.isoformat(), f"{path}.servicedDate"
    period = item.get("servicedPeriod")
    day = parse_date(period.get("start")) if isinstance(period, dict) else None
    return (day.isoformat(), f"{path}.servicedPeriod.start") if day else (None, "")


def _urgency(claim: dict[str, Any]) -> Any:
    for cd in codings(claim.get("priority"), ""):
        if cd.system == c.System.PROCESS_PRIORITY and cd.code:
            return "expedited" if cd.code == "stat" else "standard"
    return None


def _coverage(index: ResourceIndex, claim: Located) -> Located | None:
    insurance = [i for i in as_list(claim.resource.get("insurance")) if isinstance(i, dict)]
    focal = [i for i in insurance if i.get("focal")] or insurance
    return index.resolve(focal[0].get("coverage"), claim) if focal else None


def _diagnoses(claim: Located, item: dict[str, Any], key: str) -> list[tuple[Any, str]]:
    """The claim's diagnoses this item points at (all of them when it points at none)."""
    wanted = {s for s in as_list(item.get("diagnosisSequence")) if isinstance(s, int)}
    out = []
    for i, dx in enumerate(as_list(claim.resource.get("diagnosis"))):
        if isinstance(dx, dict) and dx.get(key) and (not wanted or dx.get("sequence") in wanted):
            out.append((dx[key], claim.at("diagnosis", i, key)))
    return out
