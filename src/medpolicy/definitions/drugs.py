"""Drugs by identity: a policy's drug vocabulary, and how a reported drug is matched against it.

A drug is identified by a code (HCPCS, RxNorm, NDC) or by its name matched *whole* after
normalization, never by a substring: "Brand-A (not Brand-B)" does not name Brand-B. Normalizing
removes only what does not change which drug a name means:

- case, and the trade-mark signs (™ ® © ℠, and their spelled-out forms "(R)", "(TM)");
- every Unicode dash and hyphen, and spacing ("AB 12", "AB‑12" and "AB12" are one name);
- a strength ("160 mg", "20 mg/mL") and the words of a dosage form ("for injection", "vial");
- a bracketed part, which is read as a second name of the same drug ("Brand-A (generic-a)"):
  each part must name the same drug, or the name is a contradiction.

A name that matches nothing in the vocabulary is *unknown*: it is asked to be confirmed, never
taken for "some other drug". The vocabulary is data, written in the policy file; nothing here
names a drug.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

__all__ = [
    "CODE_SYSTEMS",
    "DrugEntry",
    "DrugVocabulary",
    "Identity",
    "normalize_code",
    "normalize_name",
]

CodeSystem = Literal["hcpcs", "rxnorm", "ndc"]
CODE_SYSTEMS: tuple[CodeSystem, ...] = ("hcpcs", "rxnorm", "ndc")

# Trade-mark signs, and their spelled-out forms, removed before anything else (NFKC would turn
# "™" into the letters "TM").
_MARKS = re.compile(r"[™®©℠]|\((?:r|tm|c)\)", re.IGNORECASE)
# Every dash and hyphen Unicode has (Pd), the minus sign, and the small and full-width forms.
_DASHES = re.compile(r"[\u2010-\u2015\u2212\u2043\ufe58\ufe63\uff0d\u00ad-]")
# A strength: a number with a unit of mass, volume or concentration ("160 mg", "20mg/ml").
_STRENGTH = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|ug|g|ml|units?)(?:\s*/\s*\d*(?:[.,]\d+)?\s*(?:ml|kg|vial))?\b"
)
# Words of a dosage form or package that say nothing about which drug it is.
_FORM_WORDS = frozenset(
    {
        "injection",
        "injectable",
        "for",
        "intravenous",
        "iv",
        "infusion",
        "lyophilized",
        "powder",
        "solution",
        "single",
        "dose",
        "singledose",
        "vial",
        "vials",
        "use",
        "only",
    }
)
_SYSTEM_NAMES: dict[CodeSystem, str] = {"hcpcs": "HCPCS", "rxnorm": "RxNorm", "ndc": "NDC"}
_BRACKETS = re.compile(r"[()\[\]{}]")
_SEPARATORS = re.compile(r"[\s_.,;:/'\"-]+")


@functools.lru_cache(maxsize=8192)  # names recur across requests; normalizing is pure
def normalize_name(name: str) -> tuple[str, ...]:
    """The name's parts, each normalized to letters and digits only; () when nothing is left.

    "Brand-A® 160 mg (generic‑a mab)" -> ("branda", "genericamab").
    """
    text = _MARKS.sub(" ", name)
    text = unicodedata.normalize("NFKC", text).casefold()
    # format characters (zero-width spaces and joiners, soft hyphens) are invisible in a name
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = _DASHES.sub("-", text)
    text = _STRENGTH.sub(" ", text)
    parts = []
    for part in _BRACKETS.split(text):
        words = [w for w in _SEPARATORS.split(part) if w and w not in _FORM_WORDS]
        # hyphens and spaces join the words of one name: "t-dm1", "t dm1" and "tdm1" are one
        joined = "".join(words)
        if joined:
            parts.append(joined)
    return tuple(parts)


def normalize_code(system: CodeSystem, code: str) -> str:
    """A code as the vocabulary keys it: upper-case HCPCS; RxNorm as written; NDC digits only
    (10- and 11-digit forms are both kept in the vocabulary, so neither is padded here)."""
    code = code.strip()
    if system == "hcpcs":
        return code.upper()
    if system == "ndc":
        return re.sub(r"[^0-9]", "", code)
    return code


@dataclass(frozen=True)
class DrugEntry:
    """One drug the policy can tell apart from the others: every name and code it goes by."""

    id: str
    label: str  # how a reason or a question names it
    names: tuple[str, ...]
    codes: Mapping[CodeSystem, tuple[str, ...]] = field(default_factory=dict)
    classes: tuple[str, ...] = ()  # e.g. taxane: what a policy may ask a prior therapy to be


@dataclass(frozen=True)
class Identity:
    """What a reported drug is, by the vocabulary: ``id`` when every name and code it carries
    names one known drug; otherwise None, with ``problem`` saying why (unknown, or two drugs)."""

    id: str | None
    problem: str | None = None


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one per loaded policy
class DrugVocabulary:
    entries: Mapping[str, DrugEntry]
    by_name: Mapping[str, str]  # normalized name part -> drug id
    by_code: Mapping[tuple[CodeSystem, str], str]  # (system, normalized code) -> drug id

    @classmethod
    def build(cls, entries: Iterable[DrugEntry]) -> tuple[DrugVocabulary, list[str]]:
        """The vocabulary, and every problem found: a name or code that two drugs share, a name
        that normalizes to nothing or to two names."""
        problems: list[str] = []
        by_id: dict[str, DrugEntry] = {}
        by_name: dict[str, str] = {}
        by_code: dict[tuple[CodeSystem, str], str] = {}
        for entry in entries:
            by_id[entry.id] = entry
            for name in entry.names:
                parts = normalize_name(name)
                if len(parts) != 1:
                    problems.append(f"{entry.id}: the name {name!r} must normalize to one name")
                    continue
                other = by_name.setdefault(parts[0], entry.id)
                if other != entry.id:
                    problems.append(f"{entry.id}: the name {name!r} is also a name of {other}")
            for system, codes in entry.codes.items():
                for code in codes:
                    key = (system, normalize_code(system, code))
                    other = by_code.setdefault(key, entry.id)
                    if other != entry.id:
                        problems.append(f"{entry.id}: {system} {code} is also a code of {other}")
        vocabulary = cls(
            MappingProxyType(by_id), MappingProxyType(by_name), MappingProxyType(by_code)
        )
        return vocabulary, problems

    def identify(self, name: str | None, codes: Iterable[tuple[CodeSystem, str]] = ()) -> Identity:
        """The drug a reported name and codes identify (see ``Identity``)."""
        return self._identify(name, tuple(codes))

    @functools.lru_cache(maxsize=4096)  # noqa: B019 (a vocabulary lives as long as its policy)
    def _identify(self, name: str | None, codes: tuple[tuple[CodeSystem, str], ...]) -> Identity:
        found: dict[str, str] = {}  # drug id -> what named it
        unknown: list[str] = []
        for system, code in codes:
            drug = self.by_code.get((system, normalize_code(system, code)))
            if drug is None:
                unknown.append(f"{_SYSTEM_NAMES[system]} {code}")
            else:
                found.setdefault(drug, f"{system} {code}")
        if name is not None:
            parts = normalize_name(name)
            if not parts:
                unknown.append("its name")
            for part in parts:
                drug = self.by_name.get(part)
                if drug is None:
                    unknown.append("its name" if len(parts) == 1 else f"{part!r} in its name")
                else:
                    found.setdefault(drug, repr(name))
        if len(found) > 1:
            named = " and ".join(self.entries[d].label for d in sorted(found))
            return Identity(None, f"names two different drugs ({named})")
        if unknown == ["its name"]:
            return Identity(None, "is not a drug this policy knows")
        if unknown:
            return Identity(None, f"is not a drug this policy knows ({', '.join(unknown)})")
        if not found:
            return Identity(None, "names no drug")
        return Identity(next(iter(found)))
