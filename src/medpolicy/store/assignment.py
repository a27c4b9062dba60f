"""Who may hold a case: the rules of claiming, releasing and reassigning an open case.

A claimed case is its holder's to act on: another reviewer's approve, deny or request for
information is refused (``CaseAssigned``, with who holds it), whatever their role; an admin may
reassign it or release it. Every change is an audit event (``case.claimed``, ``case.released``,
``case.reassigned``), and ``medpolicy audit verify`` replays them against the ``cases`` row.
"""

from __future__ import annotations

from medpolicy.store.audit import Actor
from medpolicy.store.model import CaseAssigned, CaseConflict, CaseSummary

__all__ = ["assignment_target"]


def assignment_target(case: CaseSummary, actor: Actor, verb: str, to: str | None) -> str | None:
    """Who holds ``case`` after ``actor``'s ``verb`` (claim, release, reassign), or why not."""
    holder = case.assigned_to
    if verb == "claim":
        if holder is not None and holder != actor.name:
            raise CaseAssigned(case, "claim")
        return actor.name
    if verb == "release":
        if holder is None:
            raise CaseConflict(case, f"case {case.id} is not claimed")
        if holder != actor.name and actor.role != "admin":
            raise CaseAssigned(case, "release")
        return None
    return to
