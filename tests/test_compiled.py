"""The decision's modules compiled by mypyc (setup.py): what runs, and that it decides as Python.

Compiled code checks its annotations at run time and calls its own modules directly, so the
compiled engine is held to the Python one byte for byte: every case of every policy's case file
and every example, decided here (compiled, as installed by ``scripts/setup``) and in a process
that runs the same modules from their sources (``MEDPOLICY_PURE_PYTHON=1``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import medpolicy
from medpolicy import _compiled
from medpolicy.adapters.native import parse_any
from medpolicy.engine.decide import decide
from medpolicy.errors import RequestError
from medpolicy.policy.cases import build_request, load_cases
from medpolicy.policy.load import load_policy
from medpolicy.policy.registry import POLICY_FILE
from medpolicy.policy.tree import Policy

REPO = Path(__file__).resolve().parents[1]


def decisions() -> dict[str, str]:
    """Every case and example, decided: its decision's JSON (criteria worded), or the fields a
    refusal names."""
    out: dict[str, str] = {}

    def decided(name: str, policy: Policy, data: dict[str, Any]) -> None:
        try:
            out[name] = decide(policy, parse_any(data)).to_json()
        except RequestError as exc:
            out[name] = "refused: " + ", ".join(sorted(e.field for e in exc.errors))

    policies = {}
    for path in sorted((REPO / "policies").rglob(POLICY_FILE)):
        policy = policies[path.parent.name] = load_policy(path)
        bases, cases = load_cases(path)
        for case in cases:
            decided(f"{path.parent.name}/{case['name']}", policy, build_request(bases, case))
    for folder in ("requests", "records"):
        for example in sorted((REPO / "examples" / folder).glob("*.json")):
            data = json.loads(example.read_bytes())
            decided(f"{folder}/{example.stem}", policies["09-J1000-90"], data)
    return out


def test_the_installed_engine_is_compiled_from_these_sources() -> None:
    # what the benchmarks measure and the suite tests (scripts/setup compiles unless told not to)
    expected = "python" if os.environ.get("MEDPOLICY_COMPILE") == "0" else "compiled"
    assert expected == medpolicy.COMPILED, "run scripts/setup to build the compiled modules"
    if expected == "compiled":
        import medpolicy.engine.decide as module

        assert Path(module.__file__ or "").suffix == ".so"


def test_compiled_and_python_decide_byte_for_byte_alike() -> None:
    here = decisions()
    assert len(here) > 250 and sum(v.startswith("refused") for v in here.values()) > 5
    env = {**os.environ, _compiled.PURE_PYTHON: "1"}
    script = "import json, tests.test_compiled as t, medpolicy, medpolicy.engine.decide as d; "
    script += "print(json.dumps([medpolicy.COMPILED, d.__file__, t.decisions()]))"
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, check=True
    )
    state, module, there = json.loads(run.stdout)
    assert state in ("asked", "python") and module.endswith(".py")  # run from their sources
    assert there.keys() == here.keys()
    differ = [name for name in here if here[name] != there[name]]
    assert not differ, f"compiled and Python decide differently: {differ[:5]}"


# -- which modules run: the guard's decision on a package tree ---------------------------------


def _tree(tmp_path: Path, *, extension: bool) -> Path:
    root = tmp_path / "pkg"
    (root / "engine").mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "engine" / "__init__.py").write_text("")
    (root / "engine" / "decide.py").write_text("x = 1\n")
    if extension:
        (
            root / "engine" / f"decide{_compiled.importlib.machinery.EXTENSION_SUFFIXES[0]}"
        ).write_bytes(b"\x7fELF")
    return root


def _built(root: Path) -> None:
    (root / _compiled.MANIFEST).write_text(json.dumps({"sources": _compiled.digest(root)}))


@pytest.mark.parametrize(
    ("extension", "manifest", "edit", "environ", "expected"),
    [
        (False, False, None, {}, "python"),  # a plain install
        (True, True, None, {}, "compiled"),
        (True, True, None, {_compiled.PURE_PYTHON: "1"}, "asked"),
        (True, True, None, {_compiled.PURE_PYTHON: "0"}, "compiled"),
        (True, False, None, {}, "stale"),  # no record of the sources it was built from
        (True, True, ("engine/decide.py", "x = 2\n"), {}, "stale"),  # a compiled module edited
        (True, True, ("__init__.py", "# imported by it\n"), {}, "stale"),  # any source
        (True, True, ("engine/new.py", ""), {}, "stale"),  # a source added
        (True, True, ("manifest", "not json"), {}, "stale"),
        (True, True, ("manifest", '{"other": 1}'), {}, "stale"),
    ],
)
def test_which_modules_run(
    tmp_path: Path,
    extension: bool,
    manifest: bool,
    edit: tuple[str, str] | None,
    environ: dict[str, str],
    expected: str,
) -> None:
    root = _tree(tmp_path, extension=extension)
    if manifest:
        _built(root)
    if edit is not None:
        path = root / (_compiled.MANIFEST if edit[0] == "manifest" else edit[0])
        path.write_text(edit[1])
    assert _compiled.state(root, environ) == expected


def test_extensions_are_found_beside_their_sources(tmp_path: Path) -> None:
    root = _tree(tmp_path, extension=True)
    assert _compiled.extensions(root, "pkg") == {"pkg.engine.decide": root / "engine" / "decide.py"}
