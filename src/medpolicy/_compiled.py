"""Whether the modules compiled by mypyc (``setup.py``) are used, or their Python sources.

A build writes ``_compiled.json`` beside the extensions: a digest of every source of the package
as it was compiled (compiled code may rely on what it imports, so every source counts). When the
sources no longer match (an editable install's tree edited since its build), or when
``MEDPOLICY_PURE_PYTHON=1`` asks for it (a debugger, a profile by line), every compiled module is
imported from its source instead, all together, since compiled modules call each other directly.
A stale build warns: the decisions are the same, only slower (tests hold the two to the same
bytes), and ``scripts/setup`` builds it again.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Literal

__all__ = ["State", "digest", "state", "use"]

HERE = Path(__file__).resolve().parent
MANIFEST = "_compiled.json"
PURE_PYTHON = "MEDPOLICY_PURE_PYTHON"

State = Literal["compiled", "python", "stale", "asked"]


def digest(root: Path = HERE, sources: list[Path] | None = None) -> str:
    """Every Python source under ``root`` (``sources``, when already listed), by path and
    content."""
    h = hashlib.sha256()
    for path in _sources(root) if sources is None else sources:
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def extensions(
    root: Path = HERE, package: str = "medpolicy", sources: list[Path] | None = None
) -> dict[str, Path]:
    """The modules with an extension beside their source: module name -> the source."""
    found = {}
    for path in _sources(root) if sources is None else sources:
        if any(
            path.with_name(path.stem + s).exists() for s in importlib.machinery.EXTENSION_SUFFIXES
        ):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join((package, *parts))] = path
    return found


def state(root: Path = HERE, environ: dict[str, str] | None = None) -> State:
    """``compiled``: extensions built from these sources; ``python``: none built; ``stale``:
    built from other sources (or with no record of which); ``asked``: Python asked for."""
    sources = _sources(root)  # listed once: the package is walked at every start
    if not extensions(root, sources=sources):
        return "python"
    if (environ if environ is not None else os.environ).get(PURE_PYTHON) == "1":
        return "asked"
    manifest = root / MANIFEST
    try:
        built = json.loads(manifest.read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        return "stale"
    return "compiled" if built == digest(root, sources) else "stale"


def _sources(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


class _FromSource(importlib.abc.MetaPathFinder):
    """Imports the named modules from their Python sources, ahead of their extensions."""

    def __init__(self, sources: dict[str, Path]) -> None:
        self.sources = sources

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        source = self.sources.get(fullname)
        return None if source is None else importlib.util.spec_from_file_location(fullname, source)


def use() -> State:
    """Arranges the imports for this process: called by the package before any compiled module
    is imported."""
    found = state()
    if found in ("stale", "asked"):
        sys.meta_path.insert(0, _FromSource(extensions()))
    if found == "stale":
        warnings.warn(
            "medpolicy's compiled modules were built from other sources: running them as "
            "Python (the same decisions, slower); scripts/setup builds them again",
            RuntimeWarning,
            stacklevel=2,
        )
    return found
