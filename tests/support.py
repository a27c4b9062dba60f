"""Paths the tests share (importable as ``tests.support``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


HOLD_SQLITE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=0)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
conn.execute("ROLLBACK")
"""


@contextmanager
def sqlite_lock_held(path: Path) -> Iterator[None]:
    """Another process holds the SQLite database's write lock until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SQLITE_LOCK, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "held"
    try:
        yield
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
