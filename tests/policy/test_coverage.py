"""Clause coverage comes from the guideline text; the text beside the policy is the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from medpolicy.policy.coverage import coverage, coverage_report, guideline_clauses
from medpolicy.policy.load import load_policy
from tests.support import KADCYLA, shared_dir

GUIDELINE = KADCYLA.parent / "guideline.txt"


def test_guideline_copy_is_the_shared_specification() -> None:
    spec = shared_dir() / "guideline" / "09-J1000-90-ado-trastuzumab-emtansine.txt"
    if not spec.exists():
        pytest.fail(f"the shared guideline is expected at {spec}")
    assert GUIDELINE.read_bytes() == spec.read_bytes()


def test_numbered_clauses_are_read_with_their_full_numbering() -> None:
    sections = [c.section for c in guideline_clauses(GUIDELINE.read_text(encoding="utf-8"))]
    assert len(sections) == 51
    prefix = "Position Statement > Initiation > "
    assert f"{prefix}1.b.iii.2" in sections
    assert f"{prefix}2" in sections  # follows 1.b.iii.3 in the text
    assert f"{prefix}2.b.iii.3" in sections
    assert f"{prefix}5.a.ii" in sections
    assert "Position Statement > Continuation > 3" in sections
    assert len(set(sections)) == len(sections)


def test_every_numbered_clause_is_covered() -> None:
    report, passed = coverage_report(KADCYLA)
    assert passed, report
    assert "51 of 51 numbered clauses covered." in report


def test_a_missing_rule_shows_as_not_covered(tmp_path: Path) -> None:
    doc = yaml.safe_load(KADCYLA.read_text(encoding="utf-8"))
    del doc["pathways"][2]["all"][3]  # NSCLC 3.c subsequent therapy
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    (tmp_path / "guideline.txt").write_bytes(GUIDELINE.read_bytes())
    report, passed = coverage_report(tmp_path / "policy.yaml")
    assert not passed
    assert "NOT COVERED Position Statement > Initiation > 3.c" in report


def test_coverage_maps_clause_to_rules() -> None:
    policy = load_policy(KADCYLA)
    covered = coverage(policy, guideline_clauses(GUIDELINE.read_text(encoding="utf-8")))
    assert covered["Position Statement > Initiation > 1.c"] == [
        "initiation_breast_cancer/monotherapy",
        "initiation_breast_cancer/monotherapy/another_anticancer_drug_given_with_it",
    ]
