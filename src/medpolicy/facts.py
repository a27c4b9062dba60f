"""The canonical facts the engine reads, and how a request becomes them.

Policy rules name facts by path (``her2.ihc_score``). The fact catalogue (``medpolicy.catalogue``,
data in ``catalogue/oncology.yaml``) declares each path once: what it means in words a
provider's office understands, its kind, and where in the clinical record it comes from. The
evaluator, the "what is missing" list, the DTR questionnaire generator and the SQL compiler all
read it; none keeps its own list.

A fact is either present with a value, absent (not reported: the engine's *unknown*), or in
conflict (reported twice with different values, contradicted by the request's own record, about
another condition than the one requested, or too old to use: treated as absent, with the reason
named). A present fact may carry a note saying why part of it cannot settle a criterion (a prior
therapy whose drug the policy does not know).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from medpolicy.catalogue import KNOWN_FACTS, Catalogue, FactKind, FactSpec, shared_catalogue
from medpolicy.catalogue.derive import EVERYTHING, Reading, Scope
from medpolicy.record.legacy import RecordLike, RecordView
from medpolicy.record.model import ClinicalRecord
from medpolicy.request import Request

__all__ = ["FACTS", "FactKind", "FactSpec", "Facts", "as_record", "extract_facts"]

shared_catalogue()  # its facts known before any policy's
# every fact known: the shared catalogue's and each loaded policy's own (``catalogue.register``)
FACTS: Mapping[str, FactSpec] = KNOWN_FACTS


class Facts(NamedTuple):
    """Flat, read-only view of one request's facts (made for every request: a tuple is cheap)."""

    values: Mapping[str, Any]
    conflicts: Mapping[str, str] = MappingProxyType({})  # absent facts: why they cannot be used
    notes: Mapping[str, str] = MappingProxyType({})  # present facts: why part of one is unusable

    def get(self, path: str) -> Any:  # None when absent
        return self.values.get(path)

    def has(self, path: str) -> bool:
        return self.values.get(path) is not None


def as_record(request: Request | ClinicalRecord) -> RecordLike:
    """The clinical record of a request in either format (one of the earlier format is read in
    place: ``record.legacy.RecordView``)."""
    return request if isinstance(request, ClinicalRecord) else RecordView(request)


def extract_facts(
    request: Request | ClinicalRecord | RecordView,
    scope: Scope = EVERYTHING,
    catalogue: Catalogue | None = None,
) -> Facts:
    """The request's facts as the catalogue reads them from its clinical record, in the
    catalogue's order (absent facts are left out, conflicts named)."""
    record = request if isinstance(request, RecordView) else as_record(request)
    values, conflicts = (catalogue or shared_catalogue()).reader(Reading(record, scope))
    return _facts((values, conflicts, _NO_NOTES))


# ``Facts((values, conflicts, notes))`` without the named tuple's ``__new__`` (a Python
# function): facts are extracted for every request.
_facts = functools.partial(tuple.__new__, Facts)
_NO_NOTES: Mapping[str, str] = MappingProxyType({})
