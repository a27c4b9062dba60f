"""Before the criteria: which condition a request is for, and which of its facts may be used.

PRODUCT.md's decision semantics, applied to the facts before any criterion reads them:

- **One request, one condition.** A request is for one condition: the one its stated indications
  are for, or, when it states none, the one its order names (``order.condition``), else the one
  its diagnosis codes name. Only that condition's indications apply (the brain metastases of
  pathway 2 are part of the breast condition). When the statement or the codes name several
  conditions, or the order names another condition than the one stated, or one none of the
  member's codes name, no pathway applies and the provider is asked which.
- **Findings about that condition.** A HER2 or ERBB2 result that names the condition it is
  about is used only for that condition; one that names none is used only when the request
  concerns a single condition.
- **Drugs by identity.** Every reported drug (the order, concurrent drugs, prior therapies) is
  identified by code or by its whole name against the policy's vocabulary; a drug record gets
  the id of the drug it names (``identity``), or None when it names no known drug, or two.
- **Facts have an age.** A fact that breaks the policy's rule for it (too old, undated, a start
  outside the window around the request) is not used, and is asked for again.
- **Contradictions.** A fact the request's own record contradicts is not used either.

A fact that may not be used is left out of the facts, with the reason in ``conflicts``: the
criteria then find it unknown and the provider is told why. Facts outside the criteria that must
be settled before any approval come back as gates.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, NamedTuple

from medpolicy.catalogue import Catalogue
from medpolicy.catalogue.derive import Conflict, Reading, Scope
from medpolicy.definitions.drugs import CODE_SYSTEMS, CodeSystem, Identity
from medpolicy.engine.compiled import CompiledCriteria, compile_criteria
from medpolicy.engine.leaves import Predicate, predicate
from medpolicy.facts import FACTS, Facts
from medpolicy.logic import MET
from medpolicy.policy import tree as t
from medpolicy.policy.load import CLASSES_FIELD, IDENTITY_FIELD
from medpolicy.record.legacy import RecordLike

__all__ = ["Gate", "Screened", "screen"]


class Gate(NamedTuple):
    """A fact outside the criteria that must be settled before any approval."""

    fact: str
    note: str
    clauses: tuple[str, ...] = ()


class Screened(NamedTuple):
    facts: Facts  # the facts the criteria may read
    indications: frozenset[str]  # the indications of the request's condition
    gates: list[Gate]


# ``Facts(...)`` and ``Screened(...)`` without the named tuples' ``__new__`` (a Python function):
# one of each is made for every request.
_facts = functools.partial(tuple.__new__, Facts)
_screened = functools.partial(tuple.__new__, Screened)

# A condition named by a code the policy lists no indication for: "code:" and its category.
_UNLISTED = "code:"
# The ICD-10-CM code of the condition an order names (the clinical record's; the earlier format
# has none).
_ORDERED_FOR = "order.condition"


@dataclass(frozen=True)
class _Reading:
    """What screening needs from a policy, worked out once per policy content."""

    condition_by_code: Mapping[str, str]  # normalized code -> the listed condition it names
    implied_by_code: dict[str, frozenset[str]]  # normalized code -> indications it implies
    listed: tuple[tuple[str, t.Indication], ...]  # (value set, indication) naming a condition
    labels: Mapping[str, str]  # condition -> how to name it to a provider
    conditions: dict[str, str | None]  # normalized code -> the condition it names, once found
    by_fact: tuple[tuple[str, str, tuple[str, ...]], ...]  # (indication, fact, values implying it)
    condition_of: Mapping[str, str]  # indication -> its condition
    reads_classes: bool  # whether a rule asks which class a drug is (drug records carry them)
    # each contradiction, with its condition's test and its contradicting criterion compiled
    contradictions: tuple[tuple[t.Contradiction, Predicate, CompiledCriteria], ...]


_READINGS: dict[str, _Reading] = {}


def screen(policy: t.Policy, record: RecordLike, facts: Facts) -> Screened:
    """``facts``: the record's facts as read before its condition is known (every finding)."""
    return _screen(policy, record, dict(facts.values), dict(facts.conflicts))


def read_and_screen(policy: t.Policy, record: RecordLike, catalogue: Catalogue) -> Screened:
    """``screen`` of the record's facts as ``catalogue`` reads them before its condition is known
    (``extract_facts``): read into the dicts screening then works on, with no copy of them."""
    values, conflicts = catalogue.reader(Reading(record))
    return _screen(policy, record, values, conflicts)


def _screen(
    policy: t.Policy, record: RecordLike, values: dict[str, Any], conflicts: dict[str, str]
) -> Screened:
    """``screen``, on the facts' dicts (made for it: screening changes them)."""
    reading = _READINGS.get(policy.content_hash)
    if reading is None:
        reading = _READINGS[policy.content_hash] = _read(policy)
    notes: dict[str, str] = {}
    gates: list[Gate] = []
    condition, indications, in_play = _resolve(policy, reading, values, gates)
    _identify_drugs(policy, record, values, notes, gates, reading.reads_classes)
    if _attributable(record, in_play):
        scoped = Reading(record, _Requested(policy, reading, condition, in_play))
        for path, derive in policy.catalogue.about_requested:
            values.pop(path, None)
            conflicts.pop(path, None)
            value = derive(scoped)
            if isinstance(value, Conflict):
                conflicts[path] = value.description
            elif value is not None:
                values[path] = value
    today: date = values["request.date"]
    for rule in policy.fact_rules:
        value = values.get(rule.fact)
        problem = None if value is None else _rule_broken(rule, today, value, values)
        if problem is not None:
            _set_aside(rule, problem, values, conflicts, gates)
    screened = _facts((values, MappingProxyType(conflicts), MappingProxyType(notes)))
    for contradiction, test, contradicted_by in reading.contradictions:
        if values.get(contradiction.fact) is not None:  # an absent fact contradicts nothing
            screened = _contradict(policy, contradiction, test, contradicted_by, screened)
    return _screened((screened, indications, gates))


def _read(policy: t.Policy) -> _Reading:
    spread = policy.diagnoses.site_of_spread
    by_code: dict[str, set[str]] = {}
    condition_by_code: dict[str, str] = {}
    listed: list[tuple[str, t.Indication]] = []
    for ind in policy.indications.values():
        vs = policy.value_sets.get(ind.implied_by_value_set or "")
        if vs is None:
            continue
        for code in vs.members:
            by_code.setdefault(code, set()).add(ind.id)
        if spread is None or not vs.codes <= spread.codes:  # its codes name the condition
            listed.append((vs.name, ind))
            for code in vs.members:
                condition_by_code.setdefault(code, ind.condition)
    labels: dict[str, str] = {}
    for ind in policy.indications.values():
        labels.setdefault(ind.condition, ind.label)
    return _Reading(
        MappingProxyType(condition_by_code),
        {code: frozenset(ids) for code, ids in by_code.items()},
        tuple(listed),
        MappingProxyType(labels),
        {},
        tuple(
            (ind.id, *ind.implied_by_fact)
            for ind in policy.indications.values()
            if ind.implied_by_fact is not None
        ),
        MappingProxyType({ind.id: ind.condition for ind in policy.indications.values()}),
        any(
            field == CLASSES_FIELD
            for root in (
                *(p.criteria for p in policy.pathways),
                *(c.contradicted_by for c in policy.contradictions),
            )
            for node in t.walk(root)
            if isinstance(node, t.Exists)
            for field, _ in node.where
        ),
        tuple(
            (c, predicate(c.when), compile_criteria(policy, c.contradicted_by))
            for c in policy.contradictions
        ),
    )


def _condition_of(policy: t.Policy, reading: _Reading, code: str) -> str | None:
    """The condition a (normalized) code names: a listed one, an unlisted one (``code:C16``), or
    None for a code of a site of spread or one that names no condition (Z85.3, Z00.00)."""
    listed = reading.condition_by_code.get(code)
    if listed is not None:
        return listed
    if code in reading.conditions:  # codes recur across requests: each is worked out once
        return reading.conditions[code]
    found = reading.conditions[code] = _unlisted_condition_of(policy, reading, code)
    return found


def _implied_by(policy: t.Policy, reading: _Reading, code: str) -> frozenset[str]:
    """The indications a (normalized) code implies: those whose value set holds it, or, for a
    category (C50.9), holds codes under it (the complete code is then asked for, not ignored)."""
    found = reading.implied_by_code.get(code)
    if found is None:
        found = reading.implied_by_code[code] = frozenset(
            ind.id
            for ind in policy.indications.values()
            if ind.implied_by_value_set is not None
            and policy.value_sets[ind.implied_by_value_set].covers(code)
        )
    return found


def _unlisted_condition_of(policy: t.Policy, reading: _Reading, code: str) -> str | None:
    for value_set, ind in reading.listed:  # a category of a listed condition's codes (C50.9)
        if policy.value_sets[value_set].covers(code):
            return ind.condition
    spread, conditions = policy.diagnoses.site_of_spread, policy.diagnoses.names_a_condition
    if spread is not None and spread.covers(code):
        return None
    if conditions is not None and conditions.covers(code):
        return _UNLISTED + code[:3]
    return None


def _label(reading: _Reading, condition: str) -> str:
    if condition.startswith(_UNLISTED):
        return f"a condition coded {condition.removeprefix(_UNLISTED)}"
    return reading.labels.get(condition, condition)


def _resolve(
    policy: t.Policy, reading: _Reading, values: dict[str, Any], gates: list[Gate]
) -> tuple[str | None, frozenset[str], frozenset[str]]:
    """The request's condition, the indications that apply, and every condition in play (the
    request's and any other its codes name). Several conditions stated, or several coded and none
    stated: no indication applies, and the provider is asked which (a gate on ``indications``)."""
    stated: Sequence[str] = values.get("indications") or ()
    ordered_for: str | None = values.get(_ORDERED_FOR)
    # the condition the order names (None: none said, or a code naming none, e.g. a site of spread)
    ordered = None if ordered_for is None else _condition_of(policy, reading, ordered_for)
    coded: dict[str, list[str]] = {}
    implied: set[str] = set()
    for code in values.get("diagnoses") or ():  # normalized by the request's validation
        named = _condition_of(policy, reading, code)
        if named is not None:
            coded.setdefault(named, []).append(code)
        implied |= _implied_by(policy, reading, code)
    for indication, fact, implying in reading.by_fact:
        if str(values.get(fact)) in implying:
            implied.add(indication)
    condition_of = reading.condition_of
    if ordered is not None and coded and ordered not in coded:
        shown = "; ".join(
            f"{', '.join(codes)} ({_label(reading, c)})" for c, codes in sorted(coded.items())
        )
        return _ambiguous(
            gates,
            f"the order is for {ordered_for} ({_label(reading, ordered)}), a condition none of "
            f"the member's condition codes name ({shown}): confirm the condition it treats",
        )
    if stated:  # loops here and below: a comprehension is a call of its own (most have one)
        conditions = set()
        for i in stated:
            conditions.add(condition_of[i])
        if len(conditions) > 1:
            shown = "; ".join(policy.indications[i].label for i in stated)
            return _ambiguous(
                gates,
                f"the indications stated are for different conditions "
                f"({shown}): state the one this request is for",
            )
        condition: str | None = conditions.pop()
        if ordered is not None and not _same_condition(ordered, condition):
            shown = "; ".join(policy.indications[i].label for i in stated)
            return _ambiguous(
                gates,
                f"the order is for {ordered_for} ({_label(reading, ordered)}), and the "
                f"indications stated are for another condition ({shown}): state the one this "
                "request is for",
            )
    elif ordered is not None:  # the order says which condition it treats
        condition = ordered
    elif len(coded) > 1:
        shown = "; ".join(
            f"{', '.join(codes)} ({_label(reading, c)})" for c, codes in sorted(coded.items())
        )
        return _ambiguous(
            gates,
            f"the diagnosis codes name more than one condition ({shown}): "
            "state the indication this request is for",
        )
    elif coded:
        condition = next(iter(coded))
    else:  # no code names a condition: what the other facts imply, if they agree
        conditions = {condition_of[i] for i in implied}
        condition = conditions.pop() if len(conditions) == 1 else None
    chosen = set(stated)
    for i in implied:
        if condition_of[i] == condition:
            chosen.add(i)
    in_play = set(coded)
    if condition is not None and condition != t.NOT_LISTED:
        in_play.add(condition)
    elif condition == t.NOT_LISTED and not in_play:
        in_play.add(t.NOT_LISTED)
    return condition, frozenset(chosen), frozenset(in_play)


def _same_condition(ordered: str, stated: str | None) -> bool:
    """Whether the condition an order's code names is the one the stated indications are for (a
    condition no indication lists is the "not listed" indication's)."""
    return ordered == stated or (stated == t.NOT_LISTED and ordered.startswith(_UNLISTED))


def _ambiguous(gates: list[Gate], note: str) -> tuple[str | None, frozenset[str], frozenset[str]]:
    gates.append(Gate("indications", note, ("Position Statement > Initiation",)))
    return None, frozenset(), frozenset()


# -- drugs by identity ---------------------------------------------------------------------------

_DRUG_RECORDS = ("prior_therapies", "medication.concurrent_anticancer_drugs")


def _identify_drugs(
    policy: t.Policy,
    record: RecordLike,
    values: dict[str, Any],
    notes: dict[str, str],
    gates: list[Gate],
    with_classes: bool = False,
) -> None:
    identify = policy.drugs.identify
    entries = policy.drugs.entries
    for fact in _DRUG_RECORDS:
        records: list[dict[str, Any]] | None = values.get(fact)
        if not records:
            continue
        problems = []
        identified = []
        for item in records:
            get = item.get
            if get("hcpcs") is None and get("rxnorm") is None and get("ndc") is None:
                found = identify(get("drug"))  # most records: a name alone
            else:
                found = identify(get("drug"), _codes(item))
            if with_classes:  # the classes of the drug it names (none when it names none)
                classes = list(entries[found.id].classes) if found.id is not None else None
                identified.append({**item, IDENTITY_FIELD: found.id, CLASSES_FIELD: classes})
            else:
                identified.append({**item, IDENTITY_FIELD: found.id})
            if found.id is None:
                problems.append(f"{_shown(item)} {found.problem}")
        values[fact] = identified
        if problems:
            notes[fact] = (
                "; ".join(problems) + ": confirm the drug (its name, HCPCS, RxNorm or NDC)"
            )
    drug = record.order.drug
    if drug.name is None and drug.rxnorm is None and drug.ndc is None:
        return  # identified by its HCPCS code alone, which the policy's drug has
    # its HCPCS code is the policy drug's (or the request is refused): the name and the other
    # codes must name that drug too
    if drug.rxnorm is None and drug.ndc is None:
        ordered = identify(drug.name)
    else:
        codes = _codes({"rxnorm": drug.rxnorm, "ndc": drug.ndc})
        ordered = identify(drug.name, codes)
    if ordered.id != policy.drug.id:
        gates.append(Gate("medication.drug", _not_this_drug(policy, drug.name, ordered)))


def _codes(record: Mapping[str, Any]) -> tuple[tuple[CodeSystem, str], ...]:
    codes: tuple[tuple[CodeSystem, str], ...] = ()
    for system in CODE_SYSTEMS:  # a loop: most records carry no code, and a generator costs more
        code = record.get(system)
        if code is not None:
            codes += ((system, code),)
    return codes


def _shown(record: Mapping[str, Any]) -> str:
    codes = ", ".join(f"{s} {record[s]}" for s in CODE_SYSTEMS if record.get(s) is not None)
    name = record.get("drug")
    if name is None:
        return f"the drug coded {codes}"
    return f"'{name}'" + (f" ({codes})" if codes else "")


def _not_this_drug(policy: t.Policy, named: str | None, found: Identity) -> str:
    drug = policy.drug
    what = f"the drug ordered ('{named}')" if named else "the drug ordered"
    if found.id is not None:
        other = policy.drugs.entries[found.id].label
        why = f"is {other}, not {drug.name}"
    else:
        why = str(found.problem)
    return (
        f"{what} {why}; confirm the drug ordered is {drug.name} ({drug.brand}, {drug.hcpcs}): "
        "it is not to be substituted for or with another product"
    )


# -- findings about the request's condition ------------------------------------------------------


def _attributable(record: RecordLike, in_play: frozenset[str]) -> bool:
    """Whether some finding or extent may be about another condition than the one requested:
    several are in play, or a condition with a code carries its own (most requests: neither,
    and what was read before the condition was known stands)."""
    if len(in_play) > 1:
        return True
    for c in record.conditions or ():  # a loop: a few conditions, no generator
        if c.code is not None and (c.findings or c.extent is not None):
            return True
    return False


class _Requested(Scope):
    """Findings about the condition requested: those of a condition whose code names it; those
    whose condition is not said (or names no condition, e.g. a site of spread) only while the
    request concerns a single condition."""

    def __init__(
        self,
        policy: t.Policy,
        reading: _Reading,
        condition: str | None,
        in_play: frozenset[str],
    ) -> None:
        self.policy, self.reading = policy, reading
        self.condition, self.in_play = condition, in_play

    def _named(self, code: str | None) -> str | None:
        return None if code is None else _condition_of(self.policy, self.reading, code)

    def why_not(self, code: str | None) -> str | None:
        named = self._named(code)
        if named is None:
            if len(self.in_play) <= 1:
                return None
            shown = "; ".join(_label(self.reading, c) for c in sorted(self.in_play))
            return (
                "does not say which condition it is about, and the request concerns several "
                f"({shown})"
            )
        condition = self.condition
        if named == condition or (condition == t.NOT_LISTED and named.startswith(_UNLISTED)):
            return None
        return f"is about {code} ({_label(self.reading, named)}), not the condition requested"

    def requested(self, code: str | None) -> bool:
        named = self._named(code)
        return named is not None and self.why_not(code) is None


# -- facts have an age ---------------------------------------------------------------------------


def _set_aside(
    rule: t.FactRule,
    problem: str,
    values: dict[str, Any],
    conflicts: dict[str, str],
    gates: list[Gate],
) -> None:
    """A fact that breaks its rule is not used, and is asked for again (the problem said)."""
    del values[rule.fact]
    conflicts[rule.fact] = problem
    gates.append(Gate(rule.fact, problem, (rule.citation.section,)))


def _rule_broken(
    rule: t.FactRule, today: date, value: Any, values: Mapping[str, Any]
) -> str | None:
    """Why the fact breaks its rule, or None. Ages are whole days between dates (a difference of
    dates never overflows, where a date plus days can, near the end of the calendar)."""
    if rule.max_age_days is not None and rule.dated_by is not None:
        dated: date | None = values.get(rule.dated_by)
        if dated is not None and (today - dated).days <= rule.max_age_days:
            return None
        name = FACTS[rule.fact].name
        if dated is None:
            return (
                f"the {name} reported has no date: its date is needed (it must be measured "
                f"within {rule.max_age_days} days before the request)"
            )
        return (
            f"the {name} reported is dated {dated.isoformat()}, more than "
            f"{rule.max_age_days} days before the request ({today.isoformat()}): a current "
            "one is needed"
        )
    if not isinstance(value, date):
        return None
    days = (value - today).days
    if rule.days_before is not None and -days > rule.days_before:
        return (
            f"the {FACTS[rule.fact].name} {value.isoformat()} is more than {rule.days_before} "
            f"days before the request ({today.isoformat()}): confirm it"
        )
    if rule.days_after is not None and days > rule.days_after:
        return (
            f"the {FACTS[rule.fact].name} {value.isoformat()} is more than {rule.days_after} "
            f"days after the request ({today.isoformat()}): confirm it"
        )
    return None


# -- contradictions ------------------------------------------------------------------------------


def _contradict(
    policy: t.Policy,
    rule: t.Contradiction,
    test: Predicate,
    contradicted_by: CompiledCriteria,
    facts: Facts,
) -> Facts:
    """The fact set aside when the request's own record contradicts it, or would if a drug it
    names but the policy does not know were this drug (a misspelt name stopped for progression
    is not taken as agreeing). A record that is not reported contradicts nothing."""
    value = facts.values.get(rule.fact)
    if value is None or test(value, facts.values.get("request.date")) != MET:
        return facts
    reported = f"reported {FACTS[rule.fact].name} {value}"
    if _met(contradicted_by, facts):
        note = f"{reported}, but {rule.note}"
    elif (worst := _as_this_drug(policy, facts)) is not None and _met(contradicted_by, worst):
        unknown = "; ".join(facts.notes[f] for f in _DRUG_RECORDS if f in facts.notes)
        note = f"{reported}, but it cannot be told whether {rule.note} ({unknown})"
    else:
        return facts
    values = {k: v for k, v in facts.values.items() if k != rule.fact}
    conflicts = {**facts.conflicts, rule.fact: note}
    # no gate: a criterion that reads the fact finds it unknown, and asks with this note
    return Facts(values, MappingProxyType(conflicts), facts.notes)


def _met(criterion: CompiledCriteria, facts: Facts) -> bool:
    """Whether the criterion is met, by its compiled form (the tracing walker's result)."""
    return criterion.run(facts, {})[0][0] == MET


def _as_this_drug(policy: t.Policy, facts: Facts) -> Facts | None:
    """The facts with every drug record the policy could not identify taken as its own drug
    (None when every drug was identified)."""
    changed: dict[str, Any] = {}
    for fact in _DRUG_RECORDS:
        records = facts.values.get(fact)
        if records and any(r[IDENTITY_FIELD] is None for r in records):
            changed[fact] = [
                r if r[IDENTITY_FIELD] is not None else {**r, IDENTITY_FIELD: policy.drug.id}
                for r in records
            ]
    if not changed:
        return None
    return Facts({**facts.values, **changed}, facts.conflicts, facts.notes)
