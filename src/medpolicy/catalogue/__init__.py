"""The fact catalogue, as data: every fact the criteria read, declared once.

The shared catalogue (``oncology.yaml`` beside this module) declares each fact's words, kind,
values, unit and where in the clinical record it comes from; a policy may declare facts of its
own in the same form (its ``facts:`` section), merged over the shared ones for that policy. The
engine, the reason wording, the missing-information list and the questionnaire read the
catalogue; no fact is written in engine code.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import yaml

from medpolicy.catalogue.derive import Derivation, Reader, compile_derivation, compile_reader

__all__ = [
    "KINDS",
    "KNOWN_FACTS",
    "Catalogue",
    "FactKind",
    "FactSpec",
    "build_catalogue",
    "register",
    "shared_catalogue",
    "shared_drugs",
]

FactKind = Literal[
    "code", "codes", "decimal", "integer", "boolean", "date", "choice", "choices", "records"
]
KINDS: tuple[str, ...] = (
    "code",
    "codes",
    "decimal",
    "integer",
    "boolean",
    "date",
    "choice",
    "choices",
    "records",
)
SHARED = Path(__file__).with_name("oncology.yaml")
SHARED_DRUGS = Path(__file__).with_name("drugs.yaml")


@dataclass(frozen=True)
class FactSpec:
    path: str
    label: str  # the words a provider's office reads in "missing information"
    kind: FactKind
    choices: tuple[str, ...] = ()
    request_field: str = ""  # where a provider supplies it in the earlier request format
    unit: str | None = None
    name: str = ""  # a short name for quoting a reported value
    derive: Derivation | None = field(default=None, repr=False, compare=False)
    source: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    about_requested: bool = False  # read only from findings about the condition requested
    # where a claims audit reads it: (input, its columns); None when claims do not carry it
    claims: tuple[str, tuple[str, ...]] | None = None
    plausible_max: Decimal | None = None  # in ``unit``: more is refused as implausible
    positive: bool = False  # a measurement only more than zero can be: zero is refused


@dataclass(frozen=True, eq=False)
class Catalogue:
    facts: Mapping[str, FactSpec]
    # (path, how it is read) in the catalogue's order; the facts about the condition requested
    # apart, since they are read again once that condition is known
    derivations: tuple[tuple[str, Derivation], ...]
    about_requested: tuple[tuple[str, Derivation], ...]

    def __getitem__(self, path: str) -> FactSpec:
        return self.facts[path]

    def __contains__(self, path: object) -> bool:
        return path in self.facts

    @functools.cached_property
    def reader(self) -> Reader:
        """Every fact of ``derivations`` read by one generated function."""
        return compile_reader([(p, self.facts[p].source, d) for p, d in self.derivations])

    def only(self, paths: frozenset[str]) -> Catalogue:
        """The same catalogue reading only these facts (what one policy's rules need)."""
        return Catalogue(
            self.facts,
            tuple((p, d) for p, d in self.derivations if p in paths),
            tuple((p, d) for p, d in self.about_requested if p in paths),
        )

    def extend(self, entries: Mapping[str, Any]) -> Catalogue:
        """This catalogue with a policy's own facts added (ValueError: what is wrong)."""
        return build_catalogue(entries, self) if entries else self


# Every fact known to this process: the shared catalogue's, and each loaded policy's own. A fact's
# path means one thing everywhere (its words, kind and values are read by wording, questions and
# the reason text); ``register`` refuses a second, different meaning.
_KNOWN: dict[str, FactSpec] = {}
KNOWN_FACTS: Mapping[str, FactSpec] = MappingProxyType(_KNOWN)


def register(catalogue: Catalogue) -> list[str]:
    """Make a policy's facts known to the process; the paths already known otherwise."""
    clashes = []
    for path, spec in catalogue.facts.items():
        known = _KNOWN.get(path)
        if known is None:
            _KNOWN[path] = spec
        elif known != spec:
            clashes.append(path)
    return clashes


def build_catalogue(entries: Mapping[str, Any], base: Catalogue | None = None) -> Catalogue:
    """A catalogue from ``facts:`` entries (over ``base``'s, when given). ValueError lists every
    problem, each with its fact's path."""
    problems: list[str] = []
    specs: dict[str, FactSpec] = dict(base.facts) if base else {}
    for path, raw in entries.items():
        try:
            specs[str(path)] = _spec(str(path), raw)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"facts.{path}: {exc}")
    if problems:
        raise ValueError("; ".join(problems))
    derivations = tuple((p, s.derive) for p, s in specs.items() if s.derive is not None)
    return Catalogue(
        MappingProxyType(specs),
        derivations,
        tuple((p, d) for p, d in derivations if specs[p].about_requested),
    )


def _spec(path: str, raw: Any) -> FactSpec:
    if not isinstance(raw, Mapping):
        raise ValueError("a fact is a mapping of label, name, kind, from")
    keys = {
        *("label", "name", "kind", "choices", "unit", "field", "from", "claims"),
        *("plausible_max", "positive"),
    }
    unknown = set(raw) - keys
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    source = raw.get("from")
    if not isinstance(source, Mapping):
        raise ValueError("'from' says where in the clinical record the fact comes from")
    # never a value read in whatever unit it came in
    read_as = source.get("unit")
    if (
        "observation" in source
        and source.get("take", "value") == "value"
        and read_as != raw.get("unit")
    ):
        raise ValueError("an observation's value is read in the fact's unit: give 'from' its unit")
    return FactSpec(
        path=path,
        label=" ".join(str(raw["label"]).split()),
        kind=kind,
        choices=tuple(str(c) for c in raw.get("choices") or ()),
        request_field=str(raw.get("field", "")),
        unit=raw.get("unit"),
        name=str(raw.get("name", path)),
        derive=compile_derivation(path, source),
        source=source,
        about_requested=source.get("about") == "requested",
        claims=_claims(raw.get("claims")),
        plausible_max=_plausible_max(raw.get("plausible_max")),
        positive=_positive(raw.get("positive", False)),
    )


def _positive(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ValueError("'positive' is true or false")
    return raw


def _plausible_max(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0:
        raise ValueError("'plausible_max' is a positive number, in the fact's unit")
    return value


def _claims(raw: Any) -> tuple[str, tuple[str, ...]] | None:
    if raw is None:
        return None
    columns = raw.get("columns") if isinstance(raw, Mapping) else None
    if (
        not isinstance(raw, Mapping)
        or set(raw) != {"input", "columns"}
        or not isinstance(raw["input"], str)
        or not isinstance(columns, list)
        or not columns
        or not all(isinstance(c, str) for c in columns)
    ):
        raise ValueError("'claims' is {input: <a claims-audit input>, columns: [<its columns>]}")
    return raw["input"], tuple(columns)


@functools.cache
def shared_catalogue() -> Catalogue:
    """The shared catalogue every policy reads (and may add to)."""
    document = yaml.safe_load(SHARED.read_text(encoding="utf-8"))
    catalogue = build_catalogue(document["facts"])
    register(catalogue)
    return catalogue


@functools.cache
def shared_drugs() -> Mapping[str, Any]:
    """The shared drug vocabulary's entries as written (the policy loader checks and builds
    them, with a policy's own)."""
    document = yaml.safe_load(SHARED_DRUGS.read_text(encoding="utf-8"))
    return MappingProxyType(dict(document["drugs"]))
