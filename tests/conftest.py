"""Shared fixtures: the repository, the shared reference folder, the loaded Kadcyla policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from medpolicy.policy.registry import PolicyRegistry
from medpolicy.policy.tree import Policy
from tests.support import REPO


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def registry() -> PolicyRegistry:
    return PolicyRegistry.load_dir(REPO / "policies")


@pytest.fixture(scope="session")
def kadcyla(registry: PolicyRegistry) -> Policy:
    policy = registry.get("09-J1000-90")
    assert policy is not None
    return policy
