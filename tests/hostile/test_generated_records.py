"""Generated requests the parsers accept never crash the engine (bounded and derandomized).

The decision's modules are compiled by mypyc, which checks every annotation at run time: a value
of a type the code did not expect raises ``TypeError`` where Python carried on. So requests are
generated that ``parse_any`` accepts (each example record and request perturbed, and clinical
records drawn from the published record JSON Schema), and each is decided under every policy
file, its criteria worded (``to_json``, ``record``): the engine may refuse one only with a
``RequestError`` naming fields. The same inputs go to ``POST /api/v1/evaluate`` on SQLite and
PostgreSQL: never a 5xx, and every 4xx names the fields at fault.

Each crash found is kept below as a table case (``REGRESSIONS``): the input, and the check it broke.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medpolicy.adapters.native import parse_any, record_schema
from medpolicy.engine.decide import decide
from medpolicy.errors import RequestError
from medpolicy.policy.cases import build_request, load_cases
from medpolicy.policy.load import load_policy
from medpolicy.policy.registry import POLICY_FILE
from medpolicy.policy.tree import Policy
from medpolicy.store import Role, TokenStore
from tests.hostile.conftest import backend_of, count
from tests.support import REPO

Json = Any
ORGANIZATION = "fuzz-oncology"
ENGINE_EXAMPLES = 300  # perturbed examples, each decided under every policy
SCHEMA_EXAMPLES = 150  # records drawn from the JSON Schema
REST_EXAMPLES = 60  # per backend

POLICIES: list[Policy] = [load_policy(p) for p in sorted((REPO / "policies").rglob(POLICY_FILE))]
SEEDS: list[tuple[str, Json]] = [  # every example, and every case of every policy's case file
    *(
        (f"{p.parent.name}/{p.stem}", json.loads(p.read_bytes()))
        for folder in ("records", "requests")
        for p in sorted((REPO / "examples" / folder).glob("*.json"))
    ),
    *(
        (f"{p.parent.name}/{case['name']}", build_request(bases, case))
        for p in sorted((REPO / "policies").rglob(POLICY_FILE))
        for bases, cases in [load_cases(p)]
        for case in cases
    ),
]

# Values of each JSON type at the edges of what a field may hold.
NUMBERS: list[Json] = [0, -1, 1, 0.5, 10**30, 1e-7, 123456789.1234, 99999999.9999, 3.14159265358]
DECIMAL_STRINGS = ["1e3", "1E-3", "0.0000", "-0", "3.60000", "00068.5", "1_000", " 68.5 "]
DATES = ["0001-01-01", "9999-12-31", "2026-11-02", "2026-11-03", "2000-02-29", "1900-01-01"]
DATETIMES = [
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2026-11-02T14:30:00",
    "2026-11-02T23:59:59-12:00",
    "2026-11-02T00:00:00+14:00",
    "2026-11-02",
]
STRINGS = ["", " ", "x", "ü", "日本語", "\u200b", "NaN", "null", "true", "3+", "x" * 200]
UNITS = ["kg", "lb", "[lb_av]", "g", "%", "m2", "signals/cell", "mg/kg", "mg", "cm", "KG", "a"]
CODES = [  # findings' and observations' codes: the catalogue's, LOINC, and unknown ones
    "29463-7", "body-weight", "10230-1", "lvef", "8277-6", "body-surface-area", "her2-ihc",
    "85319-2", "her2-ish-ratio", "49683-6", "her2-ish-copy-number", "74860-8", "48676-1",
    "her2-status", "erbb2-mutation", "brain-metastases", "disease-status", "97509-4",
    "residual-invasive-disease", "0000-0", "unknown-code", "ü",
]  # fmt: skip
RESULTS = [
    *("3+", "2+", "1+", "0", "positive", "negative", "limited", "extensive", "stable"),
    *("progressed", "improved", "undetermined", "equivocal", "present", "3+ (IHC)", "?"),
]
ICD10 = ["C50.912", "C50.A1", "C79.31", "C34.90", "C07", "C08.9", "D05.10", "Z85.3", "C50.911"]
# the record's dates that may not be later than the request
PAST_DATES = {"date", "birth_date", "recurrence_date", "start_date", "end_date", "approved_on"}
PAYERS = ["florida_blue", "aetna", "credence_blue", "ibx", "unknown-payer"]
INDICATIONS = [
    *(
        "breast_cancer",
        "cns_brain_metastases",
        "nsclc",
        "salivary_gland_tumor",
        "other_fda_or_nccn",
    ),
    "unknown_indication",
]


# Paths into a JSON document: each is a list of keys and indexes.
def _paths(doc: Json, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _at(doc: Json, path: tuple[Any, ...]) -> Json:
    for part in path:
        doc = doc[part]
    return doc


def _boundary(old: Json) -> st.SearchStrategy[Json]:
    """A value of ``old``'s JSON type at an edge (a string that reads as a date, a date)."""
    if isinstance(old, bool):
        return st.sampled_from([not old, old])
    if isinstance(old, int | float):
        return st.sampled_from([*NUMBERS, -old, old * 1000])
    if isinstance(old, str):
        if len(old) >= 20 and old[4:5] == "-":
            return st.sampled_from(DATETIMES)
        if len(old) == 10 and old[4:5] == "-":
            return st.sampled_from(DATES)
        if old.replace(".", "", 1).isdigit():
            return st.sampled_from([*DECIMAL_STRINGS, *(str(n) for n in NUMBERS)])
        return st.sampled_from([*STRINGS, *UNITS, *ICD10, *RESULTS])
    if isinstance(old, list):
        return st.sampled_from([[], old + old, old[:1]])
    return st.just({})


def _lists(doc: Json) -> list[tuple[Any, ...]]:
    return [p for p in _paths(doc) if isinstance(_at(doc, p), list) and _at(doc, p)]


# Perturbations: each takes the document and a draw, and edits the document in place.
Draw = Callable[[st.SearchStrategy[Any]], Any]


def drop_field(doc: Json, draw: Draw) -> None:
    keys = [p for p in _paths(doc) if isinstance(p[-1], str)]
    path = draw(st.sampled_from(keys))
    del _at(doc, path[:-1])[path[-1]]


def duplicate_item(doc: Json, draw: Draw) -> None:
    lists = _lists(doc)
    if lists:
        items = _at(doc, draw(st.sampled_from(lists)))
        items.append(copy.deepcopy(draw(st.sampled_from(items))))


def boundary_value(doc: Json, draw: Draw) -> None:
    path = draw(st.sampled_from(list(_paths(doc))))
    _at(doc, path[:-1])[path[-1]] = draw(_boundary(_at(doc, path)))


def _record_lists(doc: Json, draw: Draw) -> tuple[list[Json], list[Json]]:
    """The record's conditions and observations (made when absent)."""
    conditions = doc.setdefault("conditions", None) or []
    if not conditions or draw(st.booleans()):
        conditions.append({"code": draw(st.sampled_from(ICD10)), "findings": []})
    doc["conditions"] = conditions
    doc["observations"] = observations = doc.get("observations") or []
    return conditions, observations


def same_day_observation(doc: Json, draw: Draw) -> None:
    _, observations = _record_lists(doc, draw)
    seen = draw(st.sampled_from(observations)) if observations else None
    twin = copy.deepcopy(seen) if seen else {"code": "29463-7", "value": "70", "unit": "kg"}
    twin["value"] = draw(st.sampled_from(["0", "0.0001", "68.5", "69", "1e2", 150.25, 0]))
    if draw(st.booleans()):
        twin.pop("date", None)
    observations.append(twin)


def observation_of_other_unit(doc: Json, draw: Draw) -> None:
    _, observations = _record_lists(doc, draw)
    observations.append(
        {
            "code": draw(st.sampled_from(CODES)),
            "value": draw(st.sampled_from([*NUMBERS[:2], 68.5, *DECIMAL_STRINGS[:3]])),
            "unit": draw(st.sampled_from(UNITS)),
            **({"date": draw(st.sampled_from(DATES))} if draw(st.booleans()) else {}),
        }
    )


def odd_finding(doc: Json, draw: Draw) -> None:
    conditions, _ = _record_lists(doc, draw)
    finding: dict[str, Json] = {"code": draw(st.sampled_from(CODES))}
    if draw(st.booleans()):
        finding["result"] = draw(st.sampled_from(RESULTS))
    if draw(st.booleans()):
        finding["value"] = draw(st.sampled_from([0, 2.2, "1e1", "0.0001", 10**7]))
        if draw(st.booleans()):
            finding["unit"] = draw(st.sampled_from(UNITS))
    if draw(st.booleans()):
        finding["date"] = draw(st.sampled_from(DATES))
    if draw(st.booleans()):
        finding["test"] = draw(st.sampled_from(["fda_approved", "clia", "other"]))
    draw(st.sampled_from(conditions)).setdefault("findings", []).append(finding)


def uncoded_condition(doc: Json, draw: Draw) -> None:
    conditions, _ = _record_lists(doc, draw)
    moved = draw(st.sampled_from(conditions))
    codeless = {k: copy.deepcopy(v) for k, v in moved.items() if k != "code"}
    if draw(st.booleans()):
        codeless["extent"] = draw(
            st.lists(st.sampled_from(["metastatic", "recurrent"]), max_size=2)
        )
    conditions.append(codeless)


def mix_codes(doc: Json, draw: Draw) -> None:
    """Findings copied to another condition; a condition's or the order's code changed."""
    conditions, _ = _record_lists(doc, draw)
    a, b = draw(st.sampled_from(conditions)), draw(st.sampled_from(conditions))
    b.setdefault("findings", []).extend(copy.deepcopy(a.get("findings", [])))
    target = draw(st.sampled_from([a, doc.setdefault("order", {})]))
    key = "condition" if target is doc["order"] else "code"
    target[key] = draw(st.sampled_from([*ICD10, *(c.get("code", "C50.912") for c in conditions)]))


def indications(doc: Json, draw: Draw) -> None:
    holder = doc.get("order", doc)
    holder["indications"] = draw(st.lists(st.sampled_from(INDICATIONS), max_size=3))


def payer(doc: Json, draw: Draw) -> None:
    """The member's payer: the registry then picks that payer's policy (REST)."""
    if isinstance(doc.get("member"), dict):
        doc["member"]["payer"] = draw(st.sampled_from(PAYERS))


RECORD_ONLY = [
    same_day_observation,
    observation_of_other_unit,
    odd_finding,
    uncoded_condition,
    mix_codes,
]
ANY_FORMAT = [drop_field, duplicate_item, boundary_value, boundary_value, indications, payer]


@st.composite
def perturbed(draw: Draw) -> Json:
    """An example record or request, with one to four perturbations."""
    _, seed = draw(st.sampled_from(SEEDS))
    doc = copy.deepcopy(seed)
    ops = ANY_FORMAT + (RECORD_ONLY if "order" in doc else [])
    for op in draw(st.lists(st.sampled_from(ops), min_size=1, max_size=4)):
        if isinstance(doc, dict) and doc:
            op(doc, draw)
    return doc


def _openapi(schema: Json) -> Json:
    """The record schema as one operation's body, for schemathesis to generate from."""
    text = json.dumps(schema).replace("#/$defs/", "#/components/schemas/")
    body = json.loads(text)
    defs = body.pop("$defs", {})
    for key in ("$schema", "$id"):
        body.pop(key, None)
    return {
        "openapi": "3.1.0",
        "info": {"title": "record", "version": "1"},
        "paths": {
            "/record": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": body}},
                    },
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "components": {"schemas": defs},
    }


def _from_schema() -> st.SearchStrategy[Json]:
    api = schemathesis.openapi.from_dict(_openapi(record_schema()))
    (operation,) = [result.ok() for result in api.get_all_operations()]
    return operation.as_strategy().map(lambda case: case.body)


@st.composite
def schema_records(draw: Draw) -> Json:
    """A record drawn from the published schema; often repaired where the schema cannot say
    what is valid (the policy's drug, real ICD-10-CM codes, dates no later than the request),
    so that more of them are accepted and reach the engine."""
    doc = draw(_SCHEMA)
    if isinstance(doc, dict) and draw(st.booleans()):
        doc["submitted_at"] = "2026-11-02T14:30:00Z"
        for path in list(_paths(doc)):
            if path[-1] in PAST_DATES and isinstance(_at(doc, path), str):
                _at(doc, path[:-1])[path[-1]] = draw(st.sampled_from(DATES[::2]))
        order = doc.get("order")
        if isinstance(order, dict) and isinstance(order.get("drug"), dict):
            order["drug"]["hcpcs"] = "J9354"
            order["condition"] = draw(st.sampled_from(ICD10))
            order.pop("indications", None)
        for condition in doc.get("conditions") or []:
            if "code" in condition:
                condition["code"] = draw(st.sampled_from(ICD10))
        for observation in doc.get("observations") or []:
            observation["value"] = "1"
    return doc


_SCHEMA = _from_schema()


def _names_fields(exc: RequestError) -> bool:
    return bool(exc.errors) and all(e.field and e.problem for e in exc.errors)


def decided_everywhere(data: Json) -> bool:
    """Whether ``parse_any`` accepts ``data``; if so, it is decided and worded under every
    policy. Any exception but a ``RequestError`` naming fields escapes: the test fails."""
    try:
        request = parse_any(copy.deepcopy(data))
    except RequestError as exc:
        assert _names_fields(exc), exc
        return False
    for policy in POLICIES:
        try:
            decision = decide(policy, request)
        except RequestError as exc:
            assert _names_fields(exc), exc
            continue
        decision.to_json()
        decision.record()
        decision.to_json(indent=True)
    return True


def bounded(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        print_blob=True,
    )


@pytest.mark.parametrize(
    ("strategy", "examples", "least"),
    [(perturbed(), ENGINE_EXAMPLES, 120), (schema_records(), SCHEMA_EXAMPLES, 20)],
    ids=["perturbed-examples", "record-schema"],
)
def test_accepted_requests_are_decided_under_every_policy(
    strategy: st.SearchStrategy[Json], examples: int, least: int
) -> None:
    accepted: list[bool] = []

    @given(data=strategy)
    @bounded(examples)
    def run(data: Json) -> None:
        accepted.append(decided_everywhere(data))

    run()
    # the property is about accepted requests: enough of them must reach the engine
    assert sum(accepted) >= least, (sum(accepted), len(accepted))


# --- the REST API ---------------------------------------------------------------------------


@pytest.fixture
def provider(app: FastAPI) -> dict[str, str]:
    token, _ = TokenStore(app.state.services.store).create(
        Role.provider, name="fuzz", organization=ORGANIZATION
    )
    return {"Authorization": f"Bearer {token}"}


def post(client: TestClient, headers: dict[str, str], data: Json, backend: str) -> int:
    """``data`` sent to POST /api/v1/evaluate (for the token's organization): no 5xx; a 4xx
    names fields. The status."""
    body = copy.deepcopy(data)
    if isinstance(body, dict) and isinstance(body.get("member"), dict):
        body["member"]["organization"] = ORGANIZATION
    response = client.post("/api/v1/evaluate", json=body, headers=headers)
    count(backend, response.status_code)
    assert response.status_code < 500, (response.status_code, response.text[:500])
    if response.status_code >= 400:
        errors = response.json()["errors"]
        assert errors and all(e["field"] and e["problem"] for e in errors), response.text
    return response.status_code


def test_generated_requests_are_never_a_server_error(
    client: TestClient, provider: dict[str, str], database_url: str
) -> None:
    statuses: list[int] = []

    @given(data=st.one_of(perturbed(), schema_records()).filter(_parses))
    @bounded(REST_EXAMPLES)
    def run(data: Json) -> None:
        statuses.append(post(client, provider, data, backend_of(database_url)))

    run()
    # accepted by the parser; the service may still refuse a date ahead of its clock
    assert statuses.count(200) >= REST_EXAMPLES // 3, statuses


def _parses(data: Json) -> bool:
    try:
        parse_any(copy.deepcopy(data))
    except RequestError:
        return False
    return True


# --- every crash the generated inputs found, as a table ---------------------------------------

RECORD = "records/breast-metastatic-approved.json"
REQUEST = "requests/breast-metastatic-approved.json"
WEIGHT = {"code": "29463-7", "value": "68.5", "unit": "kg", "date": "2026-10-30"}
DATED = {"submitted_at": "9999-11-02T14:30:00Z"}  # every 2026 date of the example moved to 9999

# (id, example, changes: dotted path -> value, then what must happen: the fields a refusal names,
# or None: decided under every policy)
REGRESSIONS: list[tuple[str, str, dict[str, Json], list[str] | None]] = [
    # A weight of zero passed the record's schema (an observation may be 0) and reached the dose
    # check, which raised ValueError: refused, as the earlier format refuses it.
    ("weight-0-kg", RECORD, {"observations.0.value": "0"}, ["observations[0].value"]),
    ("weight-minus-0-kg", RECORD, {"observations.0.value": "-0"}, ["observations[0].value"]),
    # (Not a crash: a weight of 0 lb was read as a unit it cannot be converted from; refused alike.)
    ("weight-0.0000-lb", RECORD, {"observations": [{**WEIGHT, "value": "0.0000", "unit": "lb"}]},
     ["observations[0].value"]),
    # A body surface area of zero: a mg/m² dose of 0 mg, refused by the vial count (ValueError).
    ("bsa-0-m2", RECORD, {"order.dose": {"value": "100", "unit": "mg/m2"},
     "observations": [WEIGHT, {**WEIGHT, "code": "8277-6", "value": "0", "unit": "m2"}]},
     ["observations[1].value"]),
    # A dose of 6.8e9 mg: the vial plan's table of every total up to the dose (MemoryError).
    ("dose-99999999.9999-mg-per-kg", RECORD, {"order.dose.value": "99999999.9999"}, None),
    # An approval starting in 9999 ends past the calendar (ValueError: year 10000).
    ("start-9999-11-09", RECORD, {"*2026": "9999", **DATED}, ["order.start_date"]),
    ("start-9999-11-09-earlier-format", REQUEST, {"*2026": "9999", **DATED},
     ["medication.start_date"]),
]  # fmt: skip


def _changed(path: str, changes: dict[str, Json]) -> Json:
    text = (REPO / "examples" / path).read_text()
    for old, new in ((k[1:], v) for k, v in changes.items() if k.startswith("*")):
        text = text.replace(f'"{old}-', f'"{new}-')
    doc = json.loads(text)
    for dotted, value in changes.items():
        if dotted.startswith("*"):
            continue
        *parents, last = [int(p) if p.isdigit() else p for p in dotted.split(".")]
        _at(doc, tuple(parents))[last] = value
    return doc


def _refused_fields(data: Json) -> list[str] | None:
    """The fields a refusal names (parsing, or deciding under any policy), else None."""
    try:
        request = parse_any(data)
        for policy in POLICIES:
            decision = decide(policy, request)
            decision.to_json()
            decision.record()
    except RequestError as exc:
        return sorted({e.field for e in exc.errors})
    return None


@pytest.mark.parametrize(
    ("example", "changes", "refused"),
    [case[1:] for case in REGRESSIONS],
    ids=[case[0] for case in REGRESSIONS],
)
def test_each_crash_found_is_decided_or_refused_by_field(
    example: str, changes: dict[str, Json], refused: list[str] | None
) -> None:
    assert _refused_fields(_changed(example, changes)) == refused
