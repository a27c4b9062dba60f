"""Which format a request is in is decided by one rule (``adapters.native.request_format``): a
clinical record has ``order``, a request of the earlier format has ``medication``; both or neither
is refused naming the fields, never guessed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from medpolicy.adapters.native import parse_any
from medpolicy.errors import RequestError
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request
from tests.support import EXAMPLES, REPO

RECORD: dict[str, Any] = json.loads(
    (REPO / "examples" / "records" / "breast-metastatic-approved.json").read_bytes()
)
EARLIER: dict[str, Any] = json.loads((EXAMPLES / "breast-metastatic-approved.json").read_bytes())

# (the body, the model it is read as, or the fields a refusal names)
BOTH = {"order", "medication"}
BODIES: list[tuple[str, dict[str, Any], type | set[str]]] = [
    ("a record", RECORD, ClinicalRecord),
    ("the earlier format", EARLIER, Request),
    ("both", {**RECORD, "medication": EARLIER["medication"]}, BOTH),
    ("both, from the earlier format", {**EARLIER, "order": RECORD["order"]}, BOTH),
    ("neither", {k: v for k, v in RECORD.items() if k != "order"}, {"order"}),
    ("an empty object", {}, {"order"}),
]  # fmt: skip


@pytest.mark.parametrize(("what", "body", "expected"), BODIES, ids=[b[0] for b in BODIES])
def test_the_format_is_told_by_order_or_medication(
    what: str, body: dict[str, Any], expected: type | set[str]
) -> None:
    if isinstance(expected, type):
        assert isinstance(parse_any(body), expected), what
        assert isinstance(parse_any(json.dumps(body)), expected), what
        return
    with pytest.raises(RequestError) as refused:
        parse_any(body)
    assert {e.field for e in refused.value.errors} == expected, what
    assert all("order" in e.problem and "medication" in e.problem for e in refused.value.errors)


def test_a_body_that_is_not_an_object_names_the_body() -> None:
    for body in ("[]", "null", "3"):
        with pytest.raises(RequestError) as refused:
            parse_any(body)
        assert [e.field for e in refused.value.errors] == ["(body)"]


def test_an_order_of_null_is_a_record_with_a_bad_order() -> None:
    """The rule reads which fields are present, not their values: the record's own check names
    what is wrong with its order."""
    with pytest.raises(RequestError) as refused:
        parse_any({**RECORD, "order": None})
    assert [e.field for e in refused.value.errors] == ["order"]
    assert "medication" not in refused.value.errors[0].problem
