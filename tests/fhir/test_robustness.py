"""No input crashes the FHIR adapters: every mangled Bundle or hook call is answered or refused
with its problems named (property tests over the examples, each element replaced or removed)."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medpolicy.adapters.fhir.crd import HookRejected, respond
from medpolicy.adapters.fhir.operation_outcome import operation_outcome
from medpolicy.adapters.fhir.pas_check import PasRejected
from medpolicy.adapters.fhir.pas_flow import EngineOnly, submit
from medpolicy.policy.registry import PolicyRegistry
from tests.fhir.support import example, naming, validate
from tests.fhir.test_crd import SETTINGS

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.just([]),
    st.just({}),
    st.just("3+"),
    st.just("2026-13-45"),
    st.just({"reference": "Patient/nowhere"}),
    st.just({"coding": [{"code": "x"}]}),
)


def paths(node: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here] if here else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*here, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*here, i))
    return found


def mangled(data: Any, where: tuple[Any, ...], value: Any, remove: bool) -> Any:
    out = copy.deepcopy(data)
    parent = out
    for step in where[:-1]:
        parent = parent[step]
    if remove and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = value
    return out


PAS = example("pas-breast-ish-group3-approved")
PAS_PATHS = paths(PAS)
HOOK = example("crd-order-sign-breast-satisfied")
HOOK_PATHS = paths(HOOK)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PAS_PATHS), JUNK, st.booleans())
def test_a_mangled_pas_bundle_is_answered_or_refused(
    registry: PolicyRegistry, where: tuple[Any, ...], value: Any, remove: bool
) -> None:
    try:
        result = submit(registry, mangled(PAS, where, value, remove), EngineOnly(), naming())
    except PasRejected as exc:
        assert exc.issues and all(i.expression for i in exc.issues)
        validate(operation_outcome(exc.issues))
        return
    validate(result.bundle)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(HOOK_PATHS), JUNK, st.booleans())
def test_a_mangled_hook_call_is_answered_or_refused(
    registry: PolicyRegistry, where: tuple[Any, ...], value: Any, remove: bool
) -> None:
    try:
        answer = respond(
            registry, "medpolicy-order-sign", mangled(HOOK, where, value, remove), SETTINGS
        )
    except HookRejected as exc:
        assert exc.problems
        return
    for action in answer["systemActions"]:
        assert action["type"] == "update"


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        JUNK,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["resourceType", "entry", "resource", "type", "item"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=12,
    )
)
def test_any_json_is_refused_with_an_operation_outcome(registry: PolicyRegistry, data: Any) -> None:
    try:
        submit(registry, data, EngineOnly(), naming())
    except PasRejected as exc:
        validate(operation_outcome(exc.issues))
