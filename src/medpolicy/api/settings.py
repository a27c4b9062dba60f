"""The service's settings: where the store is, the plan's service levels, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from medpolicy.store import ServiceLevels

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: the SQLite file in the user's data directory
    policies_dir: Path | None = None  # None: $MEDPOLICY_POLICIES or the repository's policies/
    service_levels: ServiceLevels = field(default_factory=ServiceLevels)
    max_body_bytes: int = 1_000_000
    secure_cookies: bool = False  # set True behind HTTPS so the reviewer cookie is Secure
    sqlite_synchronous: str = "NORMAL"  # or FULL: fsync the WAL on every commit
