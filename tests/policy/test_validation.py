"""Loading a policy validates the whole file and reports every problem with its path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from medpolicy.policy.diagnostics import PolicyError
from medpolicy.policy.load import check_policy, load_policy
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.policy.tree import Compare, walk
from tests.support import KADCYLA, REPO


def _write(tmp_path: Path, doc: dict[str, object]) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _kadcyla_doc() -> dict[str, object]:
    doc = yaml.safe_load(KADCYLA.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def test_kadcyla_policy_is_valid_and_every_node_cites_a_clause(kadcyla: object) -> None:
    policy = load_policy(KADCYLA)
    for pathway in policy.pathways:
        for node in walk(pathway.criteria):
            assert node.citation.section and node.citation.text, node.id
            assert re.match(r"^(Position Statement|Billing/Coding) > ", node.citation.section)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    doc = _kadcyla_doc()
    pathways = doc["pathways"]
    assert isinstance(pathways, list)
    breast = pathways[0]["all"]
    breast[1]["any"][0]["fact"] = "disease_extnt"  # misspelt fact
    breast[3]["not"]["where"]["identity"] = {"not_in": ["kadcylla"]}  # not a drug it knows
    breast[5]["with"] = {"per_days": 21}  # belongs in the fragment
    doc["fragments"]["dose_limit"]["with"] = {"max_mg_per_kg": "3.6"}  # type: ignore[index]
    pathways[2]["all"][2]["equals"] = "positve"  # not a value of the fact
    doc["value_sets"]["nsclc"]["codes"].append({"code": "C34.99"})  # type: ignore[index]
    del doc["pathways"][1]["cite"]  # type: ignore[index]
    policy, diagnostics = check_policy(_write(tmp_path, doc))
    assert policy is None
    found = {(d.path, d.code) for d in diagnostics.items}
    assert ("pathways[0].all[1].any[0].fact", "unknown-fact") in found
    assert ("pathways[0].all[3].not.where.identity.not_in", "unknown-drug") in found
    assert ("fragments.dose_limit.with.per_days", "missing") in found
    assert ("pathways[0].all[5].with", "use-site-key") in found
    assert ("pathways[2].all[2].equals", "unknown-choice") in found
    assert ("value_sets.nsclc.codes", "unknown-code") in found
    assert ("pathways[1]", "no-citation") in found
    assert len(diagnostics.items) >= 6


@pytest.mark.parametrize("written", ["NaN", "Infinity", "-Infinity", "sNaN", "3.6.1", True])
def test_a_limit_must_be_a_finite_number(tmp_path: Path, written: object) -> None:
    doc = _kadcyla_doc()
    doc["fragments"]["dose_limit"]["with"]["max_mg_per_kg"] = written  # type: ignore[index]
    doc["drug"]["mg_per_unit"] = written  # type: ignore[index]
    policy, diagnostics = check_policy(_write(tmp_path, doc))
    assert policy is None
    found = {(d.path, d.code) for d in diagnostics.items}
    assert ("fragments.dose_limit.with.max_mg_per_kg", "not-a-number") in found
    assert ("drug.mg_per_unit", "not-a-number") in found


def test_load_policy_raises_with_every_diagnostic(tmp_path: Path) -> None:
    doc = _kadcyla_doc()
    doc["surprise"] = 1
    doc["drug"]["vial_sizes_mg"] = []  # type: ignore[index]
    with pytest.raises(PolicyError) as caught:
        load_policy(_write(tmp_path, doc))
    paths = {d.path for d in caught.value.diagnostics}
    assert {"surprise", "drug.vial_sizes_mg"} <= paths


def test_content_hash_is_computed_from_content_not_formatting(tmp_path: Path) -> None:
    doc = _kadcyla_doc()
    reformatted = load_policy(_write(tmp_path, doc))
    assert reformatted.content_hash == load_policy(KADCYLA).content_hash
    doc["fragments"]["dose_limit"]["with"] = {"max_mg_per_kg": "3.0", "per_days": 21}  # type: ignore[index]
    changed = load_policy(_write(tmp_path, doc))
    assert changed.content_hash != reformatted.content_hash


def test_a_new_drug_is_a_new_file_not_new_code(tmp_path: Path) -> None:
    """A second guideline (a made-up drug on another code) loads beside Kadcyla and is chosen by
    its HCPCS code; nothing in the engine names either drug."""
    doc = _kadcyla_doc()
    doc.update(id="TEST-0001", title="Test drug", version="2026-01-01", effective_date="2026-01-01")
    drug = doc["drug"]
    drug.update(
        id="testumab",
        hcpcs="J9999",
        name="testumab",
        brand="Testa",
        vial_sizes_mg=[50],
        names=["testumab", "Testa"],
    )
    folder = tmp_path / "oncology" / "TEST-0001"
    folder.mkdir(parents=True)
    (folder / "policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    kadcyla_folder = tmp_path / "oncology" / "09-J1000-90"
    kadcyla_folder.mkdir()
    (kadcyla_folder / "policy.yaml").write_text(
        KADCYLA.read_text(encoding="utf-8"), encoding="utf-8"
    )
    registry = PolicyRegistry.load_dir(tmp_path, default_payer="florida_blue")
    from datetime import date

    assert registry.for_drug("J9999", date(2026, 6, 1)).meta.id == "TEST-0001"
    assert registry.for_drug("J9354", date(2026, 6, 1)).meta.id == "09-J1000-90"


def test_engine_code_names_no_drug_and_no_policy() -> None:
    generic = [
        p
        for p in (REPO / "src" / "medpolicy").rglob("*.py")
        if p.parent.name in ("engine", "policy", "definitions", "logic.py")
        or p.name in ("logic.py", "facts.py", "render.py", "service.py")
    ]
    assert generic
    for path in generic:
        text = path.read_text(encoding="utf-8")
        for word in ("J9354", "Kadcyla", "09-J1000", "trastuzumab"):
            assert word not in text, f"{path.relative_to(REPO)} names {word}"


def test_thresholds_come_from_the_policy_file() -> None:
    policy = load_policy(KADCYLA)
    thresholds = {
        str(n.condition.value)
        for p in policy.pathways
        for n in walk(p.criteria)
        if isinstance(n, Compare) and n.condition.op in ("at_least", "below")
    }
    assert {"2.0", "4.0", "6.0"} <= thresholds
