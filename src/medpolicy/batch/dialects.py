"""The SQL backends of the claims audit: each a small diff against the base (sqlglot's dialect
does the rest), with what it cannot run stated as data and refused when compiling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from medpolicy.batch.plan import Check, DoseLimit, VialWaste

__all__ = ["DIALECTS", "Dialect"]


@dataclass(frozen=True)
class Dialect:
    name: str
    sqlglot: str  # sqlglot's dialect name
    max_decimal_precision: int  # digits a DECIMAL literal may have
    # a plan node this backend cannot run -> why (refused when compiling, with the node named)
    unsupported: Mapping[type[Check], str] = field(default_factory=dict)


# Every SQL backend: billing units of a whole number of mg are compared in integers; a fractional
# mg-per-unit would need exact decimal division, which neither backend's DECIMAL guarantees.
_ALL_SQL: Final[dict[type[Check], str]] = {}

DIALECTS: Final[Mapping[str, Dialect]] = MappingProxyType(
    {
        "duckdb": Dialect("duckdb", "duckdb", 38, _ALL_SQL),
        "spark": Dialect("spark", "spark", 38, _ALL_SQL),
    }
)

# the plan nodes whose parameters must fit the backend's DECIMAL (checked in compile.py)
DECIMAL_PARAMS: Final[dict[type[Check], tuple[str, ...]]] = {
    DoseLimit: ("max_mg_per_kg", "mg_per_unit"),
    VialWaste: ("mg_per_unit",),
}
