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


def unavailable(why: str) -> None:
    """A real component a claimed feature needs is missing: that is a failure, not a skip.

    Set MEDPOLICY_ALLOW_SKIPS=1 to skip instead, on a machine knowingly without it.
    """
    import pytest

    if os.environ.get("MEDPOLICY_ALLOW_SKIPS") == "1":
        pytest.skip(why)
    pytest.fail(f"{why} (set MEDPOLICY_ALLOW_SKIPS=1 to skip on a machine without it)")
