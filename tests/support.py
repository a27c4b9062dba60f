"""Paths the tests share (importable as ``tests.support``)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KADCYLA = REPO / "policies" / "oncology" / "09-J1000-90" / "policy.yaml"
EXAMPLES = REPO / "examples" / "requests"


def shared_dir() -> Path:
    """``../shared`` beside the checkout (as laid for sessions and CI), or $MEDPOLICY_SHARED."""
    return Path(os.environ.get("MEDPOLICY_SHARED", REPO.parent / "shared"))
