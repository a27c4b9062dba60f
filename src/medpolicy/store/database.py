"""Connecting to the store: SQLite by default (a WAL file), PostgreSQL for a shared server.

``connect(url)`` returns a SQLAlchemy engine set up for the case store; ``upgrade(engine)`` runs the
packaged Alembic migrations (the service does this on start, ``medpolicy db upgrade`` on demand).
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from medpolicy.store.availability import ShmGuard, StoreUnavailable

__all__ = [
    "LOCK_TIMEOUT",
    "MIGRATIONS_DIR",
    "STATEMENT_TIMEOUT",
    "WalCheckpointer",
    "connect",
    "default_database_url",
    "normalize_url",
    "shm_guard",
    "upgrade",
    "wal_checkpoint",
]

log = logging.getLogger("medpolicy.store")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def default_data_dir() -> Path:
    """``$MEDPOLICY_DATA``, else ``$XDG_DATA_HOME/medpolicy``, else ``~/.local/share/medpolicy``."""
    configured = os.environ.get("MEDPOLICY_DATA")
    if configured:
        return Path(configured)
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "medpolicy"


def default_database_url() -> str:
    return f"sqlite:///{default_data_dir() / 'medpolicy.db'}"


def normalize_url(url: str) -> str:
    """Accept ``postgresql://``/``postgres://`` (driven by psycopg 3) and bare SQLite file paths."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    scheme, rest = url.split("://", 1)
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


# hide_parameters: a database error's message would otherwise quote the statement's parameters
# (request JSON, member identifiers) into whatever logs it.
_POOL = {"pool_size": 20, "max_overflow": 20}

# Every wait on the database is bounded (seconds): a write waiting for a lock another process
# holds gives up after ``lock_timeout`` (a 503 with Retry-After), a PostgreSQL statement after
# ``statement_timeout``.
LOCK_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 30.0
_GUARDS: weakref.WeakKeyDictionary[Engine, ShmGuard] = weakref.WeakKeyDictionary()


def connect(
    url: str,
    *,
    sqlite_synchronous: str = "NORMAL",
    sqlite_checkpoint_pages: int = 1000,
    lock_timeout: float = LOCK_TIMEOUT,
    statement_timeout: float | None = None,
) -> Engine:
    """An engine for the store at ``url``. SQLite files get WAL, a busy timeout and foreign keys.

    ``sqlite_synchronous``: ``NORMAL`` (default; in WAL mode a committed transaction survives the
    process being killed, the last ones may be lost on power failure) or ``FULL`` (fsync on every
    commit). ``sqlite_checkpoint_pages``: the WAL size (pages) at which a committing writer
    checkpoints; the service raises it and checkpoints in the background (``WalCheckpointer``).
    ``lock_timeout``: the longest a statement waits for a lock (SQLite's busy timeout,
    PostgreSQL's ``lock_timeout``), and for a pooled connection; ``statement_timeout``: the
    longest a PostgreSQL statement runs (None: no limit).
    """
    url = normalize_url(url)
    parsed = make_url(url)
    pool = {**_POOL, "pool_timeout": lock_timeout}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True, **pool)
        guard = ShmGuard(database) if database and database != ":memory:" else None
        _configure_sqlite(engine, sqlite_synchronous, sqlite_checkpoint_pages, lock_timeout, guard)
        return engine
    engine = create_engine(
        url,
        hide_parameters=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": max(1, round(lock_timeout))},
        **pool,
    )
    _configure_postgresql(engine, lock_timeout, statement_timeout)
    return engine


def shm_guard(engine: Engine) -> ShmGuard | None:
    """The -shm guard of a SQLite file's engine (``medpolicy.store.availability``)."""
    return _GUARDS.get(engine)


def _configure_postgresql(
    engine: Engine, lock_timeout: float, statement_timeout: float | None
) -> None:
    settings = f"SET lock_timeout = {int(lock_timeout * 1000)}"
    if statement_timeout is not None:
        ms = int(statement_timeout * 1000)
        settings += (
            f"; SET statement_timeout = {ms}; SET idle_in_transaction_session_timeout = {ms}"
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(settings)
        dbapi_connection.commit()


def _configure_sqlite(
    engine: Engine,
    synchronous: str,
    checkpoint_pages: int,
    lock_timeout: float,
    guard: ShmGuard | None,
) -> None:
    if synchronous not in ("NORMAL", "FULL"):
        raise ValueError("sqlite_synchronous must be NORMAL or FULL")
    busy_ms = int(lock_timeout * 1000)
    if guard is not None:
        _GUARDS[engine] = guard

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: Any) -> None:
        if guard is not None:  # before the PRAGMAs below map the -shm file (``CaseStore.connect``
            guard.check(record_size=False)  # checks it before every use of a connection)
        # The driver must not open transactions itself: ``_on_begin`` does, so that writers can
        # take the write lock up front (BEGIN IMMEDIATE) instead of failing to upgrade a read lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
        cursor.close()
        record.info["busy_ms"] = busy_ms

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        # A writer that must not wait (the event loop's) begins with a busy timeout of 0.
        wanted = int(options.get("sqlite_busy_ms", busy_ms))
        info = connection.connection.info
        if info.get("busy_ms") != wanted:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={wanted}")
            info["busy_ms"] = wanted
        mode = options.get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def alembic_config(_engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # No sqlalchemy.url: ``upgrade`` hands Alembic the connection itself (and a URL with a "%"
    # would trip the config parser's interpolation).
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the store's tables up to ``revision`` with the packaged migrations."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class WalCheckpointer:
    """Checkpoints a SQLite WAL from a background thread every ``interval`` seconds.

    Left to itself, SQLite checkpoints inside whichever commit pushes the WAL past its limit, so
    that request waits while megabytes are copied and the files synced (measured under load: a
    commit every 1.4 s took 27-52 ms instead of 3). A PASSIVE checkpoint here runs beside the
    writers instead (it never blocks them).

    Copying the WAL into the database is not enough to keep it short: SQLite starts the WAL over
    only when a write begins with every frame already copied, and under steady writes new frames
    arrive while each checkpoint runs. So once the WAL holds ``restart_pages``, the checkpointer
    sets ``restart_wanted``, and the next writer to commit (``finish``, from the case store's
    transaction) checkpoints what remains before it lets go of the writers' lock: only the frames
    written since this thread's last pass, with no writer running. The write after it starts the
    WAL over. The writers' lock stays with the writers: no writer ever waits on this thread,
    which shares the CPU with the event loop (holding the lock itself, it took 27 ms under load
    for a step that takes 8 idle).
    """

    # Short, frequent passes and a short WAL keep each step small: under a saturating load on
    # SQLite (benchmarks/service_load.py, 3 runs each), p99 latency was 57-62 ms with a pass every
    # 0.5 s, 46-47 every 0.25 s and 40-41 every 0.05 s; restarting past 4,096 pages rather than
    # 1,024 added 5-10 ms more. An idle pass finds nothing to copy and costs next to nothing.
    def __init__(self, engine: Engine, interval: float = 0.05, restart_pages: int = 1024) -> None:
        self._engine = engine
        self._interval = interval
        self._restart_pages = restart_pages
        self.restart_wanted = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if is_sqlite(self._engine) and self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="medpolicy-wal-checkpoint", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.checkpoint()
            except StoreUnavailable:  # the guard has said why, once
                continue
            except Exception:  # a busy or vanished database: the next round tries again
                log.warning("WAL checkpoint failed", exc_info=True)

    def checkpoint(self) -> tuple[int, int]:
        """One background pass: (frames in the WAL, frames copied into the database)."""
        guard = shm_guard(self._engine)
        if guard is not None:  # a checkpoint writes to the -shm file
            guard.check()
        with self._engine.connect() as conn:
            _, frames, copied = wal_checkpoint(conn)
        if frames >= self._restart_pages:
            self.restart_wanted = True
        return frames, copied

    def finish(self, conn: Connection) -> None:
        """A writer's part, after its commit and before it releases the writers' lock: when the
        WAL is long, copy the rest of it, so that the next write starts it over. Never raises:
        the write it follows has committed whatever happens here."""
        if not self.restart_wanted:
            return
        try:
            busy, frames, copied = wal_checkpoint(conn)
        except Exception:
            log.warning("WAL checkpoint after a commit failed", exc_info=True)
            return
        # Another checkpoint was running (busy) or frames are left: the next writer tries again.
        self.restart_wanted = bool(busy) or copied < frames


def wal_checkpoint(conn: Connection) -> tuple[int, int, int]:
    """A PASSIVE checkpoint: (busy, frames in the WAL, frames copied), as SQLite reports them.

    Run on the driver's connection, outside any transaction (SQLite refuses a checkpoint inside
    one, and SQLAlchemy would begin one first)."""
    driver = conn.connection.dbapi_connection
    assert driver is not None
    busy, frames, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(busy), int(frames), int(copied)
