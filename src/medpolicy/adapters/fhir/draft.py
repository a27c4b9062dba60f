"""The native request being assembled from FHIR, where each value came from, and what was not used.

A ``Draft`` is the adapters' working state: a plain dict in the shape of the native request JSON
(validated at the end by the same parser the REST API uses, so FHIR and REST requests meet one set
of rules), a map from each native field to the FHIR element it was read from (so a validation error
points at that element), and the report of codings not understood or findings not usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from medpolicy.adapters.fhir.resources import Coding

__all__ = ["AdapterIssue", "Draft", "IssueKind", "expression_for"]

IssueKind = Literal["unrecognized-coding", "not-usable", "assumption", "superseded"]


@dataclass(frozen=True)
class AdapterIssue:
    """Something in the FHIR input that did not become a fact, and why.

    ``unrecognized-coding``: a coding the adapter has no table row for (never guessed at);
    ``not-usable``: understood but not what the guideline's criteria read (e.g. HER2 "Positive"
    without a score); ``assumption``: a default applied where the input was silent;
    ``superseded``: a value not used because another source already gave it.
    """

    expression: str
    kind: IssueKind
    message: str
    coding: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"expression": self.expression, "kind": self.kind, "message": self.message}
        if self.coding:
            out["coding"] = self.coding
        return out


def show_coding(c: Coding) -> str:
    shown = f"{c.system or '(no system)'}|{c.code or '(no code)'}"
    return f"{shown} ({c.display})" if c.display else shown


class Draft:
    def __init__(self, root: str = "Bundle") -> None:
        self.data: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.issues: list[AdapterIssue] = []
        self.root = root
        # facts only the clinical record holds (no native field): fact -> (value, FHIR element)
        self.record_facts: dict[str, tuple[Any, str]] = {}

    # -- values ------------------------------------------------------------------------------
    def has(self, field: str) -> bool:
        node: Any = self.data
        for part in field.split("."):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return node is not None

    def get(self, field: str) -> Any:
        node: Any = self.data
        for part in field.split("."):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def set(self, field: str, value: Any, source: str) -> bool:
        """Set a field unless already set (the first source wins); False if it was set before."""
        if value is None:
            return False
        *parents, last = field.split(".")
        node = self._parent(parents)
        if node.get(last) is not None:
            return False
        node[last] = value
        self.sources[field] = source
        return True

    def discard(self, field: str) -> None:
        """Unset a field (its source goes too): a value that may not be used."""
        *parents, last = field.split(".")
        self._parent(parents).pop(last, None)
        self.sources.pop(field, None)

    def append(self, field: str, value: Any, source: str) -> None:
        *parents, last = field.split(".")
        items = self._parent(parents).setdefault(last, [])
        self.sources[f"{field}[{len(items)}]"] = source
        items.append(value)

    def _parent(self, parts: list[str]) -> dict[str, Any]:
        node = self.data
        for part in parts:
            node = node.setdefault(part, {})
        return node

    # -- report ------------------------------------------------------------------------------
    def report(
        self, expression: str, kind: IssueKind, message: str, coding: Coding | None = None
    ) -> None:
        self.issues.append(
            AdapterIssue(expression, kind, message, show_coding(coding) if coding else None)
        )

    def unrecognized(self, coding: Coding, what: str) -> None:
        self.report(
            coding.path,
            "unrecognized-coding",
            f"{what}: this code is not one the adapter understands; not used",
            coding,
        )

    def expression_for(self, field: str) -> str:
        return expression_for(self.sources, field, self.root)


def expression_for(sources: Mapping[str, str], field: str, root: str) -> str:
    """The FHIR element a native field came from (its longest recorded prefix), else the root."""
    probe = field
    while probe:
        if probe in sources:
            return sources[probe]
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    return root
