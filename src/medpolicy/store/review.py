"""Reviewer actions: which clauses a decision cites, and the stored record of the action."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from medpolicy.engine.decision import Decision
from medpolicy.errors import FieldError, RequestError
from medpolicy.store.audit import Actor, action_sha256, canonical_json
from medpolicy.store.model import ReviewerAction
from medpolicy.store.schema import reviewer_actions

__all__ = ["cited_clauses", "insert_action"]


def cited_clauses(action: ReviewerAction, clauses: Sequence[str], decision: Decision) -> list[str]:
    """The clauses a reviewer cites; a denial defaults to those of the engine's reasons and must
    cite at least one."""
    cited = [c.strip() for c in clauses if c.strip()]
    if action is ReviewerAction.deny and not cited:
        cited = list(dict.fromkeys(r.clause for r in decision.reasons))
    if action is ReviewerAction.deny and not cited:
        raise RequestError(
            [FieldError("clauses", "a denial must cite the guideline clause(s) not met")]
        )
    return cited


def insert_action(
    conn: Connection,
    case_id: str,
    action: ReviewerAction,
    reason: str,
    cited: list[str],
    actor: Actor,
    now: datetime,
) -> dict[str, Any]:
    """Store the reviewer action; returns what its audit event records about it."""
    clauses_json = canonical_json(cited)
    inserted = conn.execute(
        reviewer_actions.insert()
        .values(
            case_id=case_id,
            action=action.value,
            reason=reason,
            clauses_json=clauses_json,
            reviewer=actor.name,
            token_id=actor.token_id,
            created_at=now,
        )
        .returning(reviewer_actions.c.id)
    ).scalar_one()
    return {
        "action": action.value,
        "action_id": int(inserted),
        "action_sha256": action_sha256(action.value, reason, clauses_json, actor.name),
        "reason": reason,
        "clauses": cited,
    }
