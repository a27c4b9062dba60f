"""Errors a caller can act on: each names the field and the problem."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BodyError", "FieldError", "RequestError"]


@dataclass(frozen=True, order=True)
class FieldError:
    field: str  # dotted path into the request, e.g. "medication.dose.unit"
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class RequestError(ValueError):
    """A request that cannot be evaluated as sent. Never a decision: the caller must fix it."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = sorted(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


class BodyError(RequestError):
    """A body that cannot be read as JSON at all (malformed, ambiguous or not UTF-8): the
    service answers 400, where a readable request with bad fields is a 422."""
