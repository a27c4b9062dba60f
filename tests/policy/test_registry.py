"""Several payers' policies side by side: the registry chooses a request's policy by drug, date,
payer, plan and line of business, and says so when none or more than one admits the member."""

from __future__ import annotations

import ast
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from medpolicy.adapters.fhir.dtr import generate_questionnaire
from medpolicy.adapters.native import parse_any
from medpolicy.errors import RequestError
from medpolicy.policy.cases import run_cases
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from tests.support import REPO

POLICIES = REPO / "policies"
ON = date(2026, 11, 2)


@pytest.fixture(scope="module")
def side_by_side() -> PolicyRegistry:
    return PolicyRegistry.load_dir(POLICIES, default_payer="florida_blue")


def test_four_payers_policies_for_one_drug_are_loaded(side_by_side: PolicyRegistry) -> None:
    assert {(p.meta.id, p.meta.applies_to.payer) for p in side_by_side.all()} == {
        ("09-J1000-90", "florida_blue"),
        ("CPB-0974", "aetna"),
        ("VP-0092", "credence_blue"),
        ("MA08.066g", "ibx"),
    }


@pytest.mark.parametrize(
    ("payer", "lob", "chosen"),
    [
        (None, "commercial", "09-J1000-90"),  # the deployment's payer
        ("florida_blue", "fep", "09-J1000-90"),  # its program exceptions route FEP, SAO, Part D
        ("aetna", "commercial", "CPB-0974"),
        ("credence_blue", "commercial", "VP-0092"),
        ("ibx", "medicare_advantage", "MA08.066g"),
    ],
)
def test_the_policy_is_chosen_by_payer_and_line_of_business(
    side_by_side: PolicyRegistry, payer: str | None, lob: str, chosen: str
) -> None:
    assert side_by_side.select("J9354", ON, payer, None, lob).meta.id == chosen


@pytest.mark.parametrize(
    ("payer", "lob", "field", "says"),
    [
        ("aetna", "medicare_advantage", "member.plan", "no aetna policy for J9354 admits"),
        ("ibx", None, "member.line_of_business", "line of business not reported"),
        ("cigna", "commercial", "member.payer", "no J9354 policy is for payer 'cigna'"),
    ],
)
def test_a_member_no_policy_admits_gets_a_clear_answer(
    side_by_side: PolicyRegistry, payer: str, lob: str | None, field: str, says: str
) -> None:
    with pytest.raises(RequestError) as refused:
        side_by_side.select("J9354", ON, payer, None, lob)
    [error] = refused.value.errors
    assert error.field == field and says in error.problem


@pytest.mark.parametrize(
    ("payer", "hcpcs", "on", "covered"),
    [
        ("aetna", "J9354", ON, True),  # its one policy admits some lines of business only
        ("florida_blue", "J9354", ON, True),
        ("cigna", "J9354", ON, False),  # no policy of the payer
        ("aetna", "J9355", ON, False),  # no policy for the drug
        ("aetna", "J9354", date(2001, 1, 1), False),  # none in effect yet
    ],
)
def test_a_payer_covers_a_drug_whichever_member_its_policies_admit(
    payer: str, hcpcs: str, on: date, covered: bool
) -> None:
    """What PAS and CRD ask before reading a member: a deployment for Aetna covers J9354,
    though no one of its policies admits a member whose line of business is unknown."""
    deployment = PolicyRegistry.load_dir(POLICIES, default_payer=payer)
    assert deployment.covers(hcpcs, on) is covered
    if payer == "aetna" and covered:
        with pytest.raises(RequestError):
            deployment.for_drug(hcpcs, on)  # which one is the member's to say


def _copy_policy(source: str, target: Path, **applies_to: Any) -> None:
    """A copy of a policy folder under another id, for another payer or program."""
    shutil.copytree(POLICIES / "oncology" / source, target)
    doc = yaml.safe_load((target / "policy.yaml").read_text(encoding="utf-8"))
    doc["id"] = f"{doc['id']}-{target.name}"
    doc["applies_to"] = applies_to
    (target / "policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def test_a_commercial_request_is_never_decided_under_a_medicaid_policy(tmp_path: Path) -> None:
    """The same vendor template under two payers: one commercial, one Medicaid (EOCCO)."""
    shutil.copytree(POLICIES / "oncology" / "credenceblue-VP-0092", tmp_path / "vp-0092")
    _copy_policy("credenceblue-VP-0092", tmp_path / "eocco", payer="eocco",
                 lines_of_business=["medicaid"])  # fmt: skip
    registry = PolicyRegistry.load_dir(tmp_path, default_payer=None)
    record = json.loads(_record("credence_blue", "commercial"))
    assert evaluate_request(registry, parse_any(record)).policy.id == "VP-0092"
    record = json.loads(_record("eocco", "medicaid"))
    assert evaluate_request(registry, parse_any(record)).policy.id == "VP-0092-eocco"
    with pytest.raises(RequestError):  # a commercial member of EOCCO: no policy admits it
        evaluate_request(registry, parse_any(json.loads(_record("eocco", "commercial"))))


def test_two_policies_admitting_one_member_are_refused_not_picked(tmp_path: Path) -> None:
    shutil.copytree(POLICIES / "oncology" / "aetna-CPB-0974", tmp_path / "a")
    _copy_policy("aetna-CPB-0974", tmp_path / "b", payer="aetna")
    registry = PolicyRegistry.load_dir(tmp_path, default_payer=None)
    with pytest.raises(RequestError) as refused:
        registry.select("J9354", ON, "aetna", None, "commercial")
    assert "more than one aetna policy" in refused.value.errors[0].problem


def _record(payer: str, lob: str) -> str:
    data = yaml.safe_load(
        (POLICIES / "oncology" / "credenceblue-VP-0092" / "cases.yaml").read_text("utf-8")
    )["bases"]["metastatic"]
    data["member"] = {**data["member"], "payer": payer, "line_of_business": lob}
    return json.dumps(data)


@pytest.mark.parametrize("folder", sorted(p.parent.name for p in POLICIES.rglob("policy.yaml")))
def test_every_policy_passes_its_own_cases(folder: str) -> None:
    [path] = list(POLICIES.rglob(f"{folder}/policy.yaml"))
    results = run_cases(path)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]


@pytest.mark.parametrize("policy_id", ["09-J1000-90", "CPB-0974", "VP-0092", "MA08.066g"])
def test_a_questionnaire_is_generated_for_every_policy(
    side_by_side: PolicyRegistry, policy_id: str
) -> None:
    policy = side_by_side.get(policy_id)
    assert policy is not None
    questionnaire = generate_questionnaire(policy)
    assert questionnaire["resourceType"] == "Questionnaire" and questionnaire["item"]


ENGINE_AND_ADAPTERS = (
    "engine",
    "policy",
    "definitions",
    "catalogue",
    "record",
    "batch",
    "adapters",
)


def _code_strings(path: Path) -> list[str]:
    """Every string the code uses (docstrings and comments, which explain, left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_engine_and_record_code_names_no_drug_payer_or_code() -> None:
    """Drugs, payers and codes are data (policy files, the catalogue, the drug vocabulary): the
    generic code uses none of them."""
    words = ("J9354", "J9355", "Kadcyla", "trastuzumab", "Florida Blue", "florida_blue",
             "aetna", "C50.", "C34.", "C79", "18474-7", "85319-2", "29463-7", "1371041",
             "09-J1000")  # fmt: skip
    checked = 0
    for folder in ENGINE_AND_ADAPTERS:
        for path in (REPO / "src" / "medpolicy" / folder).rglob("*.py"):
            checked += 1
            for text in _code_strings(path):
                for word in words:
                    assert word not in text, f"{path.relative_to(REPO)} uses {word!r}"
    assert checked > 20
