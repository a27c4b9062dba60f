"""The build: the modules every decision runs through compiled to C by mypyc.

A decision's cost is the interpreter's, spread thinly over reading the record, screening it,
the criteria and the authorization (README, "Benchmarks"); the same typed code compiled runs it in
about half the time, with no change to the code. The criteria and the fact reader, generated per
policy at run time, stay Python. ``MEDPOLICY_COMPILE=0`` installs the package as plain Python.

Each build writes ``medpolicy/_compiled.json`` beside the extensions: the digest of the package's
sources it was built from. A source edited since (an editable install's tree) no longer matches,
and the package then runs every module from its source, with a warning (``medpolicy._compiled``),
rather than an extension built from older code.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext

# The decision's path, as modules of src/medpolicy (``medpolicy._compiled`` finds which were built).
COMPILED = (
    "facts.py",
    "logic.py",
    "record/legacy.py",
    "catalogue/derive.py",
    "engine/screen.py",
    "engine/decide.py",
    "engine/authorize.py",
    "engine/checks.py",
    "engine/compiled.py",
    "engine/by_cases.py",
    "engine/explain.py",
    "engine/evaluate.py",
    "engine/leaves.py",
    "definitions/dose.py",
    "definitions/units.py",
    "definitions/drugs.py",
    "definitions/billing.py",
)
SOURCE = Path("src") / "medpolicy"


def _guard() -> Any:
    """``medpolicy._compiled``, loaded from its file (the package itself is not built yet): the
    digest a build records is the one the package checks."""
    spec = importlib.util.spec_from_file_location("_medpolicy_compiled", SOURCE / "_compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithManifest(build_ext):
    """``build_ext``, then the digest of the package's sources written where the extensions went
    (the source tree for an editable install, else the build directory the wheel is made from)."""

    def run(self) -> None:
        guard = _guard()
        sources = guard.digest(SOURCE)  # before compiling: an edit meanwhile is seen as stale
        super().run()
        if self.inplace:
            target = Path(self.get_finalized_command("build_py").get_package_dir("medpolicy"))
        else:
            target = Path(self.build_lib) / "medpolicy"
        target.mkdir(parents=True, exist_ok=True)
        (target / guard.MANIFEST).write_text(json.dumps({"sources": sources}) + "\n")


def extensions() -> list[Any]:
    if os.environ.get("MEDPOLICY_COMPILE", "1") == "0":
        return []
    from mypyc.build import mypycify

    # An isolated build may lack a library the type checker reads (then Any): an ignore it makes
    # unneeded is not an error here (``mypy --strict`` on the package checks them).
    flags = ["--no-warn-unused-ignores"]
    paths = [str(SOURCE / m) for m in COMPILED]
    return mypycify([*flags, *paths], opt_level="3", group_name="medpolicy")


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildWithManifest})
