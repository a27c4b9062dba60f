"""How a fact is read from the clinical record: the catalogue's ``from:`` forms, each compiled
once into a small function of the record.

A form names where in the record a fact comes from, never what the fact is about:

- ``{request: submitted_at, as: date}``, ``{member: line_of_business}``,
  ``{order: drug.hcpcs}``: a field of the request, the member or the order (``as: dose`` for a
  dose as value and unit; ``as: drugs`` for drugs as records of what was reported);
- ``{observation: [codes], take: value | date, unit: kg, agree: "what"}``: the latest dated
  observation with one of the codes (its value in the unit asked for, or its date); reports as
  recent (the same date, or none) that disagree, or a unit that cannot be read as the one asked
  for, are a conflict, named;
- ``{age: member.birth_date}``: whole years from that date to the request's;
- ``{codes: conditions}``: the ICD-10-CM codes of the member's conditions;
- ``{condition: recurrence_date}``: a field of the condition requested;
- ``{extent: conditions}``: the extent of the condition requested (or of the one whose code was
  not said);
- ``{finding: [codes], take: result | value, agree: "what"}``: the one value every finding with
  one of the codes reports (reports that disagree are a conflict, named, and no value);
- ``{concurrent: {first: [codes], second: [codes]}}``: whether two kinds of finding were made on
  the same specimen (or, without specimen ids, the same day);
- ``{records: medication_history | prior_authorizations, fields: [...], optional: [...]}``: a
  list as records of the fields named (optional ones only when reported);
- ``{compendium: field}``, ``{attestation: statement}``.

A finding-based fact may be ``about: requested``: only findings about the condition the request
is for are read (see ``Scope``); one about another condition, or one whose condition is not said
while the request concerns several, is left out and named.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from medpolicy.definitions.units import weight_in_kg
from medpolicy.record.legacy import RecordLike
from medpolicy.record.model import Finding

__all__ = [
    "EVERYTHING",
    "Conflict",
    "Derivation",
    "Reader",
    "Reading",
    "Scope",
    "compile_derivation",
    "compile_reader",
    "in_unit",
]


@dataclass(frozen=True)
class Conflict:
    """A fact reported more than once with different values, or only by findings that are not
    about the condition requested: no value, and this description of why."""

    description: str


class Scope:
    """Which conditions' findings a fact about "the condition requested" reads. ``why_not``
    gives, for a condition's code (None: not said), why its findings may not be used, or None
    when they may. The default reads every finding (before the condition is known)."""

    def why_not(self, code: str | None) -> str | None:
        return None

    def requested(self, code: str | None) -> bool:
        """Whether a condition's code is the one the request is for (for extents)."""
        return False


EVERYTHING = Scope()


class Reading:
    """One record being read, with what several facts share worked out once: every finding with
    the code of the condition it is about, and whether each condition's findings may be used."""

    __slots__ = ("_findings", "_why_not", "record", "scope")

    def __init__(self, record: RecordLike, scope: Scope = EVERYTHING) -> None:
        self.record, self.scope = record, scope
        self._findings: list[tuple[Finding, str | None]] | None = None
        self._why_not: dict[str | None, str | None] = {}

    def findings(self) -> list[tuple[Finding, str | None]]:
        found = self._findings
        if found is None:
            found = self._findings = [
                (f, c.code) for c in self.record.conditions or () for f in c.findings
            ]
        return found

    def why_not(self, code: str | None) -> str | None:
        if code in self._why_not:
            return self._why_not[code]
        why = self._why_not[code] = self.scope.why_not(code)
        return why


Value = Any  # a fact's value, a Conflict, or None (not reported)
Derivation = Callable[[Reading], Value]


def compile_derivation(path: str, spec: Mapping[str, Any]) -> Derivation:
    """The function reading one fact, from its catalogue ``from:`` form. ValueError names what
    is wrong with the form."""
    forms = [k for k in _FORMS if k in spec]
    if len(forms) != 1:
        raise ValueError(f"needs exactly one of {', '.join(_FORMS)}")
    return _FORMS[forms[0]](spec)


# -- fields of the request ------------------------------------------------------------------------


def _getter(dotted: str) -> Callable[[Any], Any]:
    """A dotted path's value, None where a part on the way is absent."""
    attributes = operator.attrgetter(dotted)

    def get(obj: Any) -> Any:
        try:
            return attributes(obj)
        except AttributeError:  # an absent part on the way (None has no such attribute)
            return None

    return get


_AS: dict[str, Callable[[Any], Any]] = {
    "date": lambda v: v.date(),
    "value": lambda v: v._value_,  # an enumeration's value, a plain str
    "dose": lambda d: {"value": d.value, "unit": d.unit},
    "drugs": lambda ds: [
        {"drug": d}
        if isinstance(d, str)
        else {k: v for k, v in d.__dict__.items() if v is not None}
        for d in ds
    ],
}


def _field(section: str) -> Callable[[Mapping[str, Any]], Derivation]:
    def form(spec: Mapping[str, Any]) -> Derivation:
        get = _getter(f"{section}.{spec[section]}" if section else str(spec["request"]))
        convert = _AS[spec["as"]] if "as" in spec else None

        def derive(reading: Reading) -> Value:
            value = get(reading.record)
            return value if value is None or convert is None else convert(value)

        return derive

    return form


# The reader's own expressions for the simplest of those conversions (``{0}``: the field's local),
# each the lambda's body, written in place instead of called.
_AS_INLINE: dict[str, str] = {
    "date": "{0}.date()",
    "value": "{0}._value_",
    "dose": '{{"value": {0}.value, "unit": {0}.unit}}',
}


# -- observations ---------------------------------------------------------------------------------

_UNITS: dict[str, Callable[[Decimal, str], Decimal | None]] = {
    "kg": lambda value, unit: weight_in_kg(value, unit) if unit in ("kg", "lb") else None,
}  # any other unit is read only as itself


def in_unit(value: Decimal, unit: str, wanted: str) -> Decimal | None:
    """An observation's value in the unit a fact is read in (None: it cannot be converted)."""
    if unit == wanted:
        return value
    convert = _UNITS.get(wanted)
    try:
        return None if convert is None else convert(value, unit)
    except (ValueError, TypeError):
        return None


def _observation(spec: Mapping[str, Any]) -> Derivation:
    """The latest dated observation with one of the codes: its value in the unit asked for, or
    its date. Reports that may be as recent (the same date, or none) must agree: two weights
    measured the same day are a conflict, named, not a choice. A value in a unit that cannot be
    read as the one asked for is named too, never read as if it were."""
    codes = frozenset(str(c) for c in spec["observation"])
    take, unit = spec.get("take", "value"), spec.get("unit")
    label = str(spec.get("agree", spec["observation"][0]))

    def derive(reading: Reading) -> Value:
        found = [o for o in reading.record.observations or () if o.code in codes]
        if not found:
            return None
        latest = found[0]
        for o in found[1:]:
            if _later(o.date, latest.date):
                latest = o
        if take == "date":
            return latest.date
        if len(found) == 1:  # most records: one measurement
            return _in_unit(latest, unit)
        values = []
        for o in found:
            if o.date == latest.date or o.date is None:
                value = _in_unit(o, unit)
                if isinstance(value, Conflict):
                    return value
                values.append((value, o))
        if len({v for v, _ in values}) > 1:
            listed = "; ".join(_shown(f"{o.value} {o.unit}", o.date) for _, o in values)
            return Conflict(f"conflicting {label} reported: {listed}")
        return values[0][0]

    return derive


def _in_unit(o: Any, unit: str | None) -> Value:
    """An observation's value in ``unit`` (None: as reported), or a conflict naming a unit that
    cannot be read as it."""
    if unit is None or o.unit == unit:  # most observations are in the unit asked for
        return o.value
    value = in_unit(o.value, o.unit, unit)
    if value is None:
        return Conflict(f"{o.value} {o.unit} is not in {unit} (nor in a unit converted to {unit})")
    return value


def _later(a: date | None, b: date | None) -> bool:
    return a is not None and (b is None or a > b)


# -- conditions and findings ----------------------------------------------------------------------


def _codes(spec: Mapping[str, Any]) -> Derivation:
    def derive(reading: Reading) -> Value:
        conditions = reading.record.conditions
        if conditions is None:
            return None
        codes = [c.code for c in conditions if c.code is not None]
        return codes or None  # conditions whose codes were not said report no code

    return derive


def _age(spec: Mapping[str, Any]) -> Derivation:
    """Whole years from a date of the member (their birth date) to the request date."""
    get = _getter(str(spec["age"]))

    def derive(reading: Reading) -> Value:
        born: date | None = get(reading.record)
        if born is None:
            return None
        today = reading.record.submitted_at.date()
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    return derive


def _condition_field(spec: Mapping[str, Any]) -> Derivation:
    """A field of the condition requested (or, when none is said, of the one whose code was
    not said): e.g. its recurrence date."""
    name = str(spec["condition"])

    def derive(reading: Reading) -> Value:
        unsaid = None
        for c in reading.record.conditions or ():
            value = getattr(c, name, None)
            if value is not None and reading.scope.requested(c.code):
                return value
            if value is not None and c.code is None and unsaid is None:
                unsaid = value
        return unsaid

    return derive


def _extent(spec: Mapping[str, Any]) -> Derivation:
    def derive(reading: Reading) -> Value:
        unsaid = None
        for c in reading.record.conditions or ():
            if c.extent is not None and reading.scope.requested(c.code):
                return c.extent
            if c.extent is not None and c.code is None and unsaid is None:
                unsaid = c.extent
        return unsaid

    return derive


def _finding(spec: Mapping[str, Any]) -> Derivation:
    codes = frozenset(str(c) for c in spec["finding"])
    read = operator.attrgetter(spec.get("take", "result"))
    label = str(spec.get("agree", spec["finding"][0]))
    scoped = spec.get("about") == "requested"

    def derive(reading: Reading) -> Value:
        reported: list[tuple[Any, date | None]] = []
        dropped: list[str] = []
        for f, about in reading.findings():
            if f.code in codes and (value := read(f)) is not None:
                why_not = reading.why_not(about) if scoped else None
                if why_not is None:
                    reported.append((value, f.date))
                else:
                    dropped.append(f"{_shown(value, f.date)} {why_not}")
        if not reported:
            return Conflict(f"{label}: {'; '.join(dropped)}") if dropped else None
        return _agreeing(reported, label)

    return derive


def _shown(value: Any, day: date | None) -> str:
    return f"{value} ({day.isoformat() if day else 'undated'})"


def _agreeing(reported: list[tuple[Any, date | None]], label: str) -> Value:
    """One value when every report agrees (compared as text); a conflict naming each when not."""
    if len(reported) == 1 or len({str(v) for v, _ in reported}) == 1:
        return reported[0][0]
    listed = "; ".join(_shown(v, d) for v, d in reported)
    return Conflict(f"conflicting {label} reported: {listed}")


def _concurrent(spec: Mapping[str, Any]) -> Derivation:
    first = frozenset(str(c) for c in spec["concurrent"]["first"])
    second = frozenset(str(c) for c in spec["concurrent"]["second"])
    scoped = spec.get("about") == "requested"

    def derive(reading: Reading) -> Value:
        a: list[Finding] = []
        b: list[Finding] = []
        for f, about in reading.findings():
            if (f.code in first or f.code in second) and (
                not scoped or reading.why_not(about) is None
            ):
                (a if f.code in first else b).append(f)
        found = {_same_time(x, y) for x in a for y in b}
        if True in found:
            return True
        return False if found == {False} else None

    return derive


def _same_time(a: Finding, b: Finding) -> bool | None:
    """Concurrent: the same specimen; else, when not both have specimen ids, the same date. Not
    concurrent when their specimen ids or their dates tell them apart; otherwise unknown."""
    both_have_specimens = a.specimen_id is not None and b.specimen_id is not None
    if both_have_specimens and a.specimen_id == b.specimen_id:
        return True
    both_dated = a.date is not None and b.date is not None
    if both_dated and a.date == b.date and not both_have_specimens:
        return True
    if both_have_specimens or both_dated:
        return False
    return None


# -- lists, the compendium and attestations -------------------------------------------------------


def _records(spec: Mapping[str, Any]) -> Derivation:
    get = _getter(str(spec["records"]))
    fields = tuple(str(f) for f in spec.get("fields") or ())
    optional = tuple(str(f) for f in spec.get("optional") or ())

    exact: dict[type, bool] = {}  # item type -> whether its fields are exactly ``fields``

    def derive(reading: Reading) -> Value:
        items: Sequence[Any] | None = get(reading.record)
        if items is None:
            return None
        out = []
        for item in items:
            d = item.__dict__
            kind = item.__class__
            same = exact.get(kind)
            if same is None:
                same = exact[kind] = tuple(d) == fields
            if same:  # the earlier format's records: a copy of its fields, in order
                out.append(dict(d))
                continue
            row = {f: d[f] for f in fields}
            for f in optional:  # a field the sender's format may not have is not reported
                if d.get(f) is not None:
                    row[f] = d[f]
            out.append(row)
        return out

    return derive


def _compendium(spec: Mapping[str, Any]) -> Derivation:
    name = str(spec["compendium"])

    def derive(reading: Reading) -> Value:
        c = reading.record.compendium
        return None if c is None else getattr(c, name)

    return derive


def _attestation(spec: Mapping[str, Any]) -> Derivation:
    statement = str(spec["attestation"])

    def derive(reading: Reading) -> Value:
        said = [a.value for a in reading.record.attestations or () if a.statement == statement]
        if not said:
            return None
        if len(set(said)) > 1:
            return Conflict(f"the prescriber's statement {statement!r} is given both ways")
        return said[0]

    return derive


_FORMS: dict[str, Callable[[Mapping[str, Any]], Derivation]] = {
    "request": _field(""),
    "member": _field("member"),
    "order": _field("order"),
    "observation": _observation,
    "age": _age,
    "condition": _condition_field,
    "codes": _codes,
    "extent": _extent,
    "finding": _finding,
    "concurrent": _concurrent,
    "records": _records,
    "compendium": _compendium,
    "attestation": _attestation,
}


# -- a catalogue's facts read by one generated function -------------------------------------------

Reader = Callable[[Reading], tuple[dict[str, Any], dict[str, str]]]


def compile_reader(facts: Sequence[tuple[str, Mapping[str, Any], Derivation]]) -> Reader:
    """One function reading every fact in order: ``(values, conflicts)`` of a record.

    A field of the request, the member, the order or the compendium is read in place (each
    attribute once, absent parts giving None); every other form calls its derivation, a
    finding's or an observation's only when the record has one with its codes (``_needs``).
    This runs on every decision: one call, where a call per fact and per attribute cost more
    than the reading. Tests hold it to the derivations, fact by fact, on every case, example and
    generated request."""
    lines = [
        "def read(reading):",
        "    r = reading.record",
        "    values = {}",
        "    conflicts = {}",
    ]
    constants: dict[str, Any] = {"Conflict": Conflict}
    read_in_place: dict[tuple[str, ...], str] = {}  # a field's path -> the local holding it
    if any("finding" in spec or "concurrent" in spec for _, spec, _ in facts):
        lines.append("    found = {f.code for f, _ in reading.findings()}")
    if any("observation" in spec for _, spec, _ in facts):
        lines.append("    observed = {o.code for o in r.observations or ()}")
    for i, (path, spec, derive) in enumerate(facts):
        key = f"k{i}"
        constants[key] = path
        names = _field_path(spec)
        if names is None:
            constants[f"d{i}"] = derive
            read = [
                f"v = d{i}(reading)",
                "if v is not None:",
                "    if v.__class__ is Conflict:",
                f"        conflicts[{key}] = v.description",
                "    else:",
                f"        values[{key}] = v",
            ]
            needs = _needs(i, spec, constants)
            if needs:
                lines.append(f"    if {needs}:")
                read = ["    " + line for line in read]
            lines += ["    " + line for line in read]
            continue
        v = _read_in_place(path, names, read_in_place, lines)
        if "as" in spec:
            inline = _AS_INLINE.get(spec["as"])
            if inline is not None:
                lines.append(f"    if {v} is not None: values[{key}] = {inline.format(v)}")
            else:
                constants[f"c{i}"] = _AS[spec["as"]]
                lines.append(f"    if {v} is not None: values[{key}] = c{i}({v})")
        else:
            lines.append(f"    if {v} is not None: values[{key}] = {v}")
    lines.append("    return values, conflicts")
    namespace = dict(constants)
    exec(compile("\n".join(lines), "<fact reader>", "exec"), namespace)
    reader: Reader = namespace["read"]
    return reader


def _field_path(spec: Mapping[str, Any]) -> list[str] | None:
    """The record's attributes a fact is read through, when it is a field: of the request, the
    member or the order, or the compendium's (absent parts giving None, as ``_compendium``)."""
    if "request" in spec:
        return str(spec["request"]).split(".")
    for section in ("member", "order"):
        if section in spec:
            return [section, *str(spec[section]).split(".")]
    if "compendium" in spec:
        return ["compendium", str(spec["compendium"])]
    return None


def _read_in_place(
    path: str, names: list[str], read: dict[tuple[str, ...], str], lines: list[str]
) -> str:
    """The local holding a field of the record (None when it or a part on its path is absent),
    each part on its path read once per record (``order``, ``order.drug``, ...): the lines
    reading those not read yet are added."""
    held = "r"  # the record itself is never None
    for depth, name in enumerate(names, 1):
        if not name.isidentifier():
            raise ValueError(f"{path}: {name!r} is not a field name")
        local = read.get(tuple(names[:depth]))
        if local is None:
            local = read[tuple(names[:depth])] = f"p{len(read)}"
            if held == "r":
                lines.append(f"    {local} = r.{name}")
            else:
                lines.append(f"    {local} = None if {held} is None else {held}.{name}")
        held = local
    return held


def _needs(i: int, spec: Mapping[str, Any], constants: dict[str, Any]) -> str:
    """The test, in the reader, that a fact read from findings or observations may be there:
    some finding or observation has one of its codes (without one, its derivation gives None,
    so it is not called). Empty: the derivation is always called."""
    if "finding" in spec:
        constants[f"s{i}"] = frozenset(str(c) for c in spec["finding"])
        return f"not s{i}.isdisjoint(found)"
    if "concurrent" in spec:  # a finding of each kind
        constants[f"a{i}"] = frozenset(str(c) for c in spec["concurrent"]["first"])
        constants[f"b{i}"] = frozenset(str(c) for c in spec["concurrent"]["second"])
        return f"not a{i}.isdisjoint(found) and not b{i}.isdisjoint(found)"
    if "observation" in spec:
        constants[f"s{i}"] = frozenset(str(c) for c in spec["observation"])
        return f"not s{i}.isdisjoint(observed)"
    return ""
