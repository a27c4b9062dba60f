"""Authored policy document (YAML) -> validated policy tree, reporting every problem at once.

The authored form is what a policy analyst writes: nested mappings, clause numbers relative to
their parent, reusable fragments by name. The validated form (``medpolicy.policy.tree``) is what
walkers run: absolute citations, unique ids, facts and value sets resolved.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, get_args

import yaml

from medpolicy.catalogue import Catalogue, register, shared_catalogue, shared_drugs
from medpolicy.definitions.drugs import CODE_SYSTEMS, DrugEntry, DrugVocabulary
from medpolicy.definitions.icd10 import ValueSet
from medpolicy.engine.checks import CHECKS
from medpolicy.facts import FACTS
from medpolicy.policy import tree as t
from medpolicy.policy.diagnostics import Diagnostics, PolicyError

__all__ = ["CLASSES_FIELD", "IDENTITY_FIELD", "check_policy", "load_policy"]

_COMBINATORS = ("all", "any", "not", "use")
# each code-set leaf key, and how it reads the diagnosis codes (``tree.DiagnosisMode``)
_DIAGNOSIS_LEAVES: dict[str, t.DiagnosisMode] = {
    "diagnosis_in": "supports",
    "diagnosed_with": "diagnosed",
    "diagnosis_not_in": "not_in",
}
_LEAVES = ("fact", *_DIAGNOSIS_LEAVES, "check", "count", "within", "judgment")
# the fields of a drug record (prior therapy, concurrent drug) holding the vocabulary's id for
# the drug it names, and the classes of that drug
IDENTITY_FIELD = "identity"
CLASSES_FIELD = "classes"
_OPS: tuple[str, ...] = get_args(t.CompareOp)
_NUMERIC_OPS = ("at_least", "at_most", "above", "below")
_NODE_KEYS = {
    "id",
    "clause",
    "cite",
    "text",
    "reading",
    "with",
    "where",
    "unknown_if",
    *_COMBINATORS,
    *_LEAVES,
    *_OPS,
}


def load_policy(path: str | Path) -> t.Policy:
    policy, diagnostics = check_policy(path)
    if policy is None:
        raise PolicyError(str(path), diagnostics.items)
    return policy


def check_policy(path: str | Path) -> tuple[t.Policy | None, Diagnostics]:
    diags = Diagnostics()
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        diags.add("", "unreadable", f"cannot read policy file: {exc}")
        return None, diags
    if not isinstance(raw, dict):
        diags.add("", "not-a-mapping", "a policy file must be a mapping at the top level")
        return None, diags
    policy = _Builder(raw, diags).build()
    if diags:
        return None, diags
    return policy, diags


def content_hash(raw: Mapping[str, Any]) -> str:
    """Hash of the parsed document, so whitespace and comments do not change a policy's identity."""
    canonical = json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


class _Builder:
    def __init__(self, raw: dict[str, Any], diags: Diagnostics) -> None:
        self.raw = raw
        self.d = diags
        self.ids: set[str] = set()
        self.fragments: dict[str, Any] = raw.get("fragments") or {}
        self.value_sets: dict[str, ValueSet] = {}
        self.indications: dict[str, t.Indication] = {}
        self.current_fact: str | None = None
        self.catalogue: Catalogue = shared_catalogue()
        self.drug_classes: frozenset[str] = frozenset()

    # -- small typed readers that record a diagnostic instead of raising ----------------------
    def req(self, m: Mapping[str, Any], key: str, path: str, kind: type = str) -> Any:
        value = m.get(key)
        if value is None:
            self.d.add(f"{path}.{key}", "missing", f"'{key}' is required")
            return date.min if kind is date else kind()
        if kind is date:
            return self.date(value, f"{path}.{key}")
        if not isinstance(value, kind):
            self.d.add(f"{path}.{key}", "wrong-type", f"'{key}' must be a {kind.__name__}")
            return kind()
        return value

    def date(self, value: Any, path: str) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.d.add(path, "wrong-type", f"{value!r} is not a date (YYYY-MM-DD)")
            return date.min

    def decimal(self, value: Any, path: str) -> Decimal:
        try:
            if isinstance(value, bool):
                raise InvalidOperation
            number = Decimal(str(value))
        except InvalidOperation:
            self.d.add(path, "not-a-number", f"{value!r} is not a number")
            return Decimal(0)
        # NaN and infinities parse, but a limit of NaN compares false with every dose: refused
        # here, where the policy analyst reads it, not at a request's check.
        if not number.is_finite():
            self.d.add(path, "not-a-number", f"{value!r} is not a finite number")
            return Decimal(0)
        return number

    # -- document sections ---------------------------------------------------------------------
    def build(self) -> t.Policy | None:
        r = self.raw
        meta = self.meta(r)
        self.catalogue = self.own_facts(r.get("facts") or {})
        drug, drugs = self.drug_vocabulary(r.get("drug") or {}, r.get("drugs") or {})
        self.drugs = drugs
        scope = self.scope(r.get("program_exceptions") or [], "program_exceptions")
        self.build_value_sets(r.get("value_sets") or {}, "value_sets")
        diagnoses = self.diagnosis_codes(r.get("diagnosis_codes") or {}, "diagnosis_codes")
        self.build_indications(r.get("indications") or {}, "indications")
        pathways = tuple(
            self.pathway(p, f"pathways[{i}]") for i, p in enumerate(r.get("pathways") or [])
        )
        if not pathways:
            self.d.add("pathways", "missing", "a policy needs at least one pathway")
        precautions = tuple(
            self.precaution(p, f"precautions[{i}]")
            for i, p in enumerate(r.get("precautions") or [])
        )
        fact_rules = tuple(
            self.fact_rule(m, f"fact_rules[{i}]") for i, m in enumerate(r.get("fact_rules") or [])
        )
        contradictions = tuple(
            self.contradiction(m, f"contradictions[{i}]")
            for i, m in enumerate(r.get("contradictions") or [])
        )
        for key in r:
            if key not in {
                "id",
                "title",
                "payer",
                "applies_to",
                "version",
                "effective_date",
                "source",
                "history",
                "drug",
                "drugs",
                "program_exceptions",
                "value_sets",
                "diagnosis_codes",
                "indications",
                "fragments",
                "pathways",
                "precautions",
                "fact_rules",
                "contradictions",
                "facts",
                "universal",
            }:
                self.d.add(key, "unknown-key", f"unknown top-level key '{key}'")
        if self.d:
            return None
        return t.Policy(
            meta,
            drug,
            scope,
            self.value_sets,
            self.indications,
            pathways,
            precautions,
            content_hash(r),
            drugs,
            diagnoses,
            self.catalogue,
            fact_rules,
            contradictions,
        )

    def meta(self, r: Mapping[str, Any]) -> t.PolicyMeta:
        history = r.get("history") or {}
        updates = tuple(
            (
                self.req(u, "date", f"history.updates[{i}]", date),
                self.req(u, "text", f"history.updates[{i}]"),
            )
            for i, u in enumerate(history.get("updates") or [])
        )
        return t.PolicyMeta(
            id=self.req(r, "id", "policy"),
            title=self.req(r, "title", "policy"),
            payer=self.req(r, "payer", "policy"),
            version=str(self.req(r, "version", "policy")),
            effective_date=self.req(r, "effective_date", "policy", date),
            original_effective_date=self.req(history, "original_effective_date", "history", date),
            reviewed=self.date(history["reviewed"], "history.reviewed")
            if history.get("reviewed")
            else None,
            revised=self.date(history["revised"], "history.revised")
            if history.get("revised")
            else None,
            history=updates,
            source=self.req(r, "source", "policy"),
            applies_to=self.applies_to(r.get("applies_to"), "applies_to"),
        )

    def applies_to(self, m: Any, path: str) -> t.Applicability:
        if not isinstance(m, dict):
            self.d.add(path, "missing", "'applies_to' names the payer (plans, lines of business)")
            return t.Applicability("?")
        for key in set(m) - {"payer", "plans", "lines_of_business"}:
            self.d.add(f"{path}.{key}", "unknown-key", f"unknown key '{key}'")
        lobs = tuple(str(v) for v in m.get("lines_of_business") or [])
        for i, lob in enumerate(lobs):
            if lob not in FACTS["member.line_of_business"].choices:
                self.d.add(
                    f"{path}.lines_of_business[{i}]",
                    "unknown-choice",
                    f"unknown line of business '{lob}'",
                )
        return t.Applicability(
            payer=str(self.req(m, "payer", path)),
            plans=tuple(str(v) for v in m.get("plans") or []),
            lines_of_business=lobs,
        )

    def drug(self, m: Mapping[str, Any], path: str) -> t.Drug:
        sizes = m.get("vial_sizes_mg") or []
        if not sizes or not all(isinstance(s, int) and s > 0 for s in sizes):
            self.d.add(
                f"{path}.vial_sizes_mg", "wrong-type", "vial sizes must be positive whole mg"
            )
        return t.Drug(
            id=self.req(m, "id", path),
            name=self.req(m, "name", path),
            brand=self.req(m, "brand", path),
            hcpcs=self.req(m, "hcpcs", path),
            hcpcs_description=self.req(m, "hcpcs_description", path),
            mg_per_unit=self.decimal(m.get("mg_per_unit", 1), f"{path}.mg_per_unit"),
            vial_sizes_mg=tuple(sorted((s for s in sizes if isinstance(s, int)), reverse=True)),
        )

    def own_facts(self, entries: Any) -> Catalogue:
        """The shared catalogue with the policy's own facts (``facts:``, in the same form)."""
        shared = shared_catalogue()
        if not isinstance(entries, Mapping):
            self.d.add("facts", "not-a-mapping", "'facts' maps each fact's path to its entry")
            return shared
        try:
            catalogue = shared.extend(entries)
        except ValueError as exc:
            for problem in str(exc).split("; "):
                self.d.add("facts", "bad-fact", problem)
            return shared
        for path in entries:
            if path in shared:
                self.d.add(f"facts.{path}", "duplicate-fact", f"'{path}' is a shared fact")
        for path in register(catalogue):
            self.d.add(
                f"facts.{path}", "duplicate-fact", f"another policy gives '{path}' another meaning"
            )
        return catalogue

    def drug_vocabulary(
        self, m: Mapping[str, Any], others: Mapping[str, Any]
    ) -> tuple[t.Drug, DrugVocabulary]:
        """The policy's drug, and the vocabulary of every drug it can tell apart: the shared
        vocabulary's, with any names and codes the policy adds to its drug, and the policy's own
        other drugs (``drugs``)."""
        drug = self.drug(m, "drug")
        written = dict(shared_drugs())
        own = dict(written.get(drug.id) or {"label": drug.name, "names": []})
        own["names"] = [*(own.get("names") or []), *(m.get("names") or [])]
        codes = {k: list(v) for k, v in (own.get("codes") or {}).items()}
        for system, extra in (m.get("codes") or {}).items():
            codes[system] = [*codes.get(system, []), *extra]
        codes["hcpcs"] = [drug.hcpcs, *[c for c in codes.get("hcpcs") or [] if c != drug.hcpcs]]
        own["codes"] = codes
        written[drug.id] = own
        if not isinstance(others, Mapping):
            self.d.add("drugs", "not-a-mapping", "'drugs' maps each drug's id to its names")
            others = {}
        for key, spec in others.items():
            if key in written:
                self.d.add(f"drugs.{key}", "duplicate-id", f"'{key}' is in the shared vocabulary")
            written[str(key)] = spec
        entries = []
        for key, spec in written.items():
            path = "drug" if key == drug.id else f"drugs.{key}"
            if not isinstance(spec, Mapping):
                self.d.add(path, "not-a-mapping", "a drug needs a label and names")
                continue
            entries.append(self.drug_entry(str(key), spec, path))
        vocabulary, problems = DrugVocabulary.build(entries)
        for problem in problems:
            self.d.add("drugs", "ambiguous-drug", problem)
        self.drug_classes = frozenset(c for e in entries for c in e.classes)
        return drug, vocabulary

    def drug_entry(self, drug_id: str, m: Mapping[str, Any], path: str) -> DrugEntry:
        names = m.get("names") or []
        if not isinstance(names, list) or not names:
            self.d.add(f"{path}.names", "missing", "a drug needs the names it is reported by")
            names = []
        codes = m.get("codes") or {}
        for system in set(codes) - set(CODE_SYSTEMS):
            self.d.add(f"{path}.codes.{system}", "unknown-key", f"unknown code system '{system}'")
        return DrugEntry(
            id=drug_id,
            label=self.req(m, "label", path),
            names=tuple(str(n) for n in names),
            codes={s: tuple(str(c) for c in codes.get(s) or []) for s in CODE_SYSTEMS},
            classes=tuple(str(c) for c in m.get("classes") or []),
        )

    def citation(self, m: Mapping[str, Any], path: str) -> t.Citation:
        return t.Citation(self.req(m, "cite", path), self.req(m, "text", path))

    def scope(self, items: list[Any], path: str) -> tuple[t.ScopeRule, ...]:
        rules = []
        for i, m in enumerate(items):
            p = f"{path}[{i}]"
            lob = self.req(m, "line_of_business", p)
            if lob and lob not in FACTS["member.line_of_business"].choices:
                self.d.add(
                    f"{p}.line_of_business", "unknown-choice", f"unknown line of business '{lob}'"
                )
            applies = m.get("applies")
            if not isinstance(applies, bool):
                self.d.add(f"{p}.applies", "wrong-type", "'applies' must be true or false")
            if applies is False and not m.get("route_to"):
                self.d.add(f"{p}.route_to", "missing", "an exception must say where requests go")
            rules.append(t.ScopeRule(lob, bool(applies), self.citation(m, p), m.get("route_to")))
        return tuple(rules)

    def build_value_sets(self, m: Mapping[str, Any], path: str) -> None:
        for name, spec in m.items():
            p = f"{path}.{name}"
            entries = spec.get("codes") if isinstance(spec, dict) else None
            included = spec.get("include") if isinstance(spec, dict) else None
            if included is not None:  # a union of other sets, e.g. every listed condition's
                entries = self.included_entries(included, m, f"{p}.include")
            if not isinstance(entries, list) or not entries:
                self.d.add(f"{p}.codes", "missing", "a value set needs a non-empty list of codes")
                continue
            try:
                self.value_sets[name] = ValueSet.build(name, entries)
            except ValueError as exc:
                self.d.add(f"{p}.codes", "unknown-code", str(exc))

    def included_entries(
        self, included: Any, sets: Mapping[str, Any], path: str
    ) -> list[Any] | None:
        if not isinstance(included, list) or not included:
            self.d.add(path, "empty", "'include' needs a non-empty list of value sets")
            return None
        entries: list[Any] = []
        for i, name in enumerate(included):
            spec = sets.get(name)
            if not isinstance(spec, dict) or not isinstance(spec.get("codes"), list):
                self.d.add(f"{path}[{i}]", "unknown-value-set", f"no value set '{name}' to include")
                continue
            entries += spec["codes"]
        return entries

    def diagnosis_codes(self, m: Mapping[str, Any], path: str) -> t.Diagnoses:
        def value_set(key: str) -> ValueSet | None:
            name = m.get(key)
            if name is None:
                return None
            if name not in self.value_sets:
                self.d.add(f"{path}.{key}", "unknown-value-set", f"no value set '{name}'")
            return self.value_sets.get(name)

        for key in set(m) - {"names_a_condition", "site_of_spread"}:
            self.d.add(f"{path}.{key}", "unknown-key", f"unknown key '{key}'")
        return t.Diagnoses(value_set("names_a_condition"), value_set("site_of_spread"))

    def build_indications(self, m: Mapping[str, Any], path: str) -> None:
        for key, spec in m.items():
            p = f"{path}.{key}"
            vs = spec.get("implied_by_value_set")
            if vs is not None and vs not in (self.raw.get("value_sets") or {}):
                self.d.add(f"{p}.implied_by_value_set", "unknown-value-set", f"no value set '{vs}'")
            by_fact = spec.get("implied_by_fact")
            implied_fact = None
            if by_fact is not None:
                fact = by_fact.get("fact")
                if fact not in self.catalogue:
                    self.d.add(
                        f"{p}.implied_by_fact.fact", "unknown-fact", f"unknown fact '{fact}'"
                    )
                implied_fact = (str(fact), tuple(str(v) for v in by_fact.get("in") or []))
            self.indications[key] = t.Indication(
                key, self.req(spec, "label", p), self.req(spec, "condition", p), vs, implied_fact
            )

    def pathway(self, m: Mapping[str, Any], path: str) -> t.Pathway:
        phase = m.get("phase")
        if phase not in ("initiation", "continuation"):
            self.d.add(
                f"{path}.phase", "unknown-choice", "phase must be initiation or continuation"
            )
        indications = m.get("indications", [m["indication"]] if "indication" in m else [])
        if "indication" in m and "indications" in m:
            self.d.add(path, "node-kind", "a pathway names 'indication' or 'indications', not both")
        if not isinstance(indications, list):
            self.d.add(f"{path}.indications", "wrong-type", "'indications' must be a list")
            indications = []
        for i, indication in enumerate(indications):
            if indication not in (self.raw.get("indications") or {}):
                self.d.add(
                    f"{path}.indications[{i}]",
                    "unknown-indication",
                    f"no indication '{indication}'",
                )
        months, weeks = m.get("approval_months"), m.get("approval_weeks")
        if (months is None) == (weeks is None):
            self.d.add(path, "approval", "a pathway needs approval_months or approval_weeks")
        for key, value in (("approval_months", months), ("approval_weeks", weeks)):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value <= 0
            ):
                self.d.add(f"{path}.{key}", "wrong-type", f"{key} must be a whole number")
        cycles = m.get("course_cycles")
        if cycles is not None and (not isinstance(cycles, int) or cycles <= 0):
            self.d.add(f"{path}.course_cycles", "wrong-type", "course_cycles is a whole number")
            cycles = None
        root = {
            k: v
            for k, v in m.items()
            if k
            not in (
                "phase",
                "indication",
                "indications",
                "approval_months",
                "approval_weeks",
                "course_cycles",
            )
        }
        universal = self.raw.get("universal")
        if isinstance(universal, dict) and phase in (universal.get("phases") or [phase]):
            if not isinstance(root.get("all"), list):
                self.d.add(
                    path, "universal", "universal criteria join a pathway whose root is 'all'"
                )
            else:  # the policy-wide criteria, first, as this pathway's own
                shared = {k: v for k, v in universal.items() if k != "phases"}
                root["all"] = [shared, *root["all"]]
        criteria = self.node(root, path, parent_section="", parent_id="")
        chosen = tuple(str(i) for i in indications)
        return t.Pathway(
            criteria.name,
            phase or "initiation",
            chosen,
            months if isinstance(months, int) else 0,
            criteria,
            weeks if isinstance(weeks, int) else 0,
            cycles,
        )

    def precaution(self, m: Mapping[str, Any], path: str) -> t.Precaution:
        kind = m.get("kind")
        if kind not in ("boxed_warning", "warning", "administration"):
            self.d.add(
                f"{path}.kind",
                "unknown-choice",
                "kind must be boxed_warning, warning or administration",
            )
        claims_check = m.get("claims_check")
        if claims_check is not None and not isinstance(claims_check, str):
            self.d.add(f"{path}.claims_check", "wrong-type", "claims_check names a claims check")
            claims_check = None
        return t.Precaution(
            self.req(m, "id", path), kind or "warning", self.citation(m, path), claims_check
        )

    # -- the criteria tree ---------------------------------------------------------------------
    def node(self, m: Any, path: str, parent_section: str, parent_id: str) -> t.Node:
        if not isinstance(m, dict):
            self.d.add(path, "not-a-mapping", "a criterion must be a mapping")
            return t.AllOf("?", "?", t.Citation("?", "?"), None, ())
        for key in m:
            if key not in _NODE_KEYS:
                self.d.add(f"{path}.{key}", "unknown-key", f"unknown criterion key '{key}'")
        name = self.req(m, "id", path)
        full_id = f"{parent_id}/{name}" if parent_id else name
        if full_id in self.ids:
            self.d.add(f"{path}.id", "duplicate-id", f"id '{full_id}' is used twice")
        self.ids.add(full_id)
        section = self.section(m, path, parent_section)
        cite = t.Citation(section, self.req(m, "text", path))
        base = dict(id=full_id, name=name, citation=cite, reading=m.get("reading"))
        kinds = [k for k in (*_COMBINATORS, *_LEAVES) if k in m]
        if len(kinds) != 1:
            self.d.add(
                path,
                "node-kind",
                f"a criterion needs exactly one of {', '.join((*_COMBINATORS, *_LEAVES))}"
                f" (found {', '.join(kinds) or 'none'})",
            )
            return t.AllOf(**base, children=())
        kind = kinds[0]
        if kind in ("all", "any"):
            children = m[kind]
            if not isinstance(children, list) or not children:
                self.d.add(f"{path}.{kind}", "empty", f"'{kind}' needs a non-empty list")
                children = []
            built = tuple(
                self.node(c, f"{path}.{kind}[{i}]", section, full_id)
                for i, c in enumerate(children)
            )
            return (
                t.AllOf(**base, children=built)
                if kind == "all"
                else t.AnyOf(**base, children=built)
            )
        if kind == "not":
            return t.Not(**base, child=self.node(m["not"], f"{path}.not", section, full_id))
        if kind == "use":
            return self.use(m, path, base, section, full_id)
        if kind in _DIAGNOSIS_LEAVES:
            vs = m[kind]
            if vs not in (self.raw.get("value_sets") or {}):
                self.d.add(f"{path}.{kind}", "unknown-value-set", f"no value set '{vs}'")
            mode = _DIAGNOSIS_LEAVES[kind]
            return t.InValueSet(**base, fact="diagnoses", value_set=str(vs), mode=mode)
        if kind == "check":
            return self.check(m, path, base)
        if kind == "count":
            return self.count(m["count"], f"{path}.count", base)
        if kind == "within":
            return self.within(m["within"], f"{path}.within", base)
        if kind == "judgment":
            if not isinstance(m["judgment"], str) or not m["judgment"].strip():
                self.d.add(
                    f"{path}.judgment", "wrong-type", "a judgment is the reviewer's question"
                )
            return t.Judgment(**base, question=str(m["judgment"]))
        return self.fact_leaf(m, path, base)

    def records_of(self, m: Any, path: str) -> tuple[str, tuple[tuple[str, t.Condition], ...]]:
        """A list fact and the conditions on its records' fields (``fact``, ``where``)."""
        fact = m.get("fact") if isinstance(m, dict) else None
        if fact not in self.catalogue or self.catalogue[str(fact)].kind != "records":
            self.d.add(f"{path}.fact", "unknown-fact", f"'{fact}' is not a list of records")
        self.current_fact = None
        where = m.get("where") or {} if isinstance(m, dict) else {}
        conds = tuple(
            (str(f), self.condition(c, f"{path}.where.{f}")) for f, c in sorted(where.items())
        )
        for f, cond in conds:
            if f == IDENTITY_FIELD:
                self.check_drugs(f"{path}.where.{f}", cond)
            elif f == CLASSES_FIELD:
                self.check_classes(f"{path}.where.{f}", cond)
        return str(fact), conds

    def count(self, m: Any, path: str, base: dict[str, Any]) -> t.Node:
        fact, where = self.records_of(m, path)
        on_count = {k: v for k, v in (m.items() if isinstance(m, dict) else []) if k in _OPS}
        condition = self.condition(on_count, path)
        if condition.op not in (*_NUMERIC_OPS, "equals"):
            self.d.add(path, "condition-op", "a count is compared: at_least, at_most, above, below")
        return t.Count(**base, fact=fact, where=where, condition=condition)

    def within(self, m: Any, path: str, base: dict[str, Any]) -> t.Node:
        if not isinstance(m, dict):
            self.d.add(path, "not-a-mapping", "within: {fact, after: {fact, where, field}, months}")
            m = {}
        event = m.get("fact")
        if event not in self.catalogue or self.catalogue[str(event)].kind != "date":
            self.d.add(f"{path}.fact", "unknown-fact", f"'{event}' is not a date fact")
        after = m.get("after") or {}
        records, where = self.records_of(after, f"{path}.after")
        months, days = m.get("months", 0), m.get("days", 0)
        if not all(isinstance(v, int) and v >= 0 for v in (months, days)) or not (months or days):
            self.d.add(path, "wrong-type", "a window of whole months or days")
            months, days = 0, 0
        return t.Within(
            **base,
            fact=str(event),
            records=records,
            where=where,
            field=str(after.get("field", "end_date")),
            months=int(months),
            days=int(days),
            since=after.get("since"),
        )

    def section(self, m: Mapping[str, Any], path: str, parent_section: str) -> str:
        if "cite" in m:
            return str(m["cite"])
        if "clause" in m:
            if not parent_section:
                self.d.add(
                    f"{path}.clause", "relative-clause", "a top-level criterion needs 'cite'"
                )
                return str(m["clause"])
            last = parent_section.rsplit(" > ", 1)[-1]
            # "Initiation" + "1" -> "Initiation > 1"; "1" + "b" -> "1.b" (the guideline's numbering)
            joiner = "." if last[:1].isdigit() else " > "
            return f"{parent_section}{joiner}{m['clause']}"
        if not parent_section:
            self.d.add(path, "no-citation", "every pathway must cite the guideline ('cite')")
        return parent_section

    def use(
        self, m: Mapping[str, Any], path: str, base: dict[str, Any], section: str, full_id: str
    ) -> t.Node:
        name = m["use"]
        for key in set(m) - {"id", "clause", "cite", "text", "reading", "use"}:
            self.d.add(
                f"{path}.{key}",
                "use-site-key",
                f"'{key}' belongs in fragment '{name}', not where it is used",
            )
        fragment = self.fragments.get(name)
        if not isinstance(fragment, dict):
            self.d.add(f"{path}.use", "unknown-fragment", f"no fragment '{name}'")
            return t.AllOf(**base, children=())
        # The use-site supplies id, clause and text; the fragment supplies the logic beneath.
        merged = {
            **{k: v for k, v in fragment.items() if k not in ("id", "clause", "cite", "text")},
            **{k: m[k] for k in ("id", "text", "reading") if k in m},
            "cite": section,
        }
        self.ids.discard(full_id)
        parent_id = full_id.rsplit("/", 1)[0] if "/" in full_id else ""
        return self.node(merged, f"fragments.{name}", section, parent_id)

    def check(self, m: Mapping[str, Any], path: str, base: dict[str, Any]) -> t.Node:
        name = m["check"]
        definition = CHECKS.get(name)
        params_in = m.get("with") or {}
        params: dict[str, Decimal | int | str] = {}
        if definition is None:
            self.d.add(f"{path}.check", "unknown-check", f"no check definition '{name}'")
        else:
            for pname, ptype in definition.params.items():
                if pname not in params_in:
                    if ptype is not str:  # a text parameter is optional (empty)
                        self.d.add(
                            f"{path}.with.{pname}", "missing", f"check '{name}' needs '{pname}'"
                        )
                elif ptype is Decimal:
                    params[pname] = self.decimal(params_in[pname], f"{path}.with.{pname}")
                elif ptype is str:
                    params[pname] = str(params_in[pname])
                elif not isinstance(params_in[pname], int):
                    self.d.add(
                        f"{path}.with.{pname}", "wrong-type", f"'{pname}' must be a whole number"
                    )
                else:
                    params[pname] = params_in[pname]
            for extra in set(params_in) - set(definition.params):
                self.d.add(
                    f"{path}.with.{extra}", "unknown-key", f"check '{name}' takes no '{extra}'"
                )
        return t.Check(**base, definition=str(name), params=params)

    def fact_leaf(self, m: Mapping[str, Any], path: str, base: dict[str, Any]) -> t.Node:
        fact = m["fact"]
        self.current_fact = None if "where" in m else fact
        if fact not in self.catalogue:
            self.d.add(f"{path}.fact", "unknown-fact", f"unknown fact '{fact}'")
        if "where" in m:
            where = m["where"]
            if not isinstance(where, dict) or not where:
                self.d.add(f"{path}.where", "empty", "'where' needs field conditions")
                where = {}
            if fact in self.catalogue and self.catalogue[fact].kind != "records":
                self.d.add(f"{path}.where", "wrong-kind", f"'{fact}' is not a list of records")
            conds = tuple(
                (str(f), self.condition(c, f"{path}.where.{f}")) for f, c in sorted(where.items())
            )
            for f, cond in conds:
                if f == IDENTITY_FIELD:
                    self.check_drugs(f"{path}.where.{f}", cond)
                elif f == CLASSES_FIELD:
                    self.check_classes(f"{path}.where.{f}", cond)
            return t.Exists(**base, fact=str(fact), where=conds)
        return t.Compare(**base, fact=str(fact), condition=self.condition(m, path))

    def condition(self, m: Any, path: str) -> t.Condition:
        if not isinstance(m, dict):
            self.d.add(path, "not-a-mapping", "a condition must be a mapping")
            return t.Condition("equals")
        ops = [k for k in _OPS if k in m]
        if len(ops) != 1:
            self.d.add(path, "condition-op", f"a condition needs exactly one of {', '.join(_OPS)}")
            return t.Condition("equals")
        op = ops[0]
        value: object = m[op]
        if op in _NUMERIC_OPS:
            value = self.decimal(value, f"{path}.{op}")
        elif op in ("in", "not_in", "contains_any"):
            if not isinstance(value, list) or not value:
                self.d.add(f"{path}.{op}", "wrong-type", f"'{op}' needs a non-empty list")
                value = []
            value = tuple(str(v) for v in value)
        elif op in ("is", "is_empty") and not isinstance(value, bool):
            self.d.add(f"{path}.{op}", "wrong-type", f"'{op}' needs true or false")
        elif op == "within_years_before_request" and not isinstance(value, int):
            self.d.add(f"{path}.{op}", "wrong-type", "a number of years is a whole number")
        elif op == "equals":
            value = str(value)
        self.check_choices(path, op, value)
        unknown_if = tuple(str(v) for v in m.get("unknown_if") or [])
        return t.Condition(op, value, unknown_if)  # type: ignore[arg-type]

    def check_drugs(self, path: str, cond: t.Condition) -> None:
        """A drug identity a rule names must be one the vocabulary has (else it never matches)."""
        values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
        for v in values:
            if v not in self.drugs.entries:
                self.d.add(
                    f"{path}.{cond.op}", "unknown-drug", f"'{v}' is not a drug of 'drug' or 'drugs'"
                )

    def check_classes(self, path: str, cond: t.Condition) -> None:
        """A drug class a rule names must be one some drug of the vocabulary belongs to."""
        values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
        for v in values:
            if v not in self.drug_classes:
                self.d.add(
                    f"{path}.{cond.op}",
                    "unknown-class",
                    f"'{v}' is no drug's class ({', '.join(sorted(self.drug_classes))})",
                )

    def fact_rule(self, m: Any, path: str) -> t.FactRule:
        if not isinstance(m, dict):
            self.d.add(path, "not-a-mapping", "a fact rule must be a mapping")
            return t.FactRule("?", t.Citation("?", "?"), None)
        known = {"fact", "cite", "text", "reading", "dated_by", "max_age_days", "window_days"}
        for key in set(m) - known:
            self.d.add(f"{path}.{key}", "unknown-key", f"unknown fact-rule key '{key}'")
        fact = self.req(m, "fact", path)
        if fact and fact not in self.catalogue:
            self.d.add(f"{path}.fact", "unknown-fact", f"unknown fact '{fact}'")
        dated_by = m.get("dated_by")
        if dated_by is not None and (
            dated_by not in self.catalogue or self.catalogue[dated_by].kind != "date"
        ):
            self.d.add(f"{path}.dated_by", "unknown-fact", f"'{dated_by}' is not a date fact")
        window = m.get("window_days") or {}
        days = {
            key: self.whole_days(value, f"{path}.{key}")
            for key, value in (("max_age_days", m.get("max_age_days")),)
            if value is not None
        }
        for key in ("before", "after"):
            if key in window:
                days[key] = self.whole_days(window[key], f"{path}.window_days.{key}")
        if ("max_age_days" in days) != (dated_by is not None):
            self.d.add(path, "fact-rule", "'max_age_days' and 'dated_by' go together")
        if window and (dated_by is not None or not fact or self.catalogue[fact].kind != "date"):
            self.d.add(f"{path}.window_days", "fact-rule", "a window is for a date fact itself")
        return t.FactRule(
            fact=str(fact),
            citation=self.citation(m, path),
            reading=m.get("reading"),
            dated_by=dated_by,
            max_age_days=days.get("max_age_days"),
            days_before=days.get("before"),
            days_after=days.get("after"),
        )

    def whole_days(self, value: Any, path: str) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            self.d.add(path, "wrong-type", "a number of days is a whole number, 0 or more")
            return 0
        return value

    def contradiction(self, m: Any, path: str) -> t.Contradiction:
        if not isinstance(m, dict):
            self.d.add(path, "not-a-mapping", "a contradiction must be a mapping")
            return t.Contradiction(
                "?",
                t.Citation("?", "?"),
                None,
                "?",
                t.Condition("equals"),
                t.AllOf("?", "?", t.Citation("?", "?"), None, ()),
                "?",
            )
        known = {"id", "fact", "cite", "text", "reading", "when", "contradicted_by", "note"}
        for key in set(m) - known:
            self.d.add(f"{path}.{key}", "unknown-key", f"unknown contradiction key '{key}'")
        fact = self.req(m, "fact", path)
        if fact and fact not in self.catalogue:
            self.d.add(f"{path}.fact", "unknown-fact", f"unknown fact '{fact}'")
        self.current_fact = fact
        when = self.condition(m.get("when"), f"{path}.when")
        citation = self.citation(m, path)
        by = self.node(m.get("contradicted_by"), f"{path}.contradicted_by", citation.section, "")
        return t.Contradiction(
            id=self.req(m, "id", path),
            citation=citation,
            reading=m.get("reading"),
            fact=str(fact),
            when=when,
            contradicted_by=by,
            note=self.req(m, "note", path),
        )

    def check_choices(self, path: str, op: str, value: object) -> None:
        """A value a fact can never take is a typo that would silently never match."""
        fact = self.current_fact
        spec = self.catalogue.facts.get(fact) if fact else None
        if spec is None or not spec.choices or op not in ("equals", "in", "not_in", "contains_any"):
            return
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if v not in spec.choices:
                self.d.add(
                    f"{path}.{op}",
                    "unknown-choice",
                    f"'{v}' is not a value of {fact} ({', '.join(spec.choices)})",
                )
