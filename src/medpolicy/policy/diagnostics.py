"""Coded problems found while validating a policy file, each with the path where it was found."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Diagnostic", "Diagnostics", "PolicyError"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    path: str  # e.g. "pathways[0].all[1].any[2].fact"
    code: str  # stable, e.g. "unknown-fact"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} [{self.code}]"


@dataclass
class Diagnostics:
    """Collects every problem instead of stopping at the first."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, path: str, code: str, message: str) -> None:
        self.items.append(Diagnostic(path, code, message))

    def __bool__(self) -> bool:
        return bool(self.items)


class PolicyError(Exception):
    def __init__(self, source: str, diagnostics: list[Diagnostic]) -> None:
        self.source = source
        self.diagnostics = sorted(diagnostics)
        lines = "\n".join(f"  {d}" for d in self.diagnostics)
        super().__init__(f"{source}: {len(self.diagnostics)} problem(s)\n{lines}")
