"""The service's settings: where the store is, the plan's service levels, limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from medpolicy.store import LOCK_TIMEOUT, STATEMENT_TIMEOUT, ServiceLevels

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    database_url: str | None = None  # None: the SQLite file in the user's data directory
    policies_dir: Path | None = None  # None: $MEDPOLICY_POLICIES or the repository's policies/
    service_levels: ServiceLevels = field(default_factory=ServiceLevels)
    max_body_bytes: int = 1_000_000
    # The reviewer cookie is Secure when this is set, or when the request came over HTTPS (as a
    # trusted proxy's X-Forwarded-Proto tells uvicorn).
    secure_cookies: bool = False
    session_idle: timedelta = timedelta(minutes=30)  # a web session ends after this idle
    session_max: timedelta = timedelta(hours=12)  # and this long after sign-in, whatever
    sqlite_synchronous: str = "NORMAL"  # or FULL: fsync the WAL on every commit
    # "now" where a request carries no date of its own (a CDS Hooks call is decided as of now);
    # tests pin it, since facts have an age
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    lock_timeout: float = LOCK_TIMEOUT  # seconds a write waits for the write lock, then 503
    statement_timeout: float = STATEMENT_TIMEOUT  # seconds a PostgreSQL statement may run
