"""API bearer tokens: created by the CLI, stored only as their SHA-256, each with one role.

A token is 32 random bytes (URL-safe base64) behind a ``mp_`` prefix, so a hash without a salt is
enough: nobody can guess an input that hashes to a stored value.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from medpolicy.store.audit import SYSTEM, Actor, append_event
from medpolicy.store.cases import CaseStore
from medpolicy.store.model import utc
from medpolicy.store.schema import sessions, tokens

__all__ = ["Role", "TokenInfo", "TokenStore", "hash_token", "token_info"]

PREFIX = "mp_"


class Role(StrEnum):
    provider = "provider"  # submits and reads its own organization's cases
    reviewer = "reviewer"  # works the queue and decides cases
    admin = "admin"  # everything


@dataclass(frozen=True)
class TokenInfo:
    id: int
    role: Role
    organization: str | None
    name: str
    created_at: datetime
    revoked: bool

    def actor(self) -> Actor:
        return Actor(
            kind="token",
            name=self.name,
            role=self.role.value,
            organization=self.organization,
            token_id=self.id,
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_CACHE_LIMIT = 10_000
_BY_HASH = select(tokens).where(tokens.c.token_sha256 == bindparam("digest"))


class TokenStore:
    """Tokens in the store. ``authenticate`` remembers a live token for ``cache_seconds`` (default
    5 s), so a token revoked by another process is refused within that time; one revoked through
    this instance is refused at once."""

    def __init__(self, store: CaseStore, cache_seconds: float = 5.0) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, TokenInfo]] = {}

    def create(
        self, role: Role, *, name: str, organization: str | None = None, actor: Actor = SYSTEM
    ) -> tuple[str, TokenInfo]:
        """A new token: returns its only plaintext copy and what is stored about it."""
        if role is Role.provider and not organization:
            raise ValueError("a provider token needs an organization")
        token = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        digest = hash_token(token)
        with self._store.transaction() as conn:
            token_id = conn.execute(
                tokens.insert()
                .values(
                    token_sha256=digest,
                    role=role.value,
                    organization=organization,
                    name=name,
                    created_at=now,
                    revoked=False,
                )
                .returning(tokens.c.id)
            ).scalar_one()
            # In the same transaction: a token never exists without its event, which records
            # everything its holder's rights rest on (``store.verify`` holds the row to it).
            append_event(
                conn,
                case_id=None,
                event_type="token.created",
                actor=actor,
                at=now,
                data={
                    "token_id": int(token_id),
                    "role": role.value,
                    "organization": organization,
                    "name": name,
                    "token_sha256": digest,
                },
            )
        return token, TokenInfo(int(token_id), role, organization, name, now, False)

    def authenticate(self, token: str) -> TokenInfo | None:
        """The live token this bearer value names, or None."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        with self._store.connect() as conn:
            row = conn.execute(_BY_HASH, {"digest": digest}).first()
        if row is None or row.revoked:
            self._cache.pop(digest, None)
            return None
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        info = token_info(row)
        self._cache[digest] = (now, info)
        return info

    def list(self) -> list[TokenInfo]:
        with self._store.connect() as conn:
            return [token_info(r) for r in conn.execute(select(tokens).order_by(tokens.c.id))]

    def revoke(self, token_id: int, *, actor: Actor = SYSTEM) -> bool:
        with self._store.transaction() as conn:
            done = conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked.is_(False))
                .values(revoked=True)
            ).rowcount
            if done:
                # Its holder's web sessions end with it, at once.
                conn.execute(delete(sessions).where(sessions.c.token_id == token_id))
                append_event(
                    conn,
                    case_id=None,
                    event_type="token.revoked",
                    actor=actor,
                    at=datetime.now(UTC),
                    data={"token_id": token_id},
                )
        self._cache.clear()
        return bool(done)


def token_info(r: Any) -> TokenInfo:
    """A token row (or a row with its columns) as ``TokenInfo``."""
    return TokenInfo(
        id=int(r.id),
        role=Role(r.role),
        organization=r.organization,
        name=r.name,
        created_at=utc(r.created_at),
        revoked=bool(r.revoked),
    )
