"""Command-line verbs of the service, registered on the ``medpolicy`` command."""

from __future__ import annotations

import click

__all__ = ["register"]


def register(group: click.Group) -> None:
    """Add the service's verbs to ``group`` (serve, token, audit, report)."""
