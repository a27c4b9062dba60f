"""The Da Vinci PAS, CRD and DTR profile rules the base-R4 validators cannot see, encoded by hand.

The IG packages are not in the registries these machines reach, so each rule here was read from
the published IG (its StructureDefinitions, value sets and invariants, versions 2.0.1, the ones
this service declares) or from the Inferno test kit's checks, and written as a small function.
Each rule names where it comes from. An invariant the IG states in FHIRPath is evaluated as the
IG wrote it, by fhirpathpy. ``RULES`` is the table; ``check(kind, instance)`` runs the rules for
one kind of instance and returns ``(rule id, message)`` for each one broken.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fhirpathpy import evaluate
from fhirpathpy.models import models

JSON = dict[str, Any]
PAS = "http://hl7.org/fhir/us/davinci-pas/StructureDefinition/"
CRD_TEMP = "http://hl7.org/fhir/us/davinci-crd/CodeSystem/temp"
COVERAGE_INFO = "http://hl7.org/fhir/us/davinci-crd/StructureDefinition/ext-coverage-information"
X12_306 = "https://codesystem.x12.org/005010/306"
X12_755 = "https://codesystem.x12.org/005010/755"
X12_886 = "https://codesystem.x12.org/external/886"


@dataclass(frozen=True)
class Rule:
    id: str
    kind: str  # what it applies to: pas-response-bundle, claimresponse, coverage-information...
    source: str  # the IG (or test kit) and the element, invariant or section it comes from
    check: Callable[[JSON], Iterator[str]]


def _fhirpath(instance: JSON, expression: str) -> bool:
    result = evaluate(instance, expression, {}, model=models["r4"])
    return result == [True]


def _ext(node: JSON, url: str) -> list[JSON]:
    return [e for e in node.get("extension") or [] if e.get("url") == url]


def _value(ext: JSON) -> Any:
    return next((v for k, v in ext.items() if k.startswith("value")), None)


# -- PAS 2.0.1 -------------------------------------------------------------------------------

_URL = re.compile(r"^https?://[^\s/]+(/[^\s]*)?$")
_URN_UUID = re.compile(
    r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", re.I
)


def _pas_bundle(first: str) -> Callable[[JSON], Iterator[str]]:
    def rule(bundle: JSON) -> Iterator[str]:
        entries = bundle.get("entry") or []
        if bundle.get("type") != "collection":
            yield f"Bundle.type is {bundle.get('type')!r}, fixed to collection"
        if not entries:
            yield "Bundle.entry 1..*"
        elif (entries[0].get("resource") or {}).get("resourceType") != first:
            yield f"the first entry must be a {first}"
        kinds = [(e.get("resource") or {}).get("resourceType") for e in entries]
        if first == "ClaimResponse" and kinds.count(first) != 1:
            yield f"entry:ClaimResponse 1..1 (found {kinds.count(first)})"
        for i, e in enumerate(entries):
            if not e.get("fullUrl") or not e.get("resource"):
                yield f"entry[{i}] needs fullUrl and resource (1..1 each)"
            if any(k in e for k in ("request", "response", "search")):
                yield f"entry[{i}] has request/response/search (0..0 in a PAS Bundle)"

    return rule


def _pas_timestamp(bundle: JSON) -> Iterator[str]:
    if not bundle.get("timestamp"):
        yield "Bundle.timestamp 1..1"


def _full_urls(bundle: JSON) -> Iterator[str]:
    for i, e in enumerate(bundle.get("entry") or []):
        url = e.get("fullUrl")
        if not (isinstance(url, str) and (_URL.match(url) or _URN_UUID.match(url))):
            yield f"entry[{i}].fullUrl {url!r} is neither a URL nor urn:uuid:<uuid v1-5>"


def _supporting_info(bundle: JSON) -> Iterator[str]:
    claim = ((bundle.get("entry") or [{}])[0]).get("resource") or {}
    sequences = [s.get("sequence") for s in claim.get("supportingInfo") or []]
    if len(sequences) != len(set(sequences)):
        yield "Claim.supportingInfo.sequence values are not unique"


def _claim_response_fixed(response: JSON) -> Iterator[str]:
    if response.get("status") != "active":
        yield f"ClaimResponse.status is {response.get('status')!r}, pattern active"
    if response.get("use") != "preauthorization":
        yield f"ClaimResponse.use is {response.get('use')!r}, pattern preauthorization"
    for key in ("patient", "insurer", "created", "outcome"):
        if not response.get(key):
            yield f"ClaimResponse.{key} is required"


def _adjudications(response: JSON) -> Iterator[tuple[str, JSON]]:
    for i, item in enumerate(response.get("item") or []):
        for j, adj in enumerate(item.get("adjudication") or []):
            yield f"item[{i}].adjudication[{j}]", adj


def _adjudication_category(response: JSON) -> Iterator[str]:
    for where, adj in _adjudications(response):
        codings = (adj.get("category") or {}).get("coding") or []
        wanted = ("http://terminology.hl7.org/CodeSystem/adjudication", "submitted")
        if not any((c.get("system"), c.get("code")) == wanted for c in codings):
            yield f"{where}.category must carry adjudication#submitted"


_REVIEW_PARTS = ("number", "reasonCode", "secondSurgicalOpinionFlag")
_REVIEW_ACTION_CODES = frozenset({"A1", "A2", "A3", "A4", "A6", "C", "CT", "D", "IP", "NA"})


def _review_action(response: JSON) -> Iterator[str]:
    code_url = f"{PAS}extension-reviewActionCode"
    for where, adj in _adjudications(response):
        actions = _ext(adj, f"{PAS}extension-reviewAction")
        if len(actions) > 1:
            yield f"{where}: reviewAction 0..1"
        for action in actions:
            parts = action.get("extension") or []
            for part in parts:
                if part.get("url") not in (
                    code_url,
                    "number",
                    "reasonCode",
                    "secondSurgicalOpinionFlag",
                ):
                    yield f"{where}: reviewAction has an unknown part {part.get('url')!r}"
            for part in parts:
                value = _value(part) or {}
                codings = value.get("coding") or [] if isinstance(value, dict) else []
                if part.get("url") == code_url and not any(
                    c.get("system") == X12_306 and c.get("code") in _REVIEW_ACTION_CODES
                    for c in codings
                ):
                    yield f"{where}: reviewActionCode must be an X12 306 code"
                if part.get("url") == "reasonCode" and not any(
                    c.get("system") == X12_886 for c in codings
                ):
                    yield f"{where}: reasonCode is bound (required) to X12 886"


def _communication_request(request: JSON) -> Iterator[str]:
    if request.get("status") != "active":
        yield f"CommunicationRequest.status is {request.get('status')!r}, fixed active"
    for i, category in enumerate(request.get("category") or []):
        if not any(c.get("system") == X12_755 for c in category.get("coding") or []):
            yield f"category[{i}] is bound (required) to X12 755 report types: no such coding"
    for i, payload in enumerate(request.get("payload") or []):
        if "contentString" not in payload:
            yield f"payload[{i}].content[x] is restricted to string"
        if len(_ext(payload, f"{PAS}extension-serviceLineNumber")) > 1:
            yield f"payload[{i}]: serviceLineNumber 0..1"
    if _ext(request, f"{PAS}extension-serviceLineNumber"):
        yield "serviceLineNumber belongs on payload in PAS 2.0.1 (its context), not the root"


# -- CRD 2.0.1 ---------------------------------------------------------------------------------

# ext-coverage-information invariants, as the IG states them in FHIRPath. Two of them (q2, q4)
# put a collection where a Boolean goes (``extension.where(...) implies``), which FHIRPath reads
# by singleton evaluation; a strict engine (fhirpathpy) refuses it, so ``.exists()`` says it.
_CRD_INVARIANTS = {
    "crd-ci-q1": "extension.where(url='questionnaire' or url='response').exists() implies "
    "(extension.where(url = 'doc-needed').exists() and "
    "extension.where(url = 'doc-needed').all(value != 'no-doc'))",
    "crd-ci-q2": "extension.where(url = 'covered' and value != 'not-covered').exists() implies "
    "extension.where(url = 'pa-needed').exists()",
    "crd-ci-q3": "extension.where(url = 'info-needed').exists() implies "
    "extension.where((url = 'covered' or url = 'pa-needed' or url = 'doc-needed') and "
    "value = 'conditional').count() >= 1",
    "crd-ci-q4": "extension.where(url = 'pa-needed' and value = 'satisfied').exists() and "
    "extension.where(url = 'doc-purpose').exists() implies "
    "extension.where(url = 'doc-purpose').all(value != 'PA')",
    "crd-ci-q5": "extension.where(url = 'pa-needed' and value = 'satisfied').exists() = "
    "extension.where(url = 'satisfied-pa-id').exists()",
}
_CRD_VALUES = {
    "covered": {"not-covered", "covered", "conditional"},
    "pa-needed": {"no-auth", "auth-needed", "satisfied", "performpa", "conditional"},
    "doc-needed": {"clinical", "admin", "both", "conditional"},
    "doc-purpose": {"withpa", "withclaim", "withorder", "retain-doc", "OTH"},
    "info-needed": {"performer", "location", "timeframe", "contract-window", "OTH"},
}
_CRD_CARDINALITY = {
    "coverage": (1, 1),
    "covered": (1, 1),
    "pa-needed": (0, 1),
    "doc-needed": (0, 1),
    "date": (1, 1),
    "coverage-assertion-id": (1, 1),
    "satisfied-pa-id": (0, 1),
}
_CRD_PARTS = {
    *_CRD_CARDINALITY,
    *_CRD_VALUES,
    "billingCode",
    "reason",
    "detail",
    "dependency",
    "questionnaire",
    "response",
    "contact",
}
_CRD_DETAIL_CODES = {
    "allowed-quantity",
    "allowed-period",
    "in-network-copay",
    "out-network-copay",
    "auth-out-network-only",
    "concurrent-review",
    "appropriate-use-needed",
}


def _coverage_information(resource: JSON) -> Iterator[tuple[str, JSON]]:
    for i, ext in enumerate(resource.get("extension") or []):
        if ext.get("url") == COVERAGE_INFO:
            yield f"{resource.get('resourceType')}.extension[{i}]", ext


def _crd_invariants(resource: JSON) -> Iterator[str]:
    for where, ext in _coverage_information(resource):
        for key, expression in _CRD_INVARIANTS.items():
            if not _fhirpath(ext, expression):
                yield f"{where}: {key} not met"


def _crd_parts(resource: JSON) -> Iterator[str]:
    for where, ext in _coverage_information(resource):
        parts = ext.get("extension") or []
        urls = [p.get("url") for p in parts]
        if len(parts) < 4:
            yield f"{where}: at least 4 parts"
        for url in sorted({u for u in urls if u not in _CRD_PARTS}, key=str):
            yield f"{where}: {url!r} is not a part of coverage-information"
        for url, (low, high) in _CRD_CARDINALITY.items():
            if not low <= urls.count(url) <= high:
                yield f"{where}: {url} {low}..{high} (found {urls.count(url)})"
        for part in parts:
            allowed = _CRD_VALUES.get(part.get("url", ""))
            if allowed is not None and part.get("valueCode") not in allowed:
                yield f"{where}: {part['url']} {part.get('valueCode')!r} not in its value set"
            if part.get("url") == "detail":
                yield from _crd_detail(where, part)


def _crd_detail(where: str, detail: JSON) -> Iterator[str]:
    parts = {p.get("url"): p for p in detail.get("extension") or []}
    if "code" not in parts or "value" not in parts:
        yield f"{where}: a detail needs code and value"
        return
    for c in (parts["code"].get("valueCodeableConcept") or {}).get("coding") or []:
        if c.get("system") == CRD_TEMP and c.get("code") not in _CRD_DETAIL_CODES:
            yield f"{where}: detail code {c.get('code')!r} is not in coverageDetail"
    kinds = {k for k in parts["value"] if k.startswith("value")}
    if not kinds <= {"valueBoolean", "valueString", "valuePeriod", "valueQuantity"}:
        yield f"{where}: detail value must be boolean, string, Period or Quantity"


_CARD_TOPIC_CODES = frozenset(
    {
        "coverage-info",
        "claim",
        "insurance",
        "limits",
        "network",
        "appropriate-use",
        "cost",
        "therapy-alternatives-opt",
        "therapy-alternatives-req",
        "clinical-reminder",
        "duplicate-therapy",
        "contraindication",
        "guideline",
        "off-guideline",
        "order-select",
        "order-sign",
        "order-dispatch",
        "appointment-book",
        "encounter-start",
        "encounter-discharge",
    }
)


def _card(card: JSON) -> Iterator[str]:
    for key, kind in (("summary", str), ("indicator", str), ("source", dict)):
        if not isinstance(card.get(key), kind):
            yield f"card.{key} is required ({kind.__name__})"
    if isinstance(card.get("summary"), str) and len(card["summary"]) >= 140:
        yield "card.summary is 140 characters or more"
    if card.get("indicator") not in ("info", "warning", "critical"):
        yield f"card.indicator {card.get('indicator')!r} is not info, warning or critical"
    source = card.get("source") or {}
    topic = source.get("topic") or {}
    if not isinstance(source.get("label"), str) or not isinstance(topic, dict):
        yield "card.source needs label and topic"
    if not (isinstance(topic.get("system"), str) and isinstance(topic.get("code"), str)):
        yield "card.source.topic needs system and code"
    elif topic["system"] == CRD_TEMP and topic["code"] not in _CARD_TOPIC_CODES:
        yield f"card.source.topic {topic['code']!r} is not a CRD card type"
    for link in card.get("links") or []:
        if not all(isinstance(link.get(k), str) for k in ("label", "url", "type")):
            yield "a link needs label, url and type"
        if link.get("type") not in ("absolute", "smart"):
            yield f"link.type {link.get('type')!r} is not absolute or smart"
        if link.get("type") == "absolute" and link.get("appContext"):
            yield "appContext only on smart links"
    if card.get("suggestions") and card.get("selectionBehavior") not in ("at-most-one", "any"):
        yield "selectionBehavior (at-most-one | any) is required with suggestions"


def _hook_response(response: JSON) -> Iterator[str]:
    if not isinstance(response.get("cards"), list):
        yield "the response needs a cards array"
    for action in response.get("systemActions") or []:
        if action.get("type") != "update":
            yield f"a system action has type update, not {action.get('type')!r}"
        if not isinstance(action.get("resource"), dict):
            yield "a system action carries its resource"


def _discovery(body: JSON) -> Iterator[str]:
    services = body.get("services")
    if not isinstance(services, list):
        yield "discovery needs a services array"
        return
    for service in services:
        for key in ("hook", "description", "id"):
            if not isinstance(service.get(key), str):
                yield f"service {service.get('id')!r} needs {key} (string)"


# -- DTR 2.0.1 -------------------------------------------------------------------------------

_SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"


def _dtr_questionnaire(questionnaire: JSON) -> Iterator[str]:
    text = questionnaire.get("text") or {}
    if not (text.get("status") and isinstance(text.get("div"), str) and text["div"].strip()):
        yield "Questionnaire.text 1..1, with its div"
    if questionnaire.get("subjectType") != ["Patient"]:
        yield f"subjectType is {questionnaire.get('subjectType')!r}, exactly [Patient]"
    for url in (
        f"{_SDC}sdc-questionnaire-assemble-expectation",
        f"{_SDC}sdc-questionnaire-endpoint",
    ):
        if _ext(questionnaire, url):
            yield f"{url.rsplit('/', 1)[-1]} is 0..0"


def _dtr_package(bundle: JSON) -> Iterator[str]:
    if bundle.get("type") != "collection":
        yield f"Bundle.type is {bundle.get('type')!r}, pattern collection"
    if not _fhirpath(bundle, "entry.first().resource.is(Questionnaire)"):
        yield "dtrb-1: the first resource in the bundle must be a Questionnaire"
    yield from _consistent_full_urls(bundle)


def _consistent_full_urls(bundle: JSON) -> Iterator[str]:
    """R4 Bundle.entry.fullUrl: absent, a urn:uuid, or the RESTful URL of the resource (it
    "SHALL NOT disagree with the id in the resource": a canonical is neither)."""
    for i, e in enumerate(bundle.get("entry") or []):
        url, resource = e.get("fullUrl"), e.get("resource") or {}
        if url is None or (isinstance(url, str) and _URN_UUID.match(url)):
            continue
        tail = f"/{resource.get('resourceType')}/{resource.get('id')}"
        if not (isinstance(url, str) and _URL.match(url) and url.endswith(tail)):
            yield f"entry[{i}].fullUrl {url!r} is not the RESTful URL of {tail[1:]} nor a urn:uuid"


def _dtr_output(parameters: JSON) -> Iterator[str]:
    named = [p.get("name") for p in parameters.get("parameter") or []]
    if "PackageBundle" not in named:
        yield "at least one PackageBundle"
    for p in parameters.get("parameter") or []:
        resource = p.get("resource") or {}
        if p.get("name") == "PackageBundle" and resource.get("resourceType") != "Bundle":
            yield "a PackageBundle is a Bundle"
        if (
            p.get("name") == "operationOutcome"
            and resource.get("resourceType") != "OperationOutcome"
        ):
            yield "an operationOutcome is an OperationOutcome"


RULES: tuple[Rule, ...] = (
    Rule(
        "PAS-RSB-1",
        "pas-response-bundle",
        "PAS 2.0.1 profile-pas-response-bundle: type "
        "collection, entry 1..*, fullUrl 1..1, resource 1..1, no request/response/search, "
        "entry:ClaimResponse 1..1 (PAS test kit: the first entry must be the ClaimResponse)",
        _pas_bundle("ClaimResponse"),
    ),
    Rule(
        "PAS-RSB-2",
        "pas-response-bundle",
        "PAS 2.0.1 profile-pas-response-bundle: Bundle.timestamp 1..1",
        _pas_timestamp,
    ),
    Rule(
        "PAS-RQB-1",
        "pas-request-bundle",
        "PAS 2.0.1 profile-pas-request-bundle and the PAS "
        "test kit: the first entry must be the Claim, type collection",
        _pas_bundle("Claim"),
    ),
    Rule(
        "PAS-RQB-2",
        "pas-request-bundle",
        "PAS test kit (validate_bundle_entries_full_url): each fullUrl a URL or urn:uuid",
        _full_urls,
    ),
    Rule(
        "PAS-RQB-3",
        "pas-request-bundle",
        "PAS 2.0.1 profile-claim / PAS test kit: Claim.supportingInfo.sequence unique",
        _supporting_info,
    ),
    Rule(
        "PAS-CR-1",
        "claimresponse",
        "PAS 2.0.1 profile-claimresponse-base: status pattern "
        "active, use pattern preauthorization; R4 required patient, insurer, created, outcome",
        _claim_response_fixed,
    ),
    Rule(
        "PAS-CR-2",
        "claimresponse",
        "PAS 2.0.1 profile-claimresponse-base: "
        "item.adjudication.category pattern adjudication#submitted",
        _adjudication_category,
    ),
    Rule(
        "PAS-CR-3",
        "claimresponse",
        "PAS 2.0.1 extension-reviewAction (on "
        "item.adjudication, 0..1): parts code (reviewActionCode, X12 306), number, reasonCode "
        "(required binding, X12 886), secondSurgicalOpinionFlag",
        _review_action,
    ),
    Rule(
        "PAS-COM-1",
        "communicationrequest",
        "PAS 2.0.1 profile-communicationrequest: status "
        "fixed active; category bound (required) to X12 755 (PWK01); payload.content[x] string "
        "only; payload.extension:serviceLineNumber 0..1; serviceLineNumber's context is "
        "CommunicationRequest.payload",
        _communication_request,
    ),
    Rule(
        "CRD-CI-1",
        "coverage-information",
        "CRD 2.0.1 ext-coverage-information invariants crd-ci-q1..q5 (their FHIRPath, evaluated)",
        _crd_invariants,
    ),
    Rule(
        "CRD-CI-2",
        "coverage-information",
        "CRD 2.0.1 ext-coverage-information: parts and "
        "cardinalities (coverage, covered, date, coverage-assertion-id 1..1; pa-needed, "
        "doc-needed, satisfied-pa-id 0..1; at least 4); required value sets coverageInfo, "
        "coveragePaDetail, AdditionalDocumentation, DocReason, informationNeeded; detail code "
        "from coverageDetail, value boolean | string | Period | Quantity",
        _crd_parts,
    ),
    Rule(
        "CRD-CARD-1",
        "crd-card",
        "CDS Hooks 2.0 Card and CRD 2.0.1 cards (as the CRD test "
        "kit checks them): summary < 140, indicator, source.label and source.topic (system, "
        "code from the CRD card types), links label/url/type absolute|smart",
        _card,
    ),
    Rule(
        "CRD-RSP-1",
        "crd-response",
        "CDS Hooks 2.0 response and CRD 2.0.1 "
        "coverage-information system actions: cards array, action type update with its resource",
        _hook_response,
    ),
    Rule(
        "CRD-DSC-1",
        "crd-discovery",
        "CDS Hooks 2.0 discovery (as the CRD test kit checks "
        "it): each service has hook, description and id",
        _discovery,
    ),
    Rule(
        "DTR-Q-1",
        "dtr-questionnaire",
        "DTR 2.0.1 dtr-std-questionnaire: text 1..1, "
        "subjectType 1..1 pattern Patient, assemble-expectation and endpoint 0..0",
        _dtr_questionnaire,
    ),
    Rule(
        "DTR-QP-1",
        "dtr-package",
        "DTR 2.0.1 DTR-QPackageBundle: type collection, dtrb-1 "
        "(first entry a Questionnaire); each fullUrl a URL or urn:uuid",
        _dtr_package,
    ),
    Rule(
        "DTR-OUT-1",
        "dtr-output",
        "DTR 2.0.1 dtr-qpackage-output-parameters: PackageBundle "
        "1..* (a Bundle), operationOutcome an OperationOutcome",
        _dtr_output,
    ),
)


def check(kind: str, instance: JSON) -> list[tuple[str, str]]:
    return [(r.id, m) for r in RULES if r.kind == kind for m in r.check(instance)]
