"""What the FHIR tests share: the external fixtures (read in place), R4 validation, golden files."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from medpolicy.adapters.fhir.pas_flow import Naming

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "fhir"
GOLDEN = Path(__file__).resolve().parent / "golden"
NOW = datetime(2026, 11, 2, 20, 0, tzinfo=UTC)


def shared() -> Path:
    """``../shared`` beside the checkout, or $MEDPOLICY_SHARED (fixtures are never copied in)."""
    beside = REPO.parent / "shared"
    return beside if beside.exists() else Path(os.environ.get("MEDPOLICY_SHARED", beside))


def external() -> Path:
    return shared() / "fixtures" / "external"


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def example(name: str) -> Any:
    return load(EXAMPLES / f"{name}.json")


def naming(response_id: str = "response-1") -> Naming:
    return Naming("http://testserver/fhir", response_id, NOW)


def validate(resource: dict[str, Any]) -> None:
    """Raises if the resource is not valid against the fhir.resources R4B model of its type."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def resources_in(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for entry in bundle.get("entry") or []:
        yield entry["resource"]


def all_json(folder: Path) -> Iterator[tuple[Path, Any]]:
    for path in sorted(folder.rglob("*.json")):
        yield path, load(path)


# Decision and case ids, uuids, and the policy content hash (so an edit elsewhere in the policy
# file shows in the golden diff as the text it changed, not as a new hash everywhere).
_VOLATILE = re.compile(
    r"(dec_[0-9a-f]{24}|case_[0-9A-Za-z_-]+|sha256:[0-9a-f]{64}|\+[0-9a-f]{12}\b|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


def redacted(data: Any) -> Any:
    """Golden-file form: ids, decision ids and uuids replaced, timestamps of *now* replaced."""
    text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)
    text = _VOLATILE.sub("<id>", text)
    text = text.replace(NOW.isoformat(), "<now>")
    return json.loads(text)


def check_golden(name: str, data: Any) -> None:
    """Compare with tests/fhir/golden/<name>.json; MEDPOLICY_REGENERATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / f"{name}.json"
    text = json.dumps(redacted(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("MEDPOLICY_REGENERATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with MEDPOLICY_REGENERATE_GOLDEN=1"
    assert path.read_text(encoding="utf-8") == text, (
        f"{path.name} changed; if intended, regenerate with MEDPOLICY_REGENERATE_GOLDEN=1 "
        "and review the diff"
    )
