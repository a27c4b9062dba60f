"""A QuestionnaireResponse to the generated Questionnaire -> the engine's facts.

The response's linkIds are fact paths, so reading it is a table from fact to the request field it
fills. Answers fill what the structured FHIR data did not say; HER2 results from both are kept as
separate entries (identical ones once), so a disagreement reaches the reviewer as a conflict. A
response to some other Questionnaire (a home-oxygen form, say) is reported and not read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from medpolicy.adapters.fhir.answers import choice_from_coding
from medpolicy.adapters.fhir.codes import System, is_system
from medpolicy.adapters.fhir.draft import Draft
from medpolicy.adapters.fhir.record_facts import answer_value, is_record_only
from medpolicy.adapters.fhir.records import read_record
from medpolicy.adapters.fhir.resources import Located, as_list, to_decimal
from medpolicy.adapters.fhir.vocabulary import fhir_mapping

__all__ = ["is_medpolicy_response", "read_questionnaire_response"]

_PREFIX = f"{System.MEDPOLICY}/Questionnaire/"
_RECORD_FACTS = ("prior_therapies", "prior_authorizations")


@dataclass
class _Answers:
    values: dict[str, list[Any]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    records: dict[str, list[tuple[dict[str, Any], str]]] = field(default_factory=dict)

    def first(self, link: str) -> Any:
        found = self.values.get(link) or [None]
        return found[0]


def is_medpolicy_response(qr: Mapping[str, Any]) -> bool:
    canonical = qr.get("questionnaire")
    return isinstance(canonical, str) and canonical.startswith(_PREFIX)


def read_questionnaire_response(qr: Located, draft: Draft) -> bool:
    """Fill the draft from one response; False (and reported) when it is not one of ours."""
    canonical = qr.resource.get("questionnaire")
    if not is_medpolicy_response(qr.resource):
        draft.report(
            qr.path,
            "not-usable",
            f"QuestionnaireResponse to {canonical!r} is not a "
            "medpolicy Questionnaire; its answers are not read",
        )
        return False
    if qr.resource.get("status") in ("entered-in-error", "stopped"):
        draft.report(
            qr.at("status"),
            "not-usable",
            "QuestionnaireResponse status is "
            f"{qr.resource.get('status')}; its answers are not read",
        )
        return False
    answers = _Answers()
    for link, values, path in _walk(as_list(qr.resource.get("item")), qr.at("item")):
        if link.endswith(".record") and link[:-7] in _RECORD_FACTS:
            answers.records.setdefault(link[:-7], []).append((values[0], path))
        else:
            answers.values.setdefault(link, []).extend(values)
            answers.paths.setdefault(link, path)
    for apply in _APPLY:
        apply(answers, draft)
    return True


def _walk(items: list[Any], path: str) -> Iterator[tuple[str, list[Any], str]]:
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("linkId"), str):
            continue
        here = f"{path}[{i}]"
        link = item["linkId"]
        if link.endswith(".record"):
            yield link, [item], here  # one repeated record group, read as a whole
            continue
        values = [_value(a) for a in as_list(item.get("answer")) if isinstance(a, dict)]
        if values:
            yield link, [v for v in values if v is not None], f"{here}.answer"
        yield from _walk(as_list(item.get("item")), f"{here}.item")
        for j, answer in enumerate(as_list(item.get("answer"))):
            if isinstance(answer, dict):
                yield from _walk(as_list(answer.get("item")), f"{here}.answer[{j}].item")


def _value(answer: Mapping[str, Any]) -> Any:
    for key in (
        "valueCoding",
        "valueQuantity",
        "valueBoolean",
        "valueDecimal",
        "valueInteger",
        "valueDate",
        "valueDateTime",
        "valueString",
    ):
        if key in answer:
            return answer[key]
    return None


# -- one small writer per fact ------------------------------------------------------------------


def _set_choice(
    fact: str, field_name: str, *, agree: bool = True
) -> Callable[[_Answers, Draft], None]:
    def apply(a: _Answers, draft: Draft) -> None:
        choice = choice_from_coding(fact, a.first(fact))
        if choice is not None:
            _set(draft, field_name, choice, a.paths[fact], agree=agree)

    return apply


def _set_plain(fact: str, field_name: str, kind: type) -> Callable[[_Answers, Draft], None]:
    def apply(a: _Answers, draft: Draft) -> None:
        value = a.first(fact)
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            _set(draft, field_name, value, a.paths[fact])

    return apply


def _set(draft: Draft, field_name: str, value: Any, path: str, *, agree: bool = True) -> None:
    """The answer, unless the structured data (or the case) already gave the field. An answer
    that disagrees with it is a contradiction: neither is used, so the fact is asked for (the
    prescriber answering "progressed" beside an Observation of "stable" is never approved on
    either). With ``agree`` False (the request type, which a request cannot go without, and lists,
    which the structured data gives as richer records), the structured data stands and the answer
    is reported as superseded."""
    if draft.set(field_name, value, path):
        return
    given = draft.get(field_name)
    if _same(given, value):
        return
    if agree:
        draft.discard(field_name)
        draft.report(
            path,
            "not-usable",
            f"answer {value!r} for {field_name} disagrees with the structured data "
            f"({given!r}): neither is used",
        )
        return
    draft.report(
        path,
        "superseded",
        f"answer {value!r} for {field_name} not used: the structured data already gave {given!r}",
    )


def _same(given: Any, answered: Any) -> bool:
    """Whether an answer says what the structured data says: a quantity by the value and unit it
    gives (the structured one may carry its date too), numbers by value."""
    if isinstance(given, dict) and isinstance(answered, dict):
        return all(_same(given.get(k), v) for k, v in answered.items())
    if isinstance(given, str) and isinstance(answered, str):
        a, b = to_decimal(given), to_decimal(answered)
        if a is not None and b is not None:
            return a == b
    return bool(given == answered)


def _indications(a: _Answers, draft: Draft) -> None:
    for coding in a.values.get("indications", []):
        code = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(code, str) and code not in (draft.get("indications") or []):
            draft.append("indications", code, a.paths["indications"])


def _quantity(fact: str, field_name: str) -> Callable[[_Answers, Draft], None]:
    """A quantity in one of the fact's units (``catalogue/fhir.yaml``), as the request's."""

    def apply(a: _Answers, draft: Draft) -> None:
        units = fhir_mapping().units[fact]
        q = a.first(fact)
        if not isinstance(q, dict):
            return
        value, unit = to_decimal(q.get("value")), units.get(str(q.get("code")))
        if value is None or unit is None:
            draft.report(
                a.paths[fact],
                "not-usable",
                f"{fact} answer unit {q.get('code')!r} is not one of {', '.join(units)}; not used",
            )
            return
        _set(draft, field_name, {"value": str(value), "unit": unit}, a.paths[fact])

    return apply


def _diagnoses(a: _Answers, draft: Draft) -> None:
    for value in a.values.get("diagnoses", []):
        code = value if isinstance(value, str) else None
        if isinstance(value, dict):
            if not is_system(value.get("system"), System.ICD10CM):
                draft.report(
                    a.paths["diagnoses"],
                    "unrecognized-coding",
                    "diagnosis answer is "
                    f"not ICD-10-CM ({value.get('system')}|{value.get('code')}); not used",
                )
                continue
            code = value.get("code")
        if isinstance(code, str) and code.strip().upper() not in (draft.get("diagnoses") or []):
            draft.append("diagnoses", code.strip().upper(), a.paths["diagnoses"])


def _extent(a: _Answers, draft: Draft) -> None:
    for coding in a.values.get("disease_extent", []):
        choice = choice_from_coding("disease_extent", coding)
        if choice and choice not in (draft.get("disease_extent") or []):
            draft.append("disease_extent", choice, a.paths["disease_extent"])


def _brain(a: _Answers, draft: Draft) -> None:
    choice = choice_from_coding("brain_metastases.extent", a.first("brain_metastases.extent"))
    if choice is None:
        return
    path = a.paths["brain_metastases.extent"]
    _set(draft, "brain_metastases.present", choice != "none", path)
    if choice in ("limited", "extensive") and draft.get("brain_metastases.present"):
        _set(draft, "brain_metastases.extent", choice, path)


def _her2(a: _Answers, draft: Draft) -> None:
    score = choice_from_coding("her2.ihc_score", a.first("her2.ihc_score"))
    if score is not None and {"score": score} not in (draft.get("her2.ihc") or []):
        draft.append("her2.ihc", {"score": score}, a.paths["her2.ihc_score"])
    ish = {
        k: str(to_decimal(a.first(f"her2.ish_{k}")))
        for k in ("ratio", "copy_number")
        if to_decimal(a.first(f"her2.ish_{k}")) is not None
    }
    if ish and ish not in (draft.get("her2.ish") or []):
        path = a.paths.get("her2.ish_ratio") or a.paths["her2.ish_copy_number"]
        draft.append("her2.ish", ish, path)
    concurrent = a.first("her2.concurrent")
    if isinstance(concurrent, bool):
        _attest_concurrency(concurrent, a.paths["her2.concurrent"], draft)


def _attest_concurrency(concurrent: bool, path: str, draft: Draft) -> None:
    """The provider's answer on concurrency, carried as specimen identity on the HER2 results
    that do not name their specimen: the same specimen if concurrent, distinct ones if not."""
    results = [*(draft.get("her2.ihc") or []), *(draft.get("her2.ish") or [])]
    unnamed = [r for r in results if not r.get("specimen_id")]
    for i, result in enumerate(unnamed):
        result["specimen_id"] = "attested-same-specimen" if concurrent else f"attested-{i + 1}"
    if unnamed:
        draft.report(
            path,
            "assumption",
            "HER2 concurrency taken from the questionnaire answer "
            f"({'concurrent' if concurrent else 'not concurrent'})",
        )


def _list(fact: str, field_name: str) -> Callable[[_Answers, Draft], None]:
    """A list fact: "none" (an empty list), or the records/names answered."""

    def apply(a: _Answers, draft: Draft) -> None:
        if a.first(f"{fact}.any") is False:
            _set(draft, field_name, [], a.paths[f"{fact}.any"], agree=False)
        for record, path in a.records.get(fact, []):
            found = read_record(fact, record)
            if found and found not in (draft.get(field_name) or []):
                draft.append(field_name, found, path)
        names = [n for n in a.values.get(f"{fact}.drug", []) if isinstance(n, str) and n.strip()]
        if names:
            _set(draft, field_name, names, a.paths[f"{fact}.drug"], agree=False)

    return apply


def _record_only(a: _Answers, draft: Draft) -> None:
    """Answers to the questions of facts only the clinical record holds (the earlier request
    format has no field for them): kept for the record, where the catalogue reads each."""
    for fact, values in a.values.items():
        if fact in READ_FACTS or not values or not is_record_only(fact):
            continue
        value = answer_value(fact, values[0])
        given = draft.record_facts.get(fact)
        if value is None:
            draft.report(a.paths[fact], "not-usable", f"answer for {fact} is not one it takes")
        elif given is None:
            draft.record_facts[fact] = (value, a.paths[fact])
        elif given[0] != value:  # a contradiction, as in ``_set``: neither is used
            del draft.record_facts[fact]
            draft.report(
                a.paths[fact],
                "not-usable",
                f"answer {value!r} for {fact} disagrees with the structured data "
                f"({given[0]!r}): neither is used",
            )


_APPLY: tuple[Callable[[_Answers, Draft], None], ...] = (
    _set_choice("request.type", "request_type", agree=False),
    _indications,
    _quantity("medication.dose", "medication.dose"),
    _quantity("body_weight.kg", "body_weight"),
    _set_plain("medication.interval_days", "medication.interval_days", int),
    _set_plain("medication.line_of_therapy", "medication.line_of_therapy", int),
    _list("medication.concurrent_anticancer_drugs", "medication.concurrent_anticancer_drugs"),
    _diagnoses,
    _extent,
    _brain,
    _her2,
    _set_choice("erbb2_mutation.status", "erbb2_mutation.status"),
    _list("prior_therapies", "prior_therapies"),
    _list("prior_authorizations", "prior_authorizations"),
    _set_plain("compendium.fda_labeled_indication", "compendium.fda_labeled_indication", bool),
    _set_plain(
        "compendium.fda_label_requirements_met", "compendium.fda_label_requirements_met", bool
    ),
    _set_choice("compendium.nccn_category", "compendium.nccn_category"),
    _set_plain("initiation_criteria_previously_met", "initiation_criteria_previously_met", bool),
    _set_choice("disease_status_on_treatment", "disease_status_on_treatment"),
    _record_only,
)

# Every fact of the earlier request format the Questionnaire can ask, with the writer above that
# reads it back; a test checks this list against the generated Questionnaire so a new fact cannot
# be asked and then ignored. Facts only the clinical record holds are read by ``_record_only``.
READ_FACTS = frozenset(
    {
        "request.type",
        "indications",
        "medication.dose",
        "body_weight.kg",
        "medication.interval_days",
        "medication.line_of_therapy",
        "medication.concurrent_anticancer_drugs",
        "diagnoses",
        "disease_extent",
        "brain_metastases.extent",
        "her2.ihc_score",
        "her2.ish_ratio",
        "her2.ish_copy_number",
        "her2.concurrent",
        "erbb2_mutation.status",
        "prior_therapies",
        "prior_authorizations",
        "compendium.fda_labeled_indication",
        "compendium.fda_label_requirements_met",
        "compendium.nccn_category",
        "initiation_criteria_previously_met",
        "disease_status_on_treatment",
    }
)
