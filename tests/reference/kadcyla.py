"""A second, independent implementation of Florida Blue MCG 09-J1000-90's decision.

Written by hand from the guideline text (shared/guideline/) and PRODUCT.md's decision semantics,
*not* from policy.yaml: no policy file, no fact catalogue, no criteria tree, no engine code. Only
the request model (the input) and the ICD-10-CM code set (to expand the guideline's ranges) are
shared. It is deliberately plain: one function per clause, three-valued results as
True / False / None (None: cannot be told from what was reported).

The readings it applies are the ones policy.yaml documents; where it disagrees with the engine,
the differential test (``tests/engine/test_differential.py``) lists why, or fails.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from itertools import product

from medpolicy.definitions import icd10
from medpolicy.request import Request

Tri = bool | None  # True met, False not met, None unknown

__all__ = ["Reference", "decide"]


# -- three-valued logic ---------------------------------------------------------------------------


def ALL(*values: Tri) -> Tri:
    if any(v is False for v in values):
        return False
    return None if any(v is None for v in values) else True


def ANY(*values: Tri) -> Tri:
    if any(v is True for v in values):
        return True
    return None if any(v is None for v in values) else False


def NOT(value: Tri) -> Tri:
    return None if value is None else not value


# -- the Billing/Coding section: "ICD-10 Diagnosis Codes That Support Medical Necessity" ----------


@cache
def _codes(*ranges: tuple[str, str]) -> frozenset[str]:
    return frozenset(c for first, last in ranges for c in icd10.expand_range(first, last))


def breast_codes() -> frozenset[str]:  # C50.011 – C50.929, and inflammatory C50.A0–C50.A2 (1.a.i)
    return _codes(("C50.011", "C50.929"), ("C50.A0", "C50.A2"))


def brain_codes() -> frozenset[str]:  # C79.31
    return _codes(("C79.31", "C79.31"))


def lung_codes() -> frozenset[str]:  # C33; C34.00 – C34.32; C34.80 – C34.92
    return _codes(("C33", "C33"), ("C34.00", "C34.32"), ("C34.80", "C34.92"))


def salivary_codes() -> frozenset[str]:  # C06.9; C07; C08.0-C08.9
    return _codes(("C06.9", "C06.9"), ("C07", "C07"), ("C08.0", "C08.9"))


def primary_cancer_codes() -> frozenset[str]:  # ICD-10-CM chapter 2: a cancer by its primary site
    return _codes(("C00", "C75"), ("C7A", "C7A"), ("C76", "C76"), ("C81", "C96"))


def secondary_cancer_codes() -> frozenset[str]:  # where a cancer spread: C77-C79, C7B
    return _codes(("C77", "C79"), ("C7B", "C7B"))


LISTED = {"breast": breast_codes, "lung": lung_codes, "salivary": salivary_codes}
INDICATION_OF_CONDITION = {
    "breast": "breast_cancer",
    "lung": "nsclc",
    "salivary": "salivary_gland_tumor",
}
CONDITION_OF_INDICATION = {
    "breast_cancer": "breast",
    "cns_brain_metastases": "breast",  # 2.b: "HER2-positive breast cancer"
    "nsclc": "lung",
    "salivary_gland_tumor": "salivary",
    "other_fda_or_nccn": "other",
}


def _in(codes: frozenset[str], code: str) -> bool:
    """A code of the set, or a category above codes of it (C50.9 is breast cancer)."""
    stem = code.replace(".", "")
    return code in codes or any(c.replace(".", "").startswith(stem) for c in codes)


def condition_of(code: str) -> str | None:
    """breast / lung / salivary, "code:C16" for another cancer, None for no cancer named."""
    for name, codes in LISTED.items():
        if _in(codes(), code):
            return name
    if _in(secondary_cancer_codes(), code):
        return None
    if _in(primary_cancer_codes(), code):
        return "code:" + code[:3]
    return None


def supporting_code(codes: list[str] | None, listed: frozenset[str]) -> Tri:
    """At least one reported code supports the claim. Not reported: unknown. A category of listed
    codes, or codes that only name sites of spread: unknown (the complete / primary code is
    needed)."""
    if not codes:
        return None
    if any(c in listed for c in codes):
        return True
    if any(_in(listed, c) for c in codes):
        return None
    if not listed <= secondary_cancer_codes() and all(
        _in(secondary_cancer_codes(), c) for c in codes
    ):
        return None
    return False


# -- drugs ----------------------------------------------------------------------------------------

# Spellings a careful reviewer reads as this drug or as another one (PRODUCT.md: drugs by identity).
KADCYLA_NAMES = {"kadcyla", "adotrastuzumabemtansine", "trastuzumabemtansine", "tdm1"}
KADCYLA_CODES = {
    ("hcpcs", "J9354"),
    ("rxnorm", "1371041"),
    ("rxnorm", "1371046"),
    ("rxnorm", "1658084"),
    ("rxnorm", "1658087"),
    ("rxnorm", "1658089"),
    ("rxnorm", "1658091"),
}
OTHER_NAMES = {
    "trastuzumab": "trastuzumab",
    "herceptin": "trastuzumab",
    "kanjinti": "trastuzumab",
    "trastuzumabanns": "trastuzumab",
    "pertuzumab": "pertuzumab",
    "perjeta": "pertuzumab",
    "enhertu": "t-dxd",
    "famtrastuzumabderuxtecannxki": "t-dxd",
    "paclitaxel": "paclitaxel",
    "docetaxel": "docetaxel",
    "capecitabine": "capecitabine",
    "lapatinib": "lapatinib",
}
OTHER_CODES = {("hcpcs", "J9355"): "trastuzumab", ("hcpcs", "J9358"): "t-dxd"}


def _plain(name: str) -> list[str]:
    """Lower-case letters and digits of each part ("Kadcyla® 100 mg (T-DM1)" -> kadcyla, tdm1)."""
    name = re.sub(r"[™®©]", "", name)
    name = unicodedata.normalize("NFKC", name).lower()
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")  # zero-width, soft hyphen
    name = re.sub(r"\b\d+(\.\d+)?\s*mg\b", "", name)
    name = re.sub(r"\b(vial|injection|for)\b", "", name)
    parts = re.split(r"[()]", name)
    return [p for p in ("".join(ch for ch in part if ch.isalnum()) for part in parts) if p]


def drug_identity(name: str | None, codes: Iterable[tuple[str, str]] = ()) -> str | None:
    """ "kadcyla", another drug's name, or None (unknown, or two drugs named at once)."""
    found: set[str] = set()
    for code in codes:
        if code in KADCYLA_CODES:
            found.add("kadcyla")
        elif code in OTHER_CODES:
            found.add(OTHER_CODES[code])
        else:
            return None
    for part in _plain(name) if name is not None else []:
        if part in KADCYLA_NAMES:
            found.add("kadcyla")
        elif part in OTHER_NAMES:
            found.add(OTHER_NAMES[part])
        else:
            return None
    return found.pop() if len(found) == 1 else None


def _coded(item: object) -> list[tuple[str, str]]:
    out = []
    for system in ("hcpcs", "rxnorm", "ndc"):
        value = getattr(item, system, None)
        if value is not None:
            out.append((system, value))
    return out


# -- HER2 positivity (1.b, 2.b, 4.b) ---------------------------------------------------------------

IHC_SCORES = ("0", "1+", "2+", "3+")
# values on every side of the definition's boundaries (2.0; 4.0 and 6.0)
RATIOS = (Decimal("1.0"), Decimal("1.99"), Decimal("2.0"), Decimal("3.0"))
COPIES = (
    Decimal("3.0"),
    Decimal("3.99"),
    Decimal("4.0"),
    Decimal("5.0"),
    Decimal("6.0"),
    Decimal("7"),
)


def her2_positive_if(ihc: str, ratio: Decimal, copies: Decimal, concurrent: bool) -> bool:
    """The definition, every value known: i; ii.1; iii.1-3 (concurrent IHC and ISH)."""
    if ihc == "3+":  # i
        return True
    if ratio >= 2 and copies >= 4:  # ii.1
        return True
    return concurrent and (
        (ratio >= 2 and copies < 4 and ihc == "3+")  # iii.1
        or (ratio < 2 and copies >= 6 and ihc in ("2+", "3+"))  # iii.2
        or (ratio < 2 and 4 <= copies < 6 and ihc == "3+")  # iii.3
    )


def her2_positive(
    ihc: str | None, ratio: Decimal | None, copies: Decimal | None, concurrent: bool | None
) -> Tri:
    """Unknown only when it matters: every value an unreported result could take is tried."""
    seen = {
        her2_positive_if(i, r, c, k)
        for i in ([ihc] if ihc is not None else IHC_SCORES)
        for r in ([ratio] if ratio is not None else RATIOS)
        for c in ([copies] if copies is not None else COPIES)
        for k in ([concurrent] if concurrent is not None else (True, False))
    }
    return seen.pop() if len(seen) == 1 else None


@dataclass
class Her2:
    ihc: str | None = None
    ratio: Decimal | None = None
    copies: Decimal | None = None
    concurrent: bool | None = None


def _one(values: list[object]) -> object | None:
    """The reported value when every report agrees (as text); else unknown."""
    return values[0] if values and len({str(v) for v in values}) == 1 else None


def her2_results(r: Request, usable: object) -> Her2:
    if r.her2 is None:
        return Her2()
    ihc = [t for t in r.her2.ihc if usable(t)]  # type: ignore[operator]
    ish = [t for t in r.her2.ish if usable(t)]  # type: ignore[operator]
    out = Her2(
        _one([t.score for t in ihc]),  # type: ignore[arg-type]
        _one([t.ratio for t in ish if t.ratio is not None]),  # type: ignore[arg-type]
        _one([t.copy_number for t in ish if t.copy_number is not None]),  # type: ignore[arg-type]
    )
    pairs = [(a, b) for a in ihc for b in ish]
    if any(a.specimen_id and a.specimen_id == b.specimen_id for a, b in pairs) or any(
        a.date and a.date == b.date and not (a.specimen_id and b.specimen_id) for a, b in pairs
    ):
        out.concurrent = True
    elif pairs and all((a.specimen_id and b.specimen_id) or (a.date and b.date) for a, b in pairs):
        out.concurrent = False
    return out


# -- the decision ---------------------------------------------------------------------------------


@dataclass
class Reference:
    outcome: str  # approved | missing_information | not_met | out_of_scope
    met: list[str] = field(default_factory=list)  # pathways met
    why: list[str] = field(default_factory=list)  # what was not settled (for failure messages)


OUT_OF_SCOPE = {"fep", "state_account_organization", "medicare_part_d"}


def decide(r: Request) -> Reference:
    r = r.model_copy(update={"diagnoses": _diagnoses(r)})
    today = r.submitted_at.date()
    why: list[str] = []
    lob = r.member.line_of_business
    if lob is not None and lob.value in OUT_OF_SCOPE:  # Program Exceptions
        return Reference("out_of_scope")
    if lob is None:
        why.append("line of business")

    m = r.medication
    named = (m.drug, m.rxnorm, m.ndc) != (None, None, None)
    ordered = drug_identity(m.drug, [c for c in _coded(m) if c[0] != "hcpcs"])
    if named and ordered != "kadcyla":  # "should not be substituted for or with trastuzumab"
        why.append("drug ordered")

    # one request, one condition
    coded: set[str] = {c for c in (condition_of(code) for code in r.diagnoses or []) if c}
    stated = {CONDITION_OF_INDICATION[i] for i in r.indications or []}
    brain_reported = r.brain_metastases is not None and r.brain_metastases.present
    brain_coded = any(code in brain_codes() for code in r.diagnoses or [])
    if len(stated) > 1 or (not stated and len(coded) > 1):
        return Reference("missing_information", why=[*why, "which condition"])
    if stated:
        condition = stated.pop()
    elif coded:
        condition = next(iter(coded))
    elif brain_reported or brain_coded:
        condition = "breast"  # 2: brain metastases of breast cancer
    else:
        condition = None
    in_play = set(coded) | ({condition} if condition not in (None, "other") else set())
    if condition == "other" and not in_play:
        in_play = {"other"}

    def about_this(finding: object) -> bool:
        code = getattr(finding, "condition", None)
        named = condition_of(code) if code else None
        if named is None:
            return len(in_play) <= 1
        return named == condition or (condition == "other" and named.startswith("code:"))

    # facts have an age
    weight_kg: Decimal | None = None
    w = r.body_weight
    if w is not None and w.date is not None and w.date >= today - timedelta(days=30):
        weight_kg = w.value if w.unit == "kg" else w.value * Decimal("0.45359237")
    if w is not None and weight_kg is None:
        why.append("body weight not current")
    start = m.start_date
    if start is not None and not (today - timedelta(days=14) <= start <= _days_after(today, 90)):
        why.append("start date")

    her2 = her2_results(r, about_this)
    erbb2 = r.erbb2_mutation.status if r.erbb2_mutation and about_this(r.erbb2_mutation) else None
    dose = dose_ok(r, weight_kg)
    prior = r.prior_therapies
    kadcyla_progressed = (
        None
        if prior is None
        else ANY(*(ALL(_is_kadcyla(p), _equals(p.reason_stopped, "progression")) for p in prior))
    )

    pathways: dict[str, Tri] = {}
    indications = set(r.indications or [])
    # the indications of the request's condition: stated, or implied by its codes and findings
    implied = {ind for cond, ind in INDICATION_OF_CONDITION.items() if cond in coded}
    if brain_reported or brain_coded:
        implied.add("cns_brain_metastases")
    applies = {i for i in indications | implied if CONDITION_OF_INDICATION[i] == condition}
    if r.request_type == "initiation":
        if "breast_cancer" in applies:
            pathways["1"] = initiation_breast(r, her2, kadcyla_progressed, dose)
        if "cns_brain_metastases" in applies:
            pathways["2"] = initiation_cns(r, her2, dose)
        if "nsclc" in applies:
            pathways["3"] = initiation_nsclc(r, erbb2, dose)
        if "salivary_gland_tumor" in applies:
            pathways["4"] = initiation_salivary(r, her2, dose)
        if "other_fda_or_nccn" in applies:
            pathways["5"] = initiation_other(r, dose)
    elif applies and condition is not None:
        pathways["continuation"] = continuation(r, condition, dose, kadcyla_progressed)

    met = [p for p, v in pathways.items() if v is True]
    if met and not why:
        return Reference("approved", met)
    if met or any(v is None for v in pathways.values()):
        return Reference("missing_information", met, why)
    if not pathways and r.indications is None and r.diagnoses is None:
        return Reference("missing_information", why=[*why, "diagnosis"])
    return Reference("not_met", why=why)


def _diagnoses(r: Request) -> list[str] | None:
    """The member's diagnosis codes: those reported, then any a finding says it is about (a
    finding about a condition is a diagnosis of it); none at all is "not reported"."""
    codes = list(r.diagnoses or [])
    findings: list[object] = [*(r.her2.ihc if r.her2 else []), *(r.her2.ish if r.her2 else [])]
    if r.erbb2_mutation is not None:
        findings.append(r.erbb2_mutation)
    for f in findings:
        code = getattr(f, "condition", None)
        if code is not None and code not in codes:
            codes.append(code)
    return codes or None


def _days_after(day: date, days: int) -> date:
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max


def _equals(value: object, wanted: str) -> Tri:
    return None if value is None else value == wanted


def _is_kadcyla(p: object) -> Tri:
    identity = drug_identity(getattr(p, "drug", None), _coded(p))
    return None if identity is None else identity == "kadcyla"


def dose_ok(r: Request, weight_kg: Decimal | None) -> Tri:
    """ "Dose does not exceed 3.6 mg/kg every 21 days" (a documented, current weight needed)."""
    d, interval = r.medication.dose, r.medication.interval_days
    interval_ok = None if interval is None else interval >= 21
    if d is None or weight_kg is None:
        return ALL(None, interval_ok)
    mg = d.value if d.unit == "mg" else d.value * weight_kg
    return ALL(mg <= Decimal("3.6") * weight_kg, interval_ok)


def _extent(r: Request, *wanted: str) -> Tri:
    return None if r.disease_extent is None else bool(set(r.disease_extent) & set(wanted))


def _her2(h: Her2) -> Tri:
    return her2_positive(h.ihc, h.ratio, h.copies, h.concurrent)


def initiation_breast(r: Request, h: Her2, kadcyla_progressed: Tri, dose: Tri) -> Tri:
    concurrent = r.medication.concurrent_anticancer_drugs
    if concurrent is None:
        monotherapy: Tri = None
    else:  # 1.c: no other anticancer drug given with it (this drug named again is not another)
        others = [
            drug_identity(
                d if isinstance(d, str) else d.drug, [] if isinstance(d, str) else _coded(d)
            )
            for d in concurrent
        ]
        monotherapy = ALL(*(None if o is None else o == "kadcyla" for o in others))
    return ALL(
        supporting_code(r.diagnoses, breast_codes()),
        _extent(r, "locally_advanced", "inflammatory", "early_stage", "metastatic", "recurrent"),
        _her2(h),
        monotherapy,
        NOT(kadcyla_progressed),
        dose,
    )


def initiation_cns(r: Request, h: Her2, dose: Tri) -> Tri:
    b = r.brain_metastases
    if b is None:
        limited_or_extensive: Tri = None
    elif not b.present:
        limited_or_extensive = False
    else:
        limited_or_extensive = None if b.extent is None else True
    codes = r.diagnoses or []
    if any(c in breast_codes() for c in codes):
        breast: Tri = True
    elif any(condition_of(c) not in (None, "breast") for c in codes):
        breast = False  # the codes name another cancer
    else:
        breast = None  # absence of a code is not "not breast"
    return ALL(
        supporting_code(r.diagnoses, brain_codes()), limited_or_extensive, breast, _her2(h), dose
    )


def initiation_nsclc(r: Request, erbb2: str | None, dose: Tri) -> Tri:
    line = r.medication.line_of_therapy
    return ALL(
        supporting_code(r.diagnoses, lung_codes()),
        _extent(r, "recurrent", "advanced", "locally_advanced", "metastatic"),
        None if erbb2 is None else erbb2 == "positive",
        None if line is None else line >= 2,
        dose,
    )


def initiation_salivary(r: Request, h: Her2, dose: Tri) -> Tri:
    return ALL(
        supporting_code(r.diagnoses, salivary_codes()), _extent(r, "recurrent"), _her2(h), dose
    )


def not_listed(codes: list[str] | None) -> Tri:
    """5: "not previously listed above", by code."""
    if not codes:
        return None
    named = {condition_of(c) for c in codes} - {None}
    if named & set(LISTED):
        return False
    return True if named else None


def initiation_other(r: Request, dose: Tri) -> Tri:
    c = r.compendium
    label = None if c is None else ALL(c.fda_labeled_indication, c.fda_label_requirements_met)
    nccn = None if c is None or c.nccn_category is None else c.nccn_category in ("1", "2A")
    return ALL(not_listed(r.diagnoses), ANY(label, nccn), dose)


CONTINUED = {
    "breast": ({"breast_cancer", "cns_brain_metastases"}, lambda: breast_codes() | brain_codes()),
    "lung": ({"nsclc"}, lung_codes),
    "salivary": ({"salivary_gland_tumor"}, salivary_codes),
}


def continuation(r: Request, condition: str, dose: Tri, kadcyla_progressed: Tri) -> Tri:
    today = r.submitted_at.date()
    if condition == "other":
        code, indications = not_listed(r.diagnoses), {"other_fda_or_nccn"}
    else:
        indications, codes = CONTINUED[condition]
        code = supporting_code(r.diagnoses, codes())
    auths = r.prior_authorizations
    two_years_ago = _years_before(today, 2)
    authorized = (
        None
        if auths is None
        else ANY(
            *(
                ALL(
                    a.drug_hcpcs == "J9354",
                    two_years_ago <= a.approved_on <= today,
                    None if a.indication is None else a.indication in indications,
                )
                for a in auths
            )
        )
    )
    status = r.disease_status_on_treatment
    history_unclear = any(  # a drug it cannot name, stopped for progression: maybe this one
        _is_kadcyla(p) is None and p.reason_stopped == "progression"
        for p in r.prior_therapies or []
    )
    if status in ("stable", "improved") and (kadcyla_progressed is True or history_unclear):
        status = None  # contradicted (or maybe contradicted) by its own history: not used
    no_progression = (
        None if status is None or status == "undetermined" else status in ("stable", "improved")
    )
    return ALL(code, ANY(authorized, r.initiation_criteria_previously_met), no_progression, dose)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def cases_of(*domains: Iterable[object]) -> list[tuple[object, ...]]:  # for the tests' tables
    return list(product(*domains))
