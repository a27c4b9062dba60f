"""The decision record: one fixed vocabulary of outcomes, carried by every surface.

A decision is data: it names the policy (id, version, content hash) and engine version it came
from, the clause behind every criterion, the facts each criterion read, and, for anything but an
approval, the specific reasons or the exact facts still needed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Self

import orjson
from orjson import Fragment
from pydantic import BaseModel, ConfigDict
from typing_extensions import TypedDict

__all__ = [
    "Authorization",
    "ClaimLineOut",
    "Criterion",
    "Decision",
    "DecisionLike",
    "Determination",
    "MissingFact",
    "Outcome",
    "PathwayResult",
    "PolicyRef",
    "PrecautionOut",
    "Reason",
    "Scope",
    "VialCount",
    "WordedPathway",
]


class Outcome(StrEnum):
    approved = "approved"
    missing_information = "missing_information"
    not_met = "not_met"
    out_of_scope = "out_of_scope"


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def assemble(cls, **fields: Any) -> Self:
        """The record from values the engine computed from validated input, every field given,
        without validating again: ``model_construct`` without its per-field bookkeeping, which
        costs more than deciding. Tests hold what it builds equal to the validated model."""
        return cls.assemble_from(fields)

    @classmethod
    def assemble_from(cls, fields: dict[str, Any]) -> Self:
        """``assemble`` from a dict of every field that the caller has just built and hands over:
        it becomes the record's own. Keyword arguments are packed into a new dict on each call,
        which for a record of a dozen fields costs more than the rest of ``assemble``."""
        record = _new(cls)
        _set_dict(record, fields)
        _set_fields_set(record, set(fields))
        _set_extra(record, None)
        _set_private(record, None)
        return record


# What ``assemble_from`` sets, set by the model's own slots (``BaseModel.__slots__``) directly:
# ``object.__setattr__`` by name looks each one up again, for every record.
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class Criterion(TypedDict):
    """One node of the criteria trace. A plain mapping: a decision carries dozens of them."""

    id: str
    criterion: str
    clause: str
    text: str
    reading: str | None
    result: str  # met | not_met | unknown
    facts: dict[str, Any]
    missing: list[str]
    detail: str
    flags: list[str]
    children: list[Criterion]


class PathwayResult(_Out):
    id: str
    phase: str
    indication: str | None
    indication_label: str | None
    applicable: bool
    result: str  # met | not_met | unknown | not_applicable
    clause: str
    criteria: Criterion | None = None


class Reason(_Out):
    pathway: str
    criterion: str
    clause: str
    text: str
    detail: str


class MissingFact(_Out):
    fact: str
    label: str
    request_field: str
    needed_for: list[str]
    clauses: list[str]
    note: str | None = None


class VialCount(_Out):
    size_mg: int
    count: int


class ClaimLineOut(_Out):
    hcpcs: str
    modifier: str | None
    units: int


class Authorization(_Out):
    # What cannot be computed for want of a fact no criterion needed (e.g. the weight, for a
    # flat-dose policy's order in mg) is None, never guessed.
    hcpcs: str
    period_start: date
    period_end: date
    months: int
    dose_mg: str | None
    mg_per_kg: str | None
    weight_kg: str | None
    interval_days: int | None
    administrations: int | None
    units_per_administration: int | None
    total_units: int | None
    vials_per_administration: list[VialCount] | None
    waste_units_per_administration: int | None
    claim_lines_per_administration: list[ClaimLineOut] | None


class PolicyRef(_Out):
    id: str
    title: str
    payer: str
    version: str
    effective_date: date
    content_hash: str


class Scope(_Out):
    line_of_business: str | None
    applies: bool | None
    clause: str | None = None
    text: str | None = None
    route_to: str | None = None


class PrecautionOut(_Out):
    id: str
    kind: str
    clause: str
    text: str


class Decision(_Out):
    decision_id: str
    request_id: str
    outcome: Outcome
    summary: str
    request_type: str
    evaluated_at: datetime
    policy: PolicyRef
    engine_version: str
    code_set: str
    scope: Scope
    indications: list[str]
    pathways: list[PathwayResult]
    reasons: list[Reason]
    missing_information: list[MissingFact]
    authorization: Authorization | None
    flags: list[str]
    precautions: list[PrecautionOut]

    @property
    def applicable_pathways(self) -> list[str]:
        return [p.id for p in self.pathways if p.applicable]

    def to_json(self, *, indent: bool = False) -> str:
        """Canonical JSON: the same request under the same policy gives the same bytes."""
        return canonical_json(self, indent=indent)


class Determination:
    """The engine's coverage determination for one request: everything a decision states.

    Every part is computed when the determination is made, the result of every criterion
    included (``results``: per pathway id, each node's result as a rank of ``logic`` in the
    tree's preorder; None for a pathway that does not apply). Two parts are *worded* on first
    use, because most callers never read them and wording costs more than deciding: the criteria
    trees, with each node's clause, facts and explanation, and ``decision_id``, a digest of the
    request. The criteria are worded straight to their canonical JSON, which ``to_json()``
    splices into the record's; ``pathways`` and ``record()`` (the serializable ``Decision``) read
    them back as plain mappings. An approval's authorization is computed with the decision, as
    its fields; the pydantic record object over them is made when ``authorization`` is read.
    """

    __slots__ = (
        "_authorization",
        "_authorized",
        "_id",
        "_identify",
        "_pathways",
        "_word",
        "_worded",
        "code_set",
        "engine_version",
        "evaluated_at",
        "flags",
        "indications",
        "missing_information",
        "outcome",
        "policy",
        "precautions",
        "reasons",
        "request_id",
        "request_type",
        "results",
        "scope",
        "summary",
    )

    # Positional: the engine makes one per request, and matching eighteen keyword arguments
    # cost more than some of the parts computed (``decide`` names each argument beside it).
    def __init__(
        self,
        request_id: str,
        outcome: Outcome,
        summary: str,
        request_type: str,
        evaluated_at: datetime,
        policy: PolicyRef,
        engine_version: str,
        code_set: str,
        scope: Scope,
        indications: list[str],
        results: dict[str, tuple[int, ...] | None],
        reasons: list[Reason],
        missing_information: list[MissingFact],
        authorized: dict[str, Any] | None,  # the authorization's fields, in its order
        flags: list[str],
        precautions: list[PrecautionOut],
        word: Callable[[], list[WordedPathway]],
        identify: Callable[[], str],
    ) -> None:
        self.request_id = request_id
        self.outcome = outcome
        self.summary = summary
        self.request_type = request_type
        self.evaluated_at = evaluated_at
        self.policy = policy
        self.engine_version = engine_version
        self.code_set = code_set
        self.scope = scope
        self.indications = indications
        self.results = results
        self.reasons = reasons
        self.missing_information = missing_information
        self._authorized = authorized
        self._authorization: Authorization | None = None
        self.flags = flags
        self.precautions = precautions
        self._word = word
        self._identify = identify
        self._id: str | None = None
        self._worded: list[WordedPathway] | None = None
        self._pathways: list[PathwayResult] | None = None

    @property
    def decision_id(self) -> str:
        if self._id is None:
            self._id = self._identify()
        return self._id

    @property
    def authorization(self) -> Authorization | None:
        """What an approval authorizes (None otherwise). Computed with the decision; the record
        object is made on first read, and the JSON is written from the fields themselves."""
        if self._authorization is None and self._authorized is not None:
            self._authorization = Authorization.assemble_from(self._authorized)
        return self._authorization

    @property
    def applicable_pathways(self) -> list[str]:
        """The ids of the pathways that apply, in the record's order, without wording them."""
        return [p for p, ranks in self.results.items() if ranks is not None]

    def _worded_pathways(self) -> list[WordedPathway]:
        if self._worded is None:
            self._worded = self._word()
        return self._worded

    @property
    def pathways(self) -> list[PathwayResult]:
        if self._pathways is None:
            self._pathways = [
                outline if criteria is None else _with_criteria(outline, orjson.loads(criteria))
                for outline, criteria in self._worded_pathways()
            ]
        return self._pathways

    def record(self) -> Decision:
        return Decision.assemble(**self._record_fields(self.pathways, self.authorization))

    def to_json(self, *, indent: bool = False) -> str:
        if indent:
            return canonical_json(self.record(), indent=True)
        # The criteria trees are already JSON text: the rest of the record is written with a mark
        # where each goes, and the trees are joined in, without encoding and decoding them again.
        worded = self._worded_pathways()
        pathways = [
            outline if tree is None else {**outline.__dict__, "criteria": _TREE}
            for outline, tree in worded
        ]
        # the authorization's fields are what its record object holds, and are written alike
        fields = self._record_fields(pathways, self._authorized)
        rest = orjson.dumps(fields, default=_fields, option=_COMPACT)
        trees = [tree for _, tree in worded if tree is not None]
        around = rest.split(_TREE_MARK)  # bytes: a NUL is found far faster than in text
        text = [around[0].decode()]
        for tree, after in zip(trees, around[1:], strict=True):
            text += (tree, after.decode())
        return "".join(text)

    def _record_fields(self, pathways: list[Any], authorization: Any) -> dict[str, Any]:
        """The record's fields, in its order."""
        return {
            "decision_id": self.decision_id,
            "request_id": self.request_id,
            "outcome": self.outcome,
            "summary": self.summary,
            "request_type": self.request_type,
            "evaluated_at": self.evaluated_at,
            "policy": self.policy,
            "engine_version": self.engine_version,
            "code_set": self.code_set,
            "scope": self.scope,
            "indications": self.indications,
            "pathways": pathways,
            "reasons": self.reasons,
            "missing_information": self.missing_information,
            "authorization": authorization,
            "flags": self.flags,
            "precautions": self.precautions,
        }


# A pathway's record without its criteria, and, when it applies, its criteria tree as JSON text.
WordedPathway = tuple[PathwayResult, str | None]

# Where a criteria tree goes in a record's JSON: orjson writes no NUL character of its own (in
# strings it escapes every control character), so the marks are the only ones.
_TREE_MARK = b"\0"
_TREE = Fragment(_TREE_MARK)


def _with_criteria(outline: PathwayResult, criteria: Criterion) -> PathwayResult:
    return PathwayResult.assemble(**{**outline.__dict__, "criteria": criteria})


def canonical_json(record: BaseModel, *, indent: bool = False) -> str:
    """The record exactly as pydantic's ``model_dump_json()`` writes it (compact: what is stored,
    hashed and sent), or with ``indent``, as ``model_dump_json(indent=2)`` plus a newline (for
    people at a terminal). Written by orjson: the same bytes (tests hold the two equal for every
    case and example) in a fraction of the time, which every stored decision pays."""
    if indent:
        return orjson.dumps(record, default=_fields, option=_INDENTED).decode() + "\n"
    return orjson.dumps(record, default=_fields, option=_COMPACT).decode()


_COMPACT = orjson.OPT_UTC_Z
_INDENTED = orjson.OPT_INDENT_2 | orjson.OPT_UTC_Z


def _fields(value: object) -> dict[str, Any]:
    # Records are frozen, forbid extra fields and carry no private ones: their fields, in order.
    if isinstance(value, BaseModel):
        return value.__dict__
    raise TypeError(f"{type(value).__name__} is not part of a decision record")


# What the surfaces read: a determination just made, or a decision record read back from a store.
DecisionLike = Decision | Determination
