"""Fact values as JSON: ``json_text`` writes exactly what ``jsonable`` builds, or refuses."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from medpolicy.jsonable import json_text, jsonable
from medpolicy.request import LineOfBusiness


@pytest.mark.parametrize(
    "value",
    [
        "C50.912",
        '≥ 3.6 "mg" \\ \n',
        3,
        True,
        None,
        Decimal("68.50"),
        Decimal("1E+2"),
        date(2024, 2, 29),
        datetime(2026, 11, 2, 9, 30, 0, 120, tzinfo=UTC),
        datetime(2026, 11, 2, 9, 30),
        next(iter(LineOfBusiness)),
        ["C50.912", "C79.31"],
        ("a", 1),
        {"value": Decimal("3.6"), "unit": "mg/kg"},
        [{"start_date": date(2025, 1, 10), "drug": "trastuzumab", "line": 1, "end": None}],
        {"b": {"z": 1, "a": [Decimal("2")]}, "a": []},
    ],
)
def test_json_text_is_jsonable_written_compactly(value: Any) -> None:
    expected = json.dumps(jsonable(value), ensure_ascii=False, separators=(",", ":"))
    assert json_text(value) == expected


def test_a_value_of_another_type_is_refused_rather_than_written_differently() -> None:
    with pytest.raises(TypeError):
        json_text({"weight": 68.5j})
