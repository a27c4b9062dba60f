"""Plain JSON values from fact values (Decimal as exact strings, dates as ISO 8601), and the same
values written straight to JSON text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import orjson

__all__ = ["json_text", "jsonable"]


def jsonable(value: Any) -> Any:
    convert = _BY_TYPE.get(type(value))  # the exact types facts hold, looked up once
    if convert is not None:
        return convert(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return _mapping(value)
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def _same(value: Any) -> Any:
    return value


def _mapping(value: dict[Any, Any]) -> dict[str, Any]:
    return {str(k): jsonable(v) for k, v in sorted(value.items())}


_BY_TYPE: dict[type, Callable[[Any], Any]] = {
    str: _same,
    int: _same,
    bool: _same,
    type(None): _same,
    Decimal: str,
    date: date.isoformat,
    datetime: datetime.isoformat,
    dict: _mapping,
    list: lambda value: [jsonable(v) for v in value],
    tuple: lambda value: [jsonable(v) for v in value],
}


def json_text(value: Any) -> str:
    """``jsonable(value)`` as compact JSON, written without building it (a fraction of the time).

    orjson writes dates (ISO 8601), enums (their values), lists and tuples as ``jsonable`` makes
    them; mappings are written sorted by key, as ``jsonable`` sorts them, and Decimals as their
    exact strings. Any other type fails rather than being written differently; tests hold the two
    equal on every fact of every case, example and generated request."""
    return orjson.dumps(value, default=_exact, option=orjson.OPT_SORT_KEYS).decode()


def _exact(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a fact value")
