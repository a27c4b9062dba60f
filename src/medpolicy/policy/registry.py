"""The policies in force: every policy file under a folder, several payers' side by side.

A request's policy is chosen by the drug it orders, the date, and whom it is for: the member's
payer (or the deployment's, when the request names none), plan and line of business. A request
that no policy is for, or that more than one is for, gets an answer that says so and why; the
registry never picks one silently.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from medpolicy.errors import FieldError, RequestError
from medpolicy.policy.load import load_policy
from medpolicy.policy.tree import Policy

__all__ = ["DEPLOYMENT_FILE", "PolicyRegistry", "default_policies_dir"]

POLICY_FILE = "policy.yaml"
# Beside the policies: the deployment's settings, e.g. the payer a request is taken to be for when
# it names none (``default_payer``; $MEDPOLICY_PAYER overrides it).
DEPLOYMENT_FILE = "deployment.yaml"
_FROM_FILE = object()  # load_dir's default: the deployment file's payer


def default_policies_dir() -> Path:
    """``$MEDPOLICY_POLICIES``, else the repository's ``policies/`` beside the package source."""
    configured = os.environ.get("MEDPOLICY_POLICIES")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "policies"


class PolicyRegistry:
    def __init__(self, policies: list[Policy], default_payer: str | None = None) -> None:
        self._policies = sorted(policies, key=lambda p: (p.meta.id, p.meta.effective_date))
        self.default_payer = default_payer

    @classmethod
    def load_dir(
        cls, root: Path | None = None, default_payer: str | object | None = _FROM_FILE
    ) -> PolicyRegistry:
        """Every policy under ``root``; the default payer is the deployment file's (or
        $MEDPOLICY_PAYER), unless one is given."""
        root = root or default_policies_dir()
        if default_payer is _FROM_FILE:
            default_payer = os.environ.get("MEDPOLICY_PAYER") or _deployment(root).get(
                "default_payer"
            )
        payer = default_payer if isinstance(default_payer, str) else None
        return cls([load_policy(p) for p in sorted(root.rglob(POLICY_FILE))], payer)

    def all(self) -> list[Policy]:
        return list(self._policies)

    def get(self, policy_id: str, version: str | None = None) -> Policy | None:
        matches = [
            p
            for p in self._policies
            if p.meta.id == policy_id and (version is None or p.meta.version == version)
        ]
        return matches[-1] if matches else None

    def covers(self, hcpcs: str, on: date, payer: str | None = None) -> bool:
        """Whether some policy of the payer (the deployment's when None) for this drug code is in
        effect on the date: which one decides a request is chosen by its member (``select``), so
        a payer whose policies each admit some lines of business still covers the drug."""
        return bool(self.of_payer(hcpcs, on, payer))

    def of_payer(self, hcpcs: str, on: date, payer: str | None = None) -> list[Policy]:
        """Every policy of the payer (the deployment's when None) for this drug code in effect
        on the date, whichever members they admit."""
        payer = payer or self.default_payer
        return [p for p in self._in_force(hcpcs, on) if p.meta.applies_to.payer == payer]

    def for_drug(self, hcpcs: str, on: date) -> Policy:
        """The policy of the deployment's payer for this drug code in effect on the date (what a
        caller that knows no more of the member than the drug asks, e.g. for a questionnaire)."""
        return self.select(hcpcs, on)

    def select(
        self,
        hcpcs: str,
        on: date,
        payer: str | None = None,
        plan: str | None = None,
        line_of_business: str | None = None,
        drug_field: str = "medication.hcpcs",
    ) -> Policy:
        """The one policy for this drug on this date for this member: of the payer (the
        deployment's when None), whose plans and lines of business admit the member's; the
        latest version of it in effect. ``RequestError`` when none is, or more than one (the
        drug's code named as ``drug_field``: where the request's format holds it)."""
        payer = payer or self.default_payer
        in_force = self._in_force(hcpcs, on)
        if not in_force:
            known = ", ".join(sorted({p.drug.hcpcs for p in self._policies}))
            raise _refused(
                drug_field,
                f"no coverage policy for {hcpcs} in effect on {on.isoformat()} "
                f"(policies cover: {known})",
            )
        of_payer = [p for p in in_force if p.meta.applies_to.payer == payer]
        if not of_payer:
            payers = ", ".join(sorted({p.meta.applies_to.payer for p in in_force}))
            named = f"payer '{payer}'" if payer else "no payer (and the deployment names none)"
            return _raise(
                "member.payer",
                f"no {hcpcs} policy is for {named}; policies in force are for: {payers}",
            )
        chosen = [p for p in of_payer if p.meta.applies_to.admits(plan, line_of_business)]
        if len(chosen) == 1:
            return chosen[0]
        listed = "; ".join(_shown(p) for p in (chosen or of_payer))
        if not chosen:
            return _raise(
                "member.line_of_business" if line_of_business is None else "member.plan",
                f"no {payer} policy for {hcpcs} admits this member (plan "
                f"{plan or 'not reported'}, line of business {line_of_business or 'not reported'}"
                f"); the payer's policies: {listed}",
            )
        return _raise(
            "member.plan",
            f"more than one {payer} policy for {hcpcs} admits this member: {listed}; the plan "
            "or line of business must tell them apart",
        )

    def _in_force(self, hcpcs: str, on: date) -> list[Policy]:
        """The latest version in effect of each policy for the drug."""
        latest: dict[str, Policy] = {}
        for p in self._policies:  # sorted by id, then effective date
            if p.drug.hcpcs == hcpcs and p.meta.effective_date <= on:
                latest[p.meta.id] = p
        return list(latest.values())


def _deployment(root: Path) -> dict[str, Any]:
    path = root / DEPLOYMENT_FILE
    if not path.is_file():
        return {}
    settings = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return settings if isinstance(settings, dict) else {}


def _shown(p: Policy) -> str:
    scope = p.meta.applies_to
    parts = [f"{p.meta.id} ({p.meta.payer}"]
    if scope.plans:
        parts.append(f"plans {', '.join(scope.plans)}")
    if scope.lines_of_business:
        parts.append(f"lines of business {', '.join(scope.lines_of_business)}")
    return "; ".join(parts) + ")"


def _refused(field: str, problem: str) -> RequestError:
    return RequestError([FieldError(field, problem)])


def _raise(field: str, problem: str) -> Policy:
    raise _refused(field, problem)
