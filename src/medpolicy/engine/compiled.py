"""A pathway's criteria compiled to straight-line Python functions.

Each pathway's tree is compiled once, when first used:

- ``run`` computes the result of *every* node (no short circuit: the record keeps them all) from
  the request's facts, as ranks in preorder, with the outcome of each check it ran. Comparisons,
  on a fact or on each record of a list fact, are written in place: the tests of the tracing
  walker's predicates (``leaves.predicate``) as expressions, each fact read and converted once,
  because a call per leaf cost more than the test. Code-set and check leaves call the walker's
  own functions. The connectives are Kleene logic on ranks: ALL is the lowest, ANY the highest,
  NOT is ``MET - r``.
- ``word`` writes the criteria tree of the decision record, as its canonical JSON text, from
  those results: for every node its clause, the guideline's words, the facts it read and an
  explanation. What depends only on the policy is encoded once, when compiling; comparisons
  (most leaves) are worded directly; the other leaves are explained by the tracing walker's own
  functions, from the rank or the check outcome ``run`` gave them (nothing is evaluated twice).

Two more are compiled on first use, for a request whose result is unknown:

- ``try_cases``: a criterion tried by cases (``by_cases``), one function per criterion and facts
  tried, with a loop per fact over its domain; only the comparisons reading those facts and
  their ancestors are evaluated again, the rest keep the request's results.
- ``results_trace`` (not generated) gives the tracing walker's trace of any node from the
  results, as ``word`` explains them: what the reasons and missing facts are filtered from.

Tests check, request by request, that all of them equal what the tracing walker gives.

The generated source names no value from the policy: fact paths, predicates and parameters are
bound as constants (``k0``, ``k1``, ...), so no text from a policy file is ever executed.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import orjson
from typing_extensions import TypedDict

from medpolicy.definitions.icd10 import ValueSet
from medpolicy.engine.by_cases import Shape, Trial, settled_note, shape_of
from medpolicy.engine.checks import CHECK_READS, CHECKS, CheckResult
from medpolicy.engine.evaluate import (
    NOT_REPORTED,
    Context,
    Trace,
    check_trace,
    compare_trace,
    compare_wording,
    count_trace,
    detail,
    exists_trace,
    judgment_trace,
    show,
    value_set_trace,
    within_trace,
)
from medpolicy.engine.leaves import count_rank, diagnosis_rank, predicate, to_decimal, within_rank
from medpolicy.facts import Facts
from medpolicy.jsonable import json_text
from medpolicy.logic import BY_RANK, MET, NOT_MET, RANK, UNKNOWN
from medpolicy.policy import tree as t

__all__ = [
    "Checked",
    "CompiledCriteria",
    "compile_criteria",
    "leaf_trace",
    "results_trace",
    "trace_json",
]

_TODAY = "request.date"

Checked = tuple[CheckResult, ...]  # the outcomes of a tree's check leaves, in preorder


@dataclass(frozen=True)
class CompiledCriteria:
    nodes: tuple[t.Node, ...]  # preorder: ``run``'s results are in this order; the root first
    # each node's rank, in preorder, and the outcome of each check leaf, in preorder: ``word``
    # explains a check from its outcome rather than running it again. ``run(facts, outcomes)``:
    # ``outcomes`` holds the checks already run on these same facts (a decision's pathways share
    # one), by ``_check_key``; a check found there is not run again
    run: Callable[[Facts, dict[str, CheckResult]], tuple[tuple[int, ...], Checked]]
    # (index, fact, value set) of every code-set leaf met by a code of its set: where a met
    # result may carry a flag
    value_sets: tuple[tuple[int, str, ValueSet], ...]
    # the criteria tree as canonical JSON text (what ``Criterion`` dicts serialize to)
    word: Callable[[Context, tuple[int, ...], Checked], str]
    source: str  # the generated functions, for reading and debugging
    shape: Shape  # the tree's structure, for deciding unknown criteria by cases
    # a criterion tried by cases (``by_cases.TryCases``), given the request's ranks and date
    try_cases: Callable[[tuple[int, ...], Any, Trial], int | None]
    check_places: Mapping[int, int]  # a check leaf's index -> the place of its outcome in Checked


class _Emitter:
    def __init__(self, policy: t.Policy) -> None:
        self.policy = policy
        self.nodes: list[t.Node] = []
        self.lines: list[str] = []
        self.helpers: list[str] = []  # functions ``run`` calls: one per records leaf
        self.constants: dict[str, Any] = {}
        self.value_sets: list[tuple[int, str, ValueSet]] = []
        self.checks: list[str] = []  # the locals holding the check leaves' outcomes
        self.facts = _Reads(self, self.lines, "    ")

    def constant(self, value: Any) -> str:
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def emit(self, node: t.Node) -> str:
        """Emit ``run``'s code for ``node`` (children first); return the local holding its rank."""
        index = len(self.nodes)
        self.nodes.append(node)
        out = f"r{index}"
        if isinstance(node, t.AllOf | t.AnyOf):
            parts = [self.emit(c) for c in node.children]
            keep = "<" if isinstance(node, t.AllOf) else ">"
            self.lines += _fold(out, parts, keep, "    ")
        elif isinstance(node, t.Not):
            self.lines.append(f"    {out} = {MET} - {self.emit(node.child)}")
        elif isinstance(node, t.Compare):
            self.lines.append(f"    {out} = {self.facts.compare(node.fact, node.condition)}")
        elif isinstance(node, t.InValueSet):
            value_set = self.policy.value_sets[node.value_set]
            codes = self.facts.value(node.fact)
            rank = self.constant(functools.partial(diagnosis_rank, node, self.policy))
            if node.mode == "not_in":  # met when no code is a member: nothing to shortcut
                self.lines.append(f"    {out} = {rank}({codes})")
            else:
                self.value_sets.append((index, node.fact, value_set))
                # A code that is itself a member meets it, as ``diagnosis_rank`` would find
                # (members are normalized codes, and a request's codes are normalized by its
                # validation); anything else is for ``diagnosis_rank`` to settle.
                members = self.constant(value_set.members.keys())
                self.lines.append(
                    f"    {out} = {MET} if {codes} and not {members}.isdisjoint({codes}) "
                    f"else {rank}({codes})"
                )
        elif isinstance(node, t.Exists):
            test = self.records_function(f"e{index}", node.where)
            self.lines.append(f"    {out} = {test}({self.facts.value(node.fact)}, today)")
        elif isinstance(node, t.Count):
            rank = self.constant(functools.partial(count_rank, node))
            self.lines.append(f"    {out} = {rank}({self.facts.value(node.fact)}, today)")
        elif isinstance(node, t.Within):
            rank = self.constant(functools.partial(within_rank, node))
            event, records = self.facts.value(node.fact), self.facts.value(node.records)
            self.lines.append(f"    {out} = {rank}({event}, {records}, today)")
        elif isinstance(node, t.Judgment):
            self.lines.append(f"    {out} = {UNKNOWN}")  # always a clinical reviewer's
        elif isinstance(node, t.Check):
            run = self.constant(CHECKS[node.definition].bind(node.params))
            outcome = f"o{index}"
            self.checks.append(outcome)
            if _check_key(node) in _shared_checks(self.policy):
                # the same check with the same parameters, already run on these facts (by
                # another pathway of the decision), has this same outcome: from ``outcomes``
                key = self.constant(_check_key(node))
                self.lines.append(f"    {outcome} = outcomes.get({key})")
                self.lines.append(f"    if {outcome} is None:")
                self.lines.append(f"        {outcome} = outcomes[{key}] = {run}(facts)")
            else:
                self.lines.append(f"    {outcome} = {run}(facts)")
            self.lines.append(f"    {out} = rank[{outcome}.result]")
        else:  # pragma: no cover - the loader admits no other node type
            raise TypeError(f"cannot compile {type(node).__name__}")
        return out

    def records_function(self, name: str, where: tuple[tuple[str, t.Condition], ...]) -> str:
        """A function of (records, request date) giving ``leaves.records_predicate``'s rank: ANY
        record meeting ALL of the conditions on its fields. The records are not nodes of the
        tree: a record is left at its first field not met, and the first record that meets them
        all settles it."""
        body: list[str] = []
        fields = _Reads(self, body, "        ")
        tests = [f"x{i}" for i in range(len(where))]
        for test, (field, cond) in zip(tests, where, strict=True):
            body.append(f"        {test} = {fields.compare(field, cond)}")
            # a field not met makes the record not met, which cannot raise the result: next
            body.append(f"        if {test} == {NOT_MET}: continue")
        self.helpers += [
            f"def {name}(records, today):",
            "    if records is None:",
            f"        return {UNKNOWN}",
            f"    best = {NOT_MET}",
            "    for record in records:",
            "        get = record.get",
            *body,
            *_fold("worst", tests or [str(MET)], "<", "        "),
            "        if worst > best:",
            f"            if worst == {MET}:",  # the highest: no later record can change it
            f"                return {MET}",
            "            best = worst",
            "    return best",
            "",
        ]
        return name


def _check_key(node: t.Check) -> str:
    """What a check's outcome depends on besides the facts: its definition and parameters, each
    parameter by its type and text (3.6 and 3.60 are worded apart)."""
    params = " ".join(f"{k}={type(v).__name__}:{v}" for k, v in sorted(node.params.items()))
    return f"{node.definition} {params}"


def _shared_checks(policy: t.Policy) -> frozenset[str]:
    """The ``_check_key`` of every check that more than one of the policy's pathways calls."""
    keys = [
        {_check_key(n) for n in t.walk(p.criteria) if isinstance(n, t.Check)}
        for p in policy.pathways
    ]
    return frozenset(k for k in set().union(*keys) if sum(k in ks for ks in keys) > 1)


def _fold(out: str, parts: list[str], keep: str, indent: str) -> list[str]:
    """Lines setting ``out`` to the lowest (``keep`` "<": Kleene ALL) or highest (">": ANY) of
    ``parts``, compared pairwise in place: cheaper than calling ``min`` or ``max``."""
    return [f"{indent}{out} = {parts[0]}"] + [
        f"{indent}if {part} {keep} {out}: {out} = {part}" for part in parts[1:]
    ]


class _Reads:
    """The values a compiled function reads with ``get`` (a request's facts, or one record's
    fields), each read, and each converted for a comparison, once, where first needed."""

    def __init__(self, emitter: _Emitter, lines: list[str], indent: str, tag: str = "") -> None:
        self.emitter, self.lines, self.indent = emitter, lines, indent
        self.tag = tag  # ends the names of its locals: several may write one function
        self.locals: dict[tuple[str, str], str] = {}  # (key, form) -> the local holding it

    def value(self, key: str) -> str:
        """The local holding the value of ``key`` (None when absent)."""
        local = self.locals.get((key, "v"))
        if local is None:
            local = self.locals[key, "v"] = f"v{len(self.locals)}{self.tag}"
            self.lines.append(f"{self.indent}{local} = get({self.emitter.constant(key)})")
        return local

    def form(self, key: str, form: str) -> str:
        """The local holding a form of the value (None when absent): its text case-folded (s),
        the set of its items' folded texts (m), or its number as a Decimal (d): the conversions
        ``leaves.predicate`` makes."""
        local = self.locals.get((key, form))
        if local is None:
            v = self.value(key)
            local = self.locals[key, form] = f"{form}{len(self.locals)}{self.tag}"
            converted = {  # str() of a str is itself: only other values are converted first
                "s": f"({v} if {v}.__class__ is str else str({v})).casefold()",
                "m": f"{{(x if x.__class__ is str else str(x)).casefold() for x in {v}}}",
                "d": f"{v} if {v}.__class__ is Decimal else to_decimal({v})",
            }[form]
            self.lines.append(f"{self.indent}{local} = None if {v} is None else {converted}")
        return local

    def compare(self, key: str, cond: t.Condition) -> str:
        """The condition's rank on the value of ``key``, as an expression: ``leaves.predicate``'s
        test written in place (no call per leaf), or a call of that predicate for an operator
        not written here."""
        v, op, want = self.value(key), cond.op, cond.value
        constant = self.emitter.constant
        met: str | None = None  # the test, for a value that is present
        if op in ("equals", "in", "not_in"):
            found = f"{self.form(key, 's')} in {constant(cond.folded)}"
            met = f"not {found}" if op == "not_in" else found
        elif op == "contains_any":
            met = f"not {self.form(key, 'm')}.isdisjoint({constant(cond.folded)})"
        elif op == "is" and isinstance(want, bool):
            met = f"{v} is {want}"
        elif op == "is_empty" and isinstance(want, bool):
            met = f"(len({v}) == 0) is {want}"
        elif op in _OPERATORS:
            met = f"{self.form(key, 'd')} {_OPERATORS[op]} {constant(to_decimal(want))}"
        if met is None:  # e.g. a date window: the predicate itself
            return f"{constant(predicate(cond))}({v}, today)"
        unknown = f"{v} is None"
        if cond.unknown_if:
            unknown += f" or str({v}) in {constant(frozenset(cond.unknown_if))}"
        return f"{UNKNOWN} if {unknown} else {MET} if {met} else {NOT_MET}"


_OPERATORS = {"at_least": ">=", "at_most": "<=", "above": ">", "below": "<"}


# Compiled once per tree: nodes are immutable and belong to one loaded policy.
_COMPILED: weakref.WeakKeyDictionary[t.Node, CompiledCriteria] = weakref.WeakKeyDictionary()


def compile_criteria(policy: t.Policy, root: t.Node) -> CompiledCriteria:
    """``root``'s tree (a node of ``policy``) as a function of a request's facts."""
    compiled = _COMPILED.get(root)
    if compiled is None:
        compiled = _COMPILED[root] = _compile(policy, root)
    return compiled


class _WordingEmitter:
    """Emits ``word``: each node's criterion as canonical JSON text, in the record's key order.

    What depends only on the policy node (its id, name, clause, words and reading, and the result
    for each rank) is encoded once, here; per request only results, the facts read and their
    explanations are written. A fact read by several comparisons is encoded once per request.
    Each leaf's text is a local; the tree is one f-string over them (``emit`` returns a node's
    part of it), so the text is joined once rather than copied again at every level."""

    def __init__(self, constant: Callable[[Any], str]) -> None:
        self.constant = constant
        self.index = 0
        self.lines: list[str] = []
        self.fact_texts: dict[str, str] = {}  # fact -> the local holding its encoded value
        self.checks = 0  # check leaves worded so far: the next one's place in ``checked``

    def emit(self, node: t.Node) -> str:
        index = self.index
        self.index += 1
        out = f"c{index}"
        if isinstance(node, t.AllOf | t.AnyOf | t.Not):
            children = (node.child,) if isinstance(node, t.Not) else node.children
            opening = self.constant(_connective_openings(node))
            kids = ",".join(self.emit(c) for c in children)
            # its opening for its rank, its children's JSON, then the end of its children and itself
            return f"{{{opening}[ranks[{index}]]}}{kids}]}}}}"
        elif isinstance(node, t.Compare):
            write, value = self.constant(_compare_writer(node)), self.fact_text(node.fact)
            self.lines.append(f"{out} = {write}({value}, ranks[{index}], conflicts)")
        elif isinstance(node, t.Check):
            write, leaf = self.constant(_trace_writer(node)), self.constant(node)
            outcome = f"checked[{self.checks}]"
            self.checks += 1
            self.lines.append(f"{out} = {write}(check_trace({leaf}, {outcome}, ctx.facts))")
        else:  # a code-set or records leaf: explained from its rank, not evaluated again
            write, leaf = self.constant(_trace_writer(node)), self.constant(node)
            explain = self.constant(_EXPLAIN_RANK[type(node)])
            self.lines.append(f"{out} = {write}({explain}({leaf}, ranks[{index}], ctx))")
        return f"{{{out}}}"

    def fact_text(self, fact: str) -> str:
        """The local holding ``fact``'s encoded value, assigned where it is first needed."""
        local = self.fact_texts.get(fact)
        if local is None:
            local = self.fact_texts[fact] = f"v{len(self.fact_texts)}"
            self.lines.append(f"{local} = fact_text(get({self.constant(fact)}))")
        return local


_EXPLAIN_RANK: dict[type[t.Node], Callable[[Any, int, Context], Trace]] = {
    t.Compare: compare_trace,
    t.InValueSet: value_set_trace,
    t.Exists: exists_trace,
    t.Count: count_trace,
    t.Within: within_trace,
    t.Judgment: judgment_trace,
}


def _compile(policy: t.Policy, root: t.Node) -> CompiledCriteria:
    emitter = _Emitter(policy)
    emitter.emit(root)
    ranks = ", ".join(f"r{i}" for i in range(len(emitter.nodes)))
    body = "\n".join(emitter.lines)
    wording = _WordingEmitter(emitter.constant)
    tree = wording.emit(root)
    word_body = "\n    ".join(wording.lines)
    source = (
        "".join(f"{line}\n" for line in emitter.helpers) + "def run(facts, outcomes):\n"
        "    get = facts.values.get\n"
        f"    today = get({_TODAY!r})\n"
        f"{body}\n"
        f"    return ({ranks},), ({''.join(f'{o},' for o in emitter.checks)})\n"
        "\n\n"
        "def word(ctx, ranks, checked):\n"
        "    get, conflicts = ctx.facts.values.get, ctx.facts.conflicts\n"
        f"    {word_body}\n"
        f"    return f'{tree}'\n"
    )
    namespace: dict[str, Any] = {
        **emitter.constants,
        "Decimal": Decimal,
        "to_decimal": to_decimal,
        "rank": {truth: i for i, truth in enumerate(BY_RANK)},
        "check_trace": check_trace,
        "fact_text": fact_text,
    }
    exec(compile(source, f"<criteria {root.id}>", "exec"), namespace)
    return CompiledCriteria(
        tuple(emitter.nodes),
        namespace["run"],
        tuple(emitter.value_sets),
        namespace["word"],
        source,
        shape_of(root, CHECK_READS),
        _cases_trier(policy, shape_of(root, CHECK_READS)),
        {
            i: place
            for place, i in enumerate(
                i for i, node in enumerate(emitter.nodes) if isinstance(node, t.Check)
            )
        },
    )


def _cases_trier(
    policy: t.Policy, shape: Shape
) -> Callable[[tuple[int, ...], Any, Trial], int | None]:
    """``CompiledCriteria.try_cases``: a function per criterion and facts tried, compiled on
    first use, then kept (the tree is immutable)."""
    found: dict[tuple[int, tuple[str, ...]], Callable[..., int | None]] = {}

    def try_cases(ranks: tuple[int, ...], today: Any, trial: Trial) -> int | None:
        trier = found.get((trial.node, trial.facts))
        if trier is None:
            trier = found[trial.node, trial.facts] = _compile_cases(
                policy, shape, trial.node, trial.facts
            )
        return trier(ranks, today, *trial.domains)

    return try_cases


def _compile_cases(
    policy: t.Policy, shape: Shape, i: int, names: tuple[str, ...]
) -> Callable[..., int | None]:
    """Node i tried by cases, as a function of (the request's ranks, its date, the domain of each
    of ``names``): one loop per fact, nested, over its domain. Only comparisons read the facts
    tried (``by_cases``): each comparison under node i that reads one is written as ``run``
    writes it, in the loop of its fact; their ancestors up to node i are folded again in the
    innermost loop; every other node under node i reads none of them, so its result is the
    request's. The first case that leaves node i unknown, or gives another result than the
    cases before it, ends the trial."""
    emitter = _Emitter(policy)
    loops: list[list[str]] = [[] for _ in names]
    reads = {
        name: _Reads(emitter, loops[p], "    " * (p + 2), f"_{p}") for p, name in enumerate(names)
    }
    for p, name in enumerate(names):
        reads[name].locals[name, "v"] = f"x{p}"
    inner = "    " * (len(names) + 1)

    def emit(j: int) -> str:
        if all(reads.keys().isdisjoint(shape.reads[k]) for k in range(j, shape.ends[j])):
            return f"r[{j}]"  # reads none of them: the request's result
        node, out = shape.nodes[j], f"c{j}"
        if isinstance(node, t.AllOf | t.AnyOf):
            parts = [emit(c) for c in shape.children[j]]
            loops[-1].extend(_fold(out, parts, "<" if isinstance(node, t.AllOf) else ">", inner))
        elif isinstance(node, t.Not):
            loops[-1].append(f"{inner}{out} = {MET} - {emit(shape.children[j][0])}")
        elif isinstance(node, t.Compare):
            fact = reads[node.fact]
            fact.lines.append(f"{fact.indent}{out} = {fact.compare(node.fact, node.condition)}")
        else:  # pragma: no cover - ``by_cases`` tries only facts that comparisons read
            raise TypeError(f"cannot try cases of {type(node).__name__}")
        return out

    result = emit(i)
    domains = [f"d{p}" for p in range(len(names))]
    lines = [f"def try_cases(r, today, {', '.join(domains)}):", "    result = None"]
    for p, loop in enumerate(loops):
        lines += [f"{'    ' * (p + 1)}for x{p} in d{p}:", *loop]
    lines += [
        f"{inner}if {result} == {UNKNOWN} or (result is not None and {result} != result):",
        f"{inner}    return None",
        f"{inner}result = {result}",
        "    return result",
    ]
    namespace: dict[str, Any] = {**emitter.constants, "Decimal": Decimal, "to_decimal": to_decimal}
    exec(compile("\n".join(lines) + "\n", f"<cases of {shape.nodes[i].id}>", "exec"), namespace)
    trier: Callable[..., int | None] = namespace["try_cases"]
    return trier


_RESULTS = tuple(truth.value for truth in BY_RANK)


class _NodePart(TypedDict):
    id: str
    criterion: str
    clause: str
    text: str
    reading: str | None


def node_part(n: t.Node) -> _NodePart:
    """The part of a criterion that depends only on the policy node."""
    return _NodePart(
        id=n.id,
        criterion=n.name,
        clause=n.citation.section,
        text=n.citation.text,
        reading=n.reading,
    )


def _json(value: Any) -> str:
    """``value`` written as the canonical decision JSON writes it (compact, by orjson)."""
    return orjson.dumps(value).decode()


def _inner(text: str) -> str:
    """``text`` escaped as inside a JSON string, without the quotes: a part of a longer string."""
    return _json(text)[1:-1]


def _openings(node: t.Node) -> tuple[str, ...]:
    """A criterion's JSON up to its facts, by rank: the node's part then its result."""
    part = _json(node_part(node))[:-1]  # without the closing brace
    return tuple(f'{part},"result":"{result}",' for result in _RESULTS)


def _connective_openings(node: t.Node) -> tuple[str, ...]:
    """An ALL/ANY/NOT criterion's JSON up to its children, by rank (only the children follow)."""
    rest = '"facts":{},"missing":[],"detail":"","flags":[],"children":['
    return tuple(opening + rest for opening in _openings(node))


def fact_text(value: Any) -> tuple[str, str] | None:
    """A fact's value as JSON, and as a comparison's explanation shows it (escaped for a JSON
    string); None when the fact is absent."""
    if value is None:
        return None
    return json_text(value), _inner(show(value))


_CHILDLESS = ',"children":[]}'  # a leaf's end
_NOT_REPORTED = _json(NOT_REPORTED)

_CompareWriter = Callable[[tuple[str, str] | None, int, Mapping[str, str]], str]


def _compare_writer(node: t.Compare) -> _CompareWriter:
    """A comparison's criterion, as JSON, from the fact it read (``fact_text``) and its rank: the
    tracing walker's wording (``detail``), without walking. Everything but the value read, as
    JSON and as shown in the explanation, is written here, once, for each rank."""
    openings, key = _openings(node), _json(node.fact)
    reported, required = map(_inner, compare_wording(node))
    before = tuple(f'{opening}"facts":{{{key}:' for opening in openings)
    missing = tuple(f"[{key}]" if rank == UNKNOWN else "[]" for rank in range(len(openings)))
    between = tuple(f'}},"missing":{lacking},"detail":"{reported}' for lacking in missing)
    after = f'{required}","flags":[]{_CHILDLESS}'
    absent = tuple(f'{opening}"facts":{{}},"missing":[{key}],"detail":' for opening in openings)

    def write(text: tuple[str, str] | None, rank: int, conflicts: Mapping[str, str]) -> str:
        if text is None:
            conflict = conflicts.get(node.fact)
            explained = _json(conflict) if conflict else _NOT_REPORTED
            return f'{absent[rank]}{explained},"flags":[]{_CHILDLESS}'
        value, shown = text
        return f"{before[rank]}{value}{between[rank]}{shown}{after}"

    return write


def _trace_writer(node: t.Node) -> Callable[[Trace], str]:
    """Another leaf's criterion, as JSON, from the tracing walker's trace of it."""
    openings = dict(zip(BY_RANK, _openings(node), strict=True))

    def write(trace: Trace) -> str:
        return (
            f'{openings[trace.result]}"facts":{json_text(dict(trace.used))},'
            f'"missing":{_json(trace.missing)},"detail":{_json(detail(trace))},'
            f'"flags":{_json(trace.flags)}{_CHILDLESS}'
        )

    return write


def results_trace(
    compiled: CompiledCriteria,
    ctx: Context,
    ranks: tuple[int, ...],
    checked: Checked,
    settled: Mapping[int, tuple[str, ...]],
    i: int = 0,
) -> Trace:
    """The tracing walker's trace of node i, from the compiled results rather than by evaluating
    again: each leaf explained from its rank or its check's outcome (as ``word`` explains it),
    each connective carrying its result, and a criterion decided by cases (``settled``: it and
    the facts it was decided over) explained as ``by_cases.settled_trace`` explains it."""
    node, rank, children = compiled.nodes[i], ranks[i], compiled.shape.children[i]
    if children:  # a connective
        note = settled_note(rank, settled[i]) if i in settled else ""
        kids = tuple([results_trace(compiled, ctx, ranks, checked, settled, c) for c in children])
        return Trace(node, BY_RANK[rank], note=note, children=kids)
    return leaf_trace(compiled, ctx, ranks, checked, i)


def leaf_trace(
    compiled: CompiledCriteria, ctx: Context, ranks: tuple[int, ...], checked: Checked, i: int
) -> Trace:
    """``results_trace`` of a leaf (a leaf is never decided by cases)."""
    node = compiled.nodes[i]
    if isinstance(node, t.Check):
        return check_trace(node, checked[compiled.check_places[i]], ctx.facts)
    return _EXPLAIN_RANK[type(node)](node, ranks[i], ctx)


def trace_json(trace: Trace) -> str:
    """A criteria tree as JSON straight from the tracing walker's trace (what ``word`` writes
    from results): for a tree some of whose criteria were decided by cases."""
    children = ",".join(trace_json(c) for c in trace.children)
    opening = _openings(trace.node)[RANK[trace.result]]
    return (
        f'{opening}"facts":{json_text(dict(trace.used))},"missing":{_json(trace.missing)},'
        f'"detail":{_json(detail(trace))},"flags":{_json(trace.flags)},"children":[{children}]}}'
    )
