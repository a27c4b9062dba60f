"""Three-valued results and their truth tables (Kleene's strong logic, as in CQL).

``unknown`` means a fact the criterion needs is absent. It is a real value, never a default for
met: NOT met dominates ALL, met dominates ANY, and everything else stays unknown.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

__all__ = ["BY_RANK", "MET", "NOT_MET", "RANK", "UNKNOWN", "Truth", "all_of", "any_of", "not_"]


class Truth(StrEnum):
    met = "met"
    not_met = "not_met"
    unknown = "unknown"

    @classmethod
    def of(cls, value: bool | None) -> Truth:
        if value is None:
            return cls.unknown
        return cls.met if value else cls.not_met


def all_of(results: Iterable[Truth]) -> Truth:
    seen_unknown = False
    for r in results:
        if r is Truth.not_met:
            return Truth.not_met
        seen_unknown = seen_unknown or r is Truth.unknown
    return Truth.unknown if seen_unknown else Truth.met


def any_of(results: Iterable[Truth]) -> Truth:
    seen_unknown = False
    for r in results:
        if r is Truth.met:
            return Truth.met
        seen_unknown = seen_unknown or r is Truth.unknown
    return Truth.unknown if seen_unknown else Truth.not_met


def not_(result: Truth) -> Truth:
    if result is Truth.unknown:
        return Truth.unknown
    return Truth.not_met if result is Truth.met else Truth.met


# The same three values as small ranks, for compiled evaluation: ordered so that ALL is ``min``,
# ANY is ``max`` and NOT is ``MET - r`` (the Kleene tables above, cell for cell; tests check both).
NOT_MET, UNKNOWN, MET = 0, 1, 2
BY_RANK = (Truth.not_met, Truth.unknown, Truth.met)
RANK = {truth: rank for rank, truth in enumerate(BY_RANK)}
