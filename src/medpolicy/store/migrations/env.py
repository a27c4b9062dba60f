"""Alembic environment for the case store. Run by ``medpolicy.store.database.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from medpolicy.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")


def _run(conn: Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:  # pragma: no cover - only when someone runs the alembic command line directly
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
