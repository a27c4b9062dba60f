"""The independent tools, driven from Python: Medplum's validator and FHIR.js (Node), each run
once over a batch of resources. Installed by ``scripts/setup`` from ``package-lock.json``."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support import unavailable

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"


@dataclass(frozen=True)
class Finding:
    tool: str  # medplum | fhirjs
    severity: str
    message: str
    where: str

    def __str__(self) -> str:
        return f"[{self.tool}] {self.severity} at {self.where}: {self.message}"


@dataclass(frozen=True)
class Validated:
    name: str
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity in ("error", "fatal")]


def node() -> str:
    found = shutil.which("node")
    if found is None or not (NODE_MODULES / "@medplum" / "core").exists():
        unavailable("Node.js and the npm packages of tests/fhir/conformance (run scripts/setup)")
    assert found is not None
    return found


def validate_all(named: list[tuple[str, dict[str, Any]]]) -> list[Validated]:
    """Both validators over every resource, in one Node process."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump([{"name": n, "resource": r} for n, r in named], handle)
        path = handle.name
    try:
        done = subprocess.run(
            [node(), "--experimental-websocket", str(HERE / "validate.mjs"), path],
            capture_output=True,
            text=True,
            check=False,
            cwd=HERE,
        )
    finally:
        Path(path).unlink()
    assert done.returncode == 0, done.stderr[-4000:]
    out = []
    for row in json.loads(done.stdout):
        findings = [
            Finding("medplum", i["severity"], i["message"], i["expression"]) for i in row["medplum"]
        ] + [Finding("fhirjs", m["severity"], m["message"], m["location"]) for m in row["fhirjs"]]
        out.append(Validated(row["name"], tuple(findings)))
    return out
