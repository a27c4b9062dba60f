"""The policies in force: every policy file under a folder, chosen by drug code and date."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from medpolicy.errors import FieldError, RequestError
from medpolicy.policy.load import load_policy
from medpolicy.policy.tree import Policy

__all__ = ["PolicyRegistry", "default_policies_dir"]

POLICY_FILE = "policy.yaml"


def default_policies_dir() -> Path:
    """``$MEDPOLICY_POLICIES``, else the repository's ``policies/`` beside the package source."""
    configured = os.environ.get("MEDPOLICY_POLICIES")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3] / "policies"


class PolicyRegistry:
    def __init__(self, policies: list[Policy]) -> None:
        self._policies = sorted(policies, key=lambda p: (p.meta.id, p.meta.effective_date))

    @classmethod
    def load_dir(cls, root: Path | None = None) -> PolicyRegistry:
        root = root or default_policies_dir()
        return cls([load_policy(p) for p in sorted(root.rglob(POLICY_FILE))])

    def all(self) -> list[Policy]:
        return list(self._policies)

    def get(self, policy_id: str, version: str | None = None) -> Policy | None:
        matches = [
            p
            for p in self._policies
            if p.meta.id == policy_id and (version is None or p.meta.version == version)
        ]
        return matches[-1] if matches else None

    def for_drug(self, hcpcs: str, on: date) -> Policy:
        """The latest version of the policy for this drug code in effect on the given date."""
        candidates = [
            p for p in self._policies if p.drug.hcpcs == hcpcs and p.meta.effective_date <= on
        ]
        if not candidates:
            known = ", ".join(sorted({p.drug.hcpcs for p in self._policies}))
            raise RequestError(
                [
                    FieldError(
                        "medication.hcpcs",
                        f"no coverage policy for {hcpcs} "
                        f"in effect on {on.isoformat()} (policies cover: {known})",
                    )
                ]
            )
        return max(candidates, key=lambda p: p.meta.effective_date)
