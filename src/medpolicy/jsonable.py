"""Plain JSON values from fact values (Decimal as exact strings, dates as ISO 8601)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

__all__ = ["jsonable"]


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
