"""The service's settings: where the store is, the plan's service levels, limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
    # "now" where a request carries no date of its own (a CDS Hooks call is decided as of now);
    # tests pin it, since facts have an age
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
