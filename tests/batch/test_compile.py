"""The compiled SQL: golden per dialect, refused loudly where a backend cannot run a node, and
changed by a change of the policy (never by a code or a limit typed in the compiler)."""

from __future__ import annotations

import dataclasses
import os
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from medpolicy.batch.audit import run_audit
from medpolicy.batch.compile import compile_audit
from medpolicy.batch.mapping import audit_plan
from medpolicy.batch.plan import DoseLimit, Unsupported
from medpolicy.policy import tree as t
from medpolicy.policy.load import load_policy
from medpolicy.policy.tree import Policy
from tests.batch.conftest import CORPUS
from tests.support import KADCYLA

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_compiled_sql_matches_its_golden_file(kadcyla: Policy, dialect: str) -> None:
    script = compile_audit(audit_plan(kadcyla), dialect).script()
    golden = GOLDEN / f"audit.{dialect}.sql"
    if os.environ.get("MEDPOLICY_UPDATE_GOLDEN") == "1":
        golden.write_text(script, encoding="utf-8")
    assert script == golden.read_text(encoding="utf-8")


def test_the_spark_dialect_is_a_diff_of_the_same_tree(kadcyla: Policy) -> None:
    plan = audit_plan(kadcyla)
    duck, spark = compile_audit(plan, "duckdb"), compile_audit(plan, "spark")
    assert [s.name for s in duck.steps] == [s.name for s in spark.steps]
    assert "RLIKE" in spark.step("checked").sql and "REGEXP_MATCHES" in duck.step("checked").sql
    assert "DATE_FORMAT" in spark.step("audited").sql and "STRFTIME" in duck.step("audited").sql


def _with_check(policy: Policy, definition: str) -> Policy:
    """The policy with every dose-limit check renamed to another definition."""

    def swap(node: t.Node) -> t.Node:
        if isinstance(node, t.Check):
            return dataclasses.replace(node, definition=definition)
        if isinstance(node, t.AllOf | t.AnyOf):
            return dataclasses.replace(node, children=tuple(swap(c) for c in node.children))
        if isinstance(node, t.Not):
            return dataclasses.replace(node, child=swap(node.child))
        return node

    pathways = tuple(dataclasses.replace(p, criteria=swap(p.criteria)) for p in policy.pathways)
    return dataclasses.replace(policy, pathways=pathways)


def _with_fact(policy: Policy, fact: str, **changes: Any) -> Policy:
    """The policy whose catalogue says ``changes`` of ``fact``."""
    facts = dict(policy.catalogue.facts)
    facts[fact] = dataclasses.replace(facts[fact], **changes)
    return dataclasses.replace(
        policy, catalogue=dataclasses.replace(policy.catalogue, facts=MappingProxyType(facts))
    )


def _with_claims(policy: Policy, fact: str, claims: tuple[str, tuple[str, ...]] | None) -> Policy:
    """The policy whose catalogue says ``claims`` of where a claims audit reads ``fact``."""
    return _with_fact(policy, fact, claims=claims)


def test_where_claims_hold_a_fact_is_catalogue_data(kadcyla: Policy) -> None:
    # the catalogue, not the compiler, says which facts a claim audit can read
    assert kadcyla.catalogue["diagnoses"].claims == ("claim lines", ("dx1", "dx2", "dx3", "dx4"))
    with pytest.raises(Unsupported) as refused:
        audit_plan(_with_claims(kadcyla, "diagnoses", None))
    assert refused.value.node == "initiation_breast_cancer/diagnosis_code_supports_breast_cancer"
    assert "'diagnoses', which no claim-audit input holds" in refused.value.reason
    with pytest.raises(Unsupported, match="the members have no column weight_lb"):
        audit_plan(_with_claims(kadcyla, "body_weight.kg", ("members", ("weight_lb",))))
    with pytest.raises(Unsupported, match="no claims-audit input is named 'remits'"):
        audit_plan(_with_claims(kadcyla, "medication.dose", ("remits", ("units",))))


def test_a_members_weight_is_held_to_the_catalogues_plausible_max(kadcyla: Policy) -> None:
    """The audit reads the limit from the catalogue (never typed in batch code), in the column's
    unit; a limit the audit cannot hold a column to is refused when compiling, naming the fact."""
    most = kadcyla.catalogue["body_weight.kg"].plausible_max
    assert most is not None and audit_plan(kadcyla).most("members", "weight_kg") == most
    lower = audit_plan(_with_fact(kadcyla, "body_weight.kg", plausible_max=Decimal("350")))
    assert lower.most("members", "weight_kg") == Decimal("350")
    sql = compile_audit(lower).step("administrations").sql
    assert "m.weight_kg <= CAST('350' AS DECIMAL(3, 0))" in sql
    unlimited = audit_plan(_with_fact(kadcyla, "body_weight.kg", plausible_max=None))
    assert unlimited.most("members", "weight_kg") is None
    with pytest.raises(Unsupported) as refused:
        audit_plan(_with_fact(kadcyla, "body_weight.kg", unit="lb"))
    assert refused.value.node == "facts.body_weight.kg"
    assert refused.value.reason == "its plausible_max is in lb, the members' weight_kg in kg"
    with pytest.raises(Unsupported, match="its plausible_max is not checked on the claim lines"):
        audit_plan(_with_fact(kadcyla, "diagnoses", plausible_max=Decimal("1")))


def test_the_look_alike_check_comes_from_the_precaution_that_names_it(kadcyla: Policy) -> None:
    [precaution] = [p for p in kadcyla.precautions if p.claims_check]
    assert {c.name for c in audit_plan(kadcyla).checks} >= {"look_alike_product"}

    def with_check(name: str | None) -> Policy:
        others = tuple(p for p in kadcyla.precautions if p is not precaution)
        changed = dataclasses.replace(precaution, claims_check=name)
        return dataclasses.replace(kadcyla, precautions=(*others, changed))

    assert "look_alike_product" not in {c.name for c in audit_plan(with_check(None)).checks}
    with pytest.raises(Unsupported) as refused:
        audit_plan(with_check("substitution"))
    assert refused.value.node == f"precautions.{precaution.id}"


def test_a_check_with_no_claim_line_form_is_refused_naming_the_node(kadcyla: Policy) -> None:
    with pytest.raises(Unsupported) as refused:
        audit_plan(_with_check(kadcyla, "body_surface_area_dose_limit"))
    assert refused.value.node == "initiation_breast_cancer/dose_limit"
    assert "body_surface_area_dose_limit" in str(refused.value)


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_a_limit_beyond_the_backends_decimal_is_refused_when_compiling(
    kadcyla: Policy, dialect: str
) -> None:
    plan = audit_plan(kadcyla)
    huge = Decimal("3." + "6" * 40)
    checks = tuple(
        dataclasses.replace(c, max_mg_per_kg=huge) if isinstance(c, DoseLimit) else c
        for c in plan.checks
    )
    with pytest.raises(Unsupported) as refused:
        compile_audit(dataclasses.replace(plan, checks=checks), dialect)
    assert refused.value.dialect == dialect
    assert "initiation_breast_cancer/dose_limit" in refused.value.node
    assert "41 digits" in refused.value.reason


def test_a_fractional_billing_unit_is_refused_by_sql_and_run_by_python(kadcyla: Policy) -> None:
    drug = dataclasses.replace(kadcyla.drug, mg_per_unit=Decimal("0.5"))
    plan = audit_plan(dataclasses.replace(kadcyla, drug=drug))
    with pytest.raises(Unsupported, match=r"billing unit of 0\.5 mg"):
        compile_audit(plan, "duckdb")


def test_a_policy_change_changes_the_audit(tmp_path: Path) -> None:
    """Lower the dose limit and drop C79.31 from the brain-metastases list in a copy of the
    policy file: the SQL and the flags follow."""
    text = KADCYLA.read_text(encoding="utf-8")
    assert 'max_mg_per_kg: "3.6"' in text and "- code: C79.31" in text
    changed = text.replace('max_mg_per_kg: "3.6"', 'max_mg_per_kg: "3.0"').replace(
        "- code: C79.31", "- code: C79.32"
    )
    folder = tmp_path / "policy"
    folder.mkdir()
    (folder / "policy.yaml").write_text(changed, encoding="utf-8")
    (folder / "guideline.txt").write_text(
        (KADCYLA.parent / "guideline.txt").read_text(encoding="utf-8")
    )
    before, after = load_policy(KADCYLA), load_policy(folder / "policy.yaml")
    sql_before = compile_audit(audit_plan(before)).step("flags").sql
    sql_after = compile_audit(audit_plan(after)).step("flags").sql
    assert "'3.6'" in sql_before and "'3.0'" in sql_after and "'3.6'" not in sql_after

    def flagged(policy: Policy, out: Path) -> set[tuple[str, str]]:
        result = run_audit(
            policy,
            [CORPUS / "claims.csv"],
            out,
            authorizations=CORPUS / "authorizations.csv",
            members=CORPUS / "members.csv",
            report=False,
        )
        import pyarrow.parquet as pq

        return {
            (f["claim_id"], f["check"])
            for f in pq.read_table(result.files["flags_parquet"]).to_pylist()
        }

    old, new = flagged(before, tmp_path / "before"), flagged(after, tmp_path / "after")
    # 247 units at 68.5 kg is within 3.6 mg/kg but not 3.0; C79.31 no longer supports a line
    assert ("A100", "units_within_dose_limit") in new - old
    assert ("C100", "diagnosis_supports_indication") in new - old


def test_the_written_flags_have_the_columns_every_walker_makes() -> None:
    from medpolicy.batch.audit import FLAG_SCHEMA
    from medpolicy.batch.plan import FLAG_COLUMNS

    assert tuple(FLAG_SCHEMA.names) == FLAG_COLUMNS
