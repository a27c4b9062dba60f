"""The reviewer web app's sessions, kept server-side.

Signing in with a reviewer token opens a session: the browser's cookie holds only the session's
random id (never the API token), and the store only the id's SHA-256. A session ends:

- after ``idle`` without a request, or ``absolute`` after it was opened, whichever comes first;
- when its holder signs out (the row is deleted at once);
- when its token is revoked (``TokenStore.revoke`` deletes the token's sessions in the same
  transaction, and every lookup also checks the token, not a cache of it).

A lookup records the request's time at most once a ``touch_every`` (a write): when the store is
busy (another process holds SQLite's write lock) that record is skipped rather than waited for,
so the web app keeps answering.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, delete, insert, select, update

from medpolicy.store.availability import StoreUnavailable
from medpolicy.store.cases import CaseStore
from medpolicy.store.model import utc
from medpolicy.store.schema import sessions, tokens
from medpolicy.store.tokens import TokenInfo, hash_token, token_info

__all__ = ["SessionStore", "SessionTimeouts"]

log = logging.getLogger("medpolicy.store")

PREFIX = "ms_"


@dataclass(frozen=True)
class SessionTimeouts:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)

    @property
    def touch_every(self) -> timedelta:
        """How stale a session's last-seen time may get before a request records it anew."""
        return min(timedelta(minutes=1), self.idle / 10)


_LOOKUP = (
    select(sessions.c.created_at, sessions.c.last_seen_at, *tokens.c)
    .join(tokens, tokens.c.id == sessions.c.token_id)
    .where(sessions.c.id_sha256 == bindparam("digest"))
)
_TOUCH = (
    update(sessions)
    .where(sessions.c.id_sha256 == bindparam("digest"))
    .values(last_seen_at=bindparam("now"))
)
_END = delete(sessions).where(sessions.c.id_sha256 == bindparam("digest"))


class SessionStore:
    def __init__(
        self,
        store: CaseStore,
        timeouts: SessionTimeouts | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self.timeouts = timeouts or SessionTimeouts()
        self._now = clock

    def open(self, token: TokenInfo) -> str:
        """A new session for ``token``'s holder: returns its id (the cookie's only copy)."""
        session_id = PREFIX + secrets.token_urlsafe(32)
        now = self._now()
        oldest = now - self.timeouts.absolute
        with self._store.transaction() as conn:
            conn.execute(delete(sessions).where(sessions.c.created_at < oldest))
            conn.execute(
                insert(sessions).values(
                    id_sha256=hash_token(session_id),
                    token_id=token.id,
                    created_at=now,
                    last_seen_at=now,
                )
            )
        return session_id

    def holder(self, session_id: str) -> TokenInfo | None:
        """The live token whose session this is, or None (unknown, expired, ended, revoked)."""
        if not session_id.startswith(PREFIX) or len(session_id) > 100:
            return None
        digest = hash_token(session_id)
        now = self._now()
        with self._store.connect() as conn:
            row = conn.execute(_LOOKUP, {"digest": digest}).first()
        if row is None or row.revoked:
            return None
        idle_for = now - utc(row.last_seen_at)
        if idle_for > self.timeouts.idle or now - utc(row.created_at) > self.timeouts.absolute:
            self._forget(digest)
            return None
        if idle_for > self.timeouts.touch_every:
            self._touch(digest, now)
        return token_info(row)

    def end(self, session_id: str) -> None:
        """Sign-out: the session ends now."""
        with self._store.transaction() as conn:
            conn.execute(_END, {"digest": hash_token(session_id)})

    def _touch(self, digest: str, now: datetime) -> None:
        try:
            with self._store.transaction(wait=False) as conn:
                conn.execute(_TOUCH, {"digest": digest, "now": now})
        except StoreUnavailable:  # busy: the next request records it
            log.debug("session last-seen time not recorded: the store is busy")

    def _forget(self, digest: str) -> None:
        try:
            with self._store.transaction(wait=False) as conn:
                conn.execute(_END, {"digest": digest})
        except StoreUnavailable:  # expired either way; the next sign-in purges it
            pass
