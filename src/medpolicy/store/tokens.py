"""API bearer tokens: created by the CLI, stored only as their SHA-256, each with one role.

A token is 32 random bytes (URL-safe base64) behind a ``mp_`` prefix, so a hash without a salt is
enough: nobody can guess an input that hashes to a stored value.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import bindparam, select, update

from medpolicy.store.audit import SYSTEM, Actor
from medpolicy.store.cases import CaseStore
from medpolicy.store.model import utc
from medpolicy.store.schema import tokens

__all__ = ["Role", "TokenInfo", "TokenStore", "hash_token"]

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


_BY_HASH = select(tokens).where(tokens.c.token_sha256 == bindparam("digest"))


class TokenStore:
    def __init__(self, store: CaseStore) -> None:
        self._store = store

    def create(
        self, role: Role, *, name: str, organization: str | None = None, actor: Actor = SYSTEM
    ) -> tuple[str, TokenInfo]:
        """A new token: returns its only plaintext copy and what is stored about it."""
        if role is Role.provider and not organization:
            raise ValueError("a provider token needs an organization")
        token = PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self._store.transaction() as conn:
            token_id = conn.execute(
                tokens.insert()
                .values(
                    token_sha256=hash_token(token),
                    role=role.value,
                    organization=organization,
                    name=name,
                    created_at=now,
                    revoked=False,
                )
                .returning(tokens.c.id)
            ).scalar_one()
        info = TokenInfo(int(token_id), role, organization, name, now, False)
        self._store.record_event(
            "token.created",
            actor=actor,
            data={
                "token_id": info.id,
                "role": role.value,
                "organization": organization,
                "name": name,
            },
        )
        return token, info

    def authenticate(self, token: str) -> TokenInfo | None:
        """The live token this bearer value names, or None."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        with self._store.engine.connect() as conn:
            row = conn.execute(_BY_HASH, {"digest": hash_token(token)}).first()
        if row is None or row.revoked:
            return None
        return _info(row)

    def list(self) -> list[TokenInfo]:
        with self._store.engine.connect() as conn:
            return [_info(r) for r in conn.execute(select(tokens).order_by(tokens.c.id))]

    def revoke(self, token_id: int, *, actor: Actor = SYSTEM) -> bool:
        with self._store.transaction() as conn:
            done = conn.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked.is_(False))
                .values(revoked=True)
            ).rowcount
        if done:
            self._store.record_event("token.revoked", actor=actor, data={"token_id": token_id})
        return bool(done)


def _info(r: Any) -> TokenInfo:
    return TokenInfo(
        id=int(r.id),
        role=Role(r.role),
        organization=r.organization,
        name=r.name,
        created_at=utc(r.created_at),
        revoked=bool(r.revoked),
    )
