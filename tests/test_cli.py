"""The command line, end to end, as a user runs it (a real subprocess each time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.support import EXAMPLES, REPO

EXAMPLE = EXAMPLES / "breast-metastatic-approved.json"


def medpolicy(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "medpolicy", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def test_evaluate_prints_outcome_authorization_and_cited_tree() -> None:
    out = medpolicy("evaluate", str(EXAMPLE))
    assert out.returncode == 0, out.stderr
    assert "APPROVED" in out.stdout
    assert "247 units per administration" in out.stdout
    assert "J9354-JW × 13" in out.stdout
    assert (
        "✔ Position Statement > Initiation > 1.b.i: Immunohistochemistry (IHC) is 3+" in out.stdout
    )


def test_evaluate_json_is_byte_identical_across_processes() -> None:
    first = medpolicy("evaluate", "--json", str(EXAMPLE))
    second = medpolicy("evaluate", "--json", "-", stdin=EXAMPLE.read_text(encoding="utf-8"))
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert json.loads(first.stdout)["outcome"] == "approved"
    # for people at a terminal: indented, unlike the compact record that is stored and sent
    assert first.stdout.startswith('{\n  "decision_id": ') and first.stdout.endswith("}\n")


def test_bad_input_names_every_field_and_exits_2() -> None:
    request = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    request["body_weight"]["unit"] = "stone"
    request["medication"]["dose"]["value"] = "lots"
    out = medpolicy("evaluate", "-", stdin=json.dumps(request))
    assert out.returncode == 2
    assert "body_weight.unit" in out.stderr
    assert "medication.dose.value" in out.stderr
    assert "Traceback" not in out.stderr


def test_malformed_json_is_a_clear_error() -> None:
    out = medpolicy("evaluate", "-", stdin='{"request_id": ')
    assert out.returncode == 2
    assert "(body): malformed JSON" in out.stderr
    assert "Traceback" not in out.stderr


def test_input_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    latin1 = tmp_path / "latin1.json"
    latin1.write_bytes('{"request_id": "caf\u00e9"}'.encode("latin-1"))
    out = medpolicy("evaluate", str(latin1))
    assert out.returncode == 2
    assert "(body): malformed JSON: not UTF-8 text" in out.stderr
    assert "Traceback" not in out.stderr


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    out = medpolicy("evaluate", str(tmp_path / "nope.json"))
    assert out.returncode == 2
    assert "cannot read" in out.stderr


def test_request_schema_is_valid_and_accepts_every_example() -> None:
    out = medpolicy("schema", "request")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    for example in sorted(EXAMPLES.glob("*.json")):
        jsonschema.validate(json.loads(example.read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"request_id": "x"}, schema)


def test_decision_schema_is_published() -> None:
    out = medpolicy("schema", "decision")
    assert out.returncode == 0
    assert "outcome" in json.loads(out.stdout)["properties"]


def test_policy_show_check_and_test() -> None:
    show = medpolicy("policy", "show")
    assert show.returncode == 0
    assert "ANY Position Statement > Initiation > 1.b" in show.stdout
    check = medpolicy("policy", "check")
    assert check.returncode == 0, check.stdout
    assert "51 of 51 numbered clauses covered." in check.stdout
    cases = medpolicy("policy", "test")
    assert cases.returncode == 0, cases.stdout
    assert " 0 failed" in cases.stdout


def test_policy_test_fails_when_a_case_fails(tmp_path: Path) -> None:
    policy_dir = REPO / "policies" / "oncology" / "09-J1000-90"
    for name in ("policy.yaml", "guideline.txt"):
        (tmp_path / name).write_bytes((policy_dir / name).read_bytes())
    cases = (policy_dir / "cases.yaml").read_text(encoding="utf-8")
    (tmp_path / "cases.yaml").write_text(
        cases.replace(
            "expect: {outcome: not_met, reasons: [initiation_breast_cancer/monotherapy]}",
            "expect: {outcome: approved}",
            1,
        ),
        encoding="utf-8",
    )
    out = medpolicy("policy", "test", str(tmp_path / "policy.yaml"))
    assert out.returncode == 1
    assert "FAIL 1.c with pertuzumab" in out.stdout
