"""ICD-10-CM codes and the value sets a guideline's Billing/Coding section lists.

The code set is the one shipped by the pinned ``simple-icd-10-cm`` package (1.5.0: ICD-10-CM FY2026,
April 1 2026 update). Two facts about that code set shape this module:

- Only *billable* codes (leaves of the tabular list) are valid on a claim. A header such as C50.9
  or C34.1 exists but never matches a value set; ``is_billable`` lets callers say why.
- A range means "every billable code from ``first`` to ``last`` in tabular order", which is not
  always the alphabetical order: C50.A0–C50.A2 (inflammatory breast cancer, new for FY2026) come
  after C50.929, so "C50.011–C50.929" does not contain them; and C84.Z*, C4A* sit *before* codes
  that sort below them. Codes a range omits but the guideline's text plainly covers are accepted
  only through an explicit, reasoned ``accepted_by_text`` entry, never silently.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

__all__ = [
    "Match",
    "ValueSet",
    "ValueSetError",
    "Via",
    "code_set_version",
    "description",
    "expand_range",
    "is_billable",
    "is_valid",
    "normalize",
    "normalized_or_none",
]

# Letter, two alphanumerics (C50, C4A, and since FY2026 QA0), then up to four more after the dot.
_CODE = re.compile(r"([A-Z][0-9A-Z]{2})(?:\.?([0-9A-Z]{1,4}))?")
_PACKAGE = "simple_icd_10_cm"
_TABULAR_FILE = re.compile(
    r"icd10c-tabular-([A-Za-z]+)-(\d{1,2})-(\d{4})\.xml"
)  # ...-April-1-2026.xml


def normalize(code: str) -> str:
    """Upper-case dotted form: ``"c50911"`` → ``"C50.911"``. ValueError if malformed.

    This checks the shape only; ``is_valid`` checks that the code exists.
    """
    found = _CODE.fullmatch(code.strip().upper()) if isinstance(code, str) else None
    if found is None:
        raise ValueError(f"malformed ICD-10-CM code {code!r}")
    head, tail = found.groups()
    return head if tail is None else f"{head}.{tail}"


def is_valid(code: str) -> bool:
    """True when the code exists in the code set (billable or not); False if malformed."""
    key = normalized_or_none(code)
    return key is not None and key in _tabular().position


def is_billable(code: str) -> bool:
    """True when the code exists and is a leaf of the tabular list, i.e. valid on a claim."""
    key = normalized_or_none(code)
    return key is not None and key in _tabular().billable


def description(code: str) -> str:
    """The code's title in the tabular list. ValueError if it does not exist."""
    key = normalize(code)
    if key not in _tabular().position:
        raise ValueError(f"{key} does not exist in {code_set_version()}")
    return str(_icd().get_description(key))


def expand_range(first: str, last: str) -> tuple[str, ...]:
    """Every billable code from ``first`` through ``last`` (and ``last``'s sub-codes), in tabular
    order. ``expand_range("C07", "C07")`` is ``("C07",)``; a header endpoint such as C08 stands
    for all of its sub-codes. ValueError if an endpoint does not exist or comes after the other.
    """
    return _expand(normalize(first), normalize(last))


@functools.cache
def code_set_version() -> str:
    """The data release in use, e.g. "ICD-10-CM FY2026 (April 1, 2026)".

    Read from the package's data file name and its ``<version>`` element, without importing the
    package (that parse takes ~1.7 s). Falls back to naming the package version.
    """
    spec = importlib.util.find_spec(_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    files = [p for d in folders for p in (Path(d) / "data").glob("icd10c-tabular-*.xml")]
    named = _TABULAR_FILE.fullmatch(files[0].name) if len(files) == 1 else None
    if named is None:
        return f"ICD-10-CM as shipped by simple-icd-10-cm {importlib.metadata.version(_PACKAGE)}"
    month, day, year = named.groups()
    with files[0].open(encoding="utf-8") as head:
        fiscal = re.search(r"<version>(\d{4})</version>", head.read(2048))
    fy = f"FY{fiscal.group(1)} " if fiscal else ""
    return f"ICD-10-CM {fy}({month} {day}, {year})"


# -- value sets -------------------------------------------------------------------------------

Via = Literal["listed", "range", "accepted_by_text"]


@dataclass(frozen=True)
class Match:
    """Why a code is in a value set: the entry that put it there, as the guideline words it."""

    code: str
    via: Via
    entry: str  # e.g. "C07" or "C50.011–C50.929"
    note: str | None = None  # the entry's note; for accepted_by_text, the stated reason


class ValueSetError(ValueError):
    """Every problem found in a value set's entries, each with its path (not just the first)."""

    def __init__(self, name: str, problems: Sequence[str]) -> None:
        self.name = name
        self.problems = tuple(problems)
        listed = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"value set {name!r} has {len(self.problems)} problem(s):\n{listed}")


@dataclass(frozen=True)
class ValueSet:
    """A named set of billable ICD-10-CM codes built from a guideline's list of codes and ranges."""

    name: str
    code_set: str  # code_set_version() at build time, for citations and decision records
    entries: tuple[str, ...]  # each entry as written, e.g. ("C07", "C50.011–C50.929")
    members: Mapping[str, Match] = field(repr=False, hash=False)  # in tabular order
    codes: frozenset[str] = field(repr=False)

    @classmethod
    def build(cls, name: str, entries: Sequence[Mapping[str, Any]]) -> ValueSet:
        """Entries: ``{"code": "C07"}``, ``{"range": ["C50.011", "C50.929"]}`` (either may carry
        a ``note``), or ``{"accepted_by_text": [...], "reason": "..."}``. Raises ValueSetError
        listing every malformed or unknown code and every ill-formed entry.
        """
        builder = _Builder(name)
        for i, entry in enumerate(entries):
            builder.add(f"entries[{i}]", entry)
        return builder.finish()

    @functools.cached_property
    def accepted_by_text(self) -> frozenset[str]:
        """The members the guideline's text covers but its listed codes and ranges omit."""
        return frozenset(c for c, m in self.members.items() if m.via == "accepted_by_text")

    @functools.cached_property
    def categories(self) -> frozenset[str]:
        """Every category above a member, dotless ("C50", "C509", "C5091" for C50.912)."""
        return frozenset(
            dotless[:n]
            for dotless in (c.replace(".", "") for c in self.members)
            for n in range(3, len(dotless))
        )

    def covers(self, code: str) -> bool:
        """Whether ``code`` (normalized) is a member, or a category whose codes are members:
        C50.9 is breast cancer, though only its complete codes are billable."""
        return code in self.members or code.replace(".", "") in self.categories

    def match(self, code: str) -> Match | None:
        """How ``code`` belongs to this set, or None (also for malformed and non-billable codes)."""
        key = normalized_or_none(code)
        return None if key is None else self.members.get(key)


class _Builder:
    """Collects members and problems entry by entry; ``finish`` raises if any problem was seen."""

    _EXTRA_KEYS: Mapping[str, frozenset[str]] = {
        "code": frozenset({"note"}),
        "range": frozenset({"note"}),
        "accepted_by_text": frozenset({"reason"}),
    }

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[str] = []
        self.labels: list[str] = []
        self.members: dict[str, Match] = {}
        self.by_text: list[tuple[str, Match]] = []  # (path, match), checked against the rest

    def add(self, path: str, entry: object) -> None:
        if not isinstance(entry, Mapping):
            self.problems.append(f"{path}: expected a mapping, got {entry!r}")
            return
        kinds = [k for k in self._EXTRA_KEYS if k in entry]
        if len(kinds) != 1:
            self.problems.append(
                f"{path}: needs exactly one of 'code', 'range', 'accepted_by_text'"
            )
            return
        kind = kinds[0]
        for key in sorted(set(entry) - {kind} - self._EXTRA_KEYS[kind], key=str):
            self.problems.append(f"{path}: unknown key {key!r}")
        if kind == "code":
            self._listed(path, entry)
        elif kind == "range":
            self._range(path, entry)
        else:
            self._by_text(path, entry)

    def _listed(self, path: str, entry: Mapping[str, Any]) -> None:
        code = self._existing(f"{path}.code", entry["code"])
        if code is not None:
            # A header code (C08) stands for its billable sub-codes; a billable one for itself.
            self._put("listed", code, _note(entry, "note"), _expand(code, code))

    def _range(self, path: str, entry: Mapping[str, Any]) -> None:
        ends = entry["range"]
        if isinstance(ends, str) or not isinstance(ends, Sequence) or len(ends) != 2:
            self.problems.append(f"{path}.range: expected [first, last], got {ends!r}")
            return
        first, last = (self._existing(f"{path}.range[{i}]", end) for i, end in enumerate(ends))
        if first is None or last is None:
            return
        label = f"{first}–{last}"
        try:
            codes = _expand(first, last)
        except ValueError as exc:
            self.problems.append(f"{path}.range: {exc}")
            return
        self._put("range", label, _note(entry, "note"), codes)

    def _by_text(self, path: str, entry: Mapping[str, Any]) -> None:
        raw = entry["accepted_by_text"]
        reason = _note(entry, "reason")
        if not reason:
            self.problems.append(f"{path}.reason: accepted_by_text needs the guideline's reason")
        if isinstance(raw, str) or not isinstance(raw, Sequence) or not raw:
            self.problems.append(f"{path}.accepted_by_text: expected a list of codes, got {raw!r}")
            return
        found = [self._existing(f"{path}.accepted_by_text[{i}]", c) for i, c in enumerate(raw)]
        codes = [c for c in found if c is not None]
        for i, code in enumerate(found):
            if code is not None and code not in _tabular().billable:
                self.problems.append(
                    f"{path}.accepted_by_text[{i}]: {code} is a header, not a billable code"
                )
        label = ", ".join(codes)
        self.labels.append(label)
        self.by_text.extend((path, Match(c, "accepted_by_text", label, reason)) for c in codes)

    def _existing(self, path: str, raw: object) -> str | None:
        """The normalized code, or None after recording why it cannot be used."""
        code = normalized_or_none(raw) if isinstance(raw, str) else None
        if code is None:
            self.problems.append(f"{path}: {raw!r} is not an ICD-10-CM code")
        elif code not in _tabular().position:
            shown = code if code == raw else f"{raw!r} (read as {code})"
            self.problems.append(f"{path}: {shown} does not exist in {code_set_version()}")
            return None
        return code

    def _put(self, via: Via, label: str, note: str | None, codes: tuple[str, ...]) -> None:
        self.labels.append(label)
        for code in codes:
            # The first entry that covers a code is the one cited for it.
            self.members.setdefault(code, Match(code, via, label, note))

    def finish(self) -> ValueSet:
        for path, match in self.by_text:
            covered = self.members.get(match.code)
            if covered is not None and covered.via != "accepted_by_text":
                self.problems.append(
                    f"{path}: {match.code} is already covered by {covered.entry}; "
                    "accepted_by_text is only for codes the listed codes and ranges omit"
                )
            else:
                self.members.setdefault(match.code, match)
        if self.problems:
            raise ValueSetError(self.name, self.problems)
        position = _tabular().position
        ordered = dict(sorted(self.members.items(), key=lambda item: position[item[0]]))
        return ValueSet(
            name=self.name,
            code_set=code_set_version(),
            entries=tuple(self.labels),
            members=MappingProxyType(ordered),
            codes=frozenset(ordered),
        )


def _note(entry: Mapping[str, Any], key: str) -> str | None:
    value = entry.get(key)
    return str(value) if value is not None else None


# -- the code set, indexed once ---------------------------------------------------------------


@functools.cache
def _icd() -> Any:
    # Importing the package parses its 9.7 MB tabular XML (~1.7 s): defer that to the first
    # lookup so commands that never touch a code start fast. Its loader uses the deprecated
    # importlib.resources.read_text; that warning is the package's, not ours to act on.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


@dataclass(frozen=True)
class _Tabular:
    order: tuple[str, ...]  # every category and subcategory, in tabular order
    position: Mapping[str, int]
    billable: frozenset[str]


@functools.cache
def _tabular() -> _Tabular:
    icd = _icd()
    # get_all_codes() is the package's pre-order walk of chapters, blocks and codes, i.e. the
    # tabular order. Chapters ("2") and blocks ("C00-C14") fail the code pattern; a block holding
    # one category shares its name ("C50") and sits just before it, hence dict.fromkeys.
    names = dict.fromkeys(str(c) for c in icd.get_all_codes(True))
    order = tuple(c for c in names if _CODE.fullmatch(c))
    billable = frozenset(c for c in order if icd.is_leaf(c))
    return _Tabular(order, MappingProxyType({c: i for i, c in enumerate(order)}), billable)


@functools.lru_cache(maxsize=4096)
def _expand(first: str, last: str) -> tuple[str, ...]:
    tab = _tabular()
    for code in (first, last):
        if code not in tab.position:
            raise ValueError(f"{code} does not exist in {code_set_version()}")
    start, end = tab.position[first], tab.position[last]
    if end < start:
        raise ValueError(f"{last} comes before {first} in the tabular list")
    # A pre-order walk lists a code's descendants right after it, so the range ends after them.
    stop = end + len(_icd().get_descendants(last))
    return tuple(c for c in tab.order[start : stop + 1] if c in tab.billable)


def normalized_or_none(code: object) -> str | None:
    """The normalized code, or None when it is malformed (or not a string)."""
    return _normalized(code) if isinstance(code, str) else None


@functools.lru_cache(maxsize=8192)  # codes recur across requests; the shape check is pure
def _normalized(code: str) -> str | None:
    try:
        return normalize(code)
    except ValueError:
        return None
