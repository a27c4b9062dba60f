"""Command-line verbs of the service, registered on the ``medpolicy`` command:
``serve``, ``token create|list|revoke``, ``audit verify|reads``, ``report`` and ``db upgrade``.

Every verb takes ``--database URL`` (default ``$MEDPOLICY_DATABASE_URL``, else the SQLite file
in the user's data directory: ``$MEDPOLICY_DATA`` or ``~/.local/share/medpolicy/medpolicy.db``).
"""

from __future__ import annotations

import gc
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from medpolicy.store.model import ServiceLevel, ServiceLevels

__all__ = ["register"]

_database = click.option(
    "--database",
    "database",
    envvar="MEDPOLICY_DATABASE_URL",
    default=None,
    metavar="URL",
    help="sqlite:///path.db, a file path, or postgresql://user@host/db "
    "(default: $MEDPOLICY_DATABASE_URL, else a SQLite file in the user's data directory).",
)


def _shown(url: str | None) -> str:
    from sqlalchemy.engine import make_url

    from medpolicy.store import default_database_url, normalize_url

    return make_url(normalize_url(url or default_database_url())).render_as_string(
        hide_password=True
    )


def register(group: click.Group) -> None:
    """Add the service's verbs to ``group``."""
    group.add_command(serve)
    group.add_command(token)
    group.add_command(audit)
    group.add_command(report)
    group.add_command(db)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@_database
@click.option(
    "--policies",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of policy files (default: $MEDPOLICY_POLICIES or the repository's policies/).",
)
@click.option(
    "--standard-hours",
    type=click.IntRange(1, 24 * 60),
    default=7 * 24,
    show_default=True,
    help="The plan's service level for standard requests, hours from receipt.",
)
@click.option(
    "--expedited-hours",
    type=click.IntRange(1, 24 * 30),
    default=72,
    show_default=True,
    help="The plan's service level for expedited requests, hours from receipt.",
)
@click.option(
    "--service-level",
    "line_levels",
    multiple=True,
    metavar="LOB=STANDARD,EXPEDITED",
    help="A line of business's own service level in hours, e.g. medicare_advantage=72,24 "
    "(repeatable).",
)
@click.option(
    "--sqlite-synchronous",
    type=click.Choice(["NORMAL", "FULL"]),
    default="NORMAL",
    show_default=True,
    help="SQLite durability: NORMAL survives a killed process, FULL also a power loss.",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(0.1, 600),
    default=5.0,
    show_default=True,
    help="Seconds a write waits for the database's write lock (held by another process, or a "
    "PostgreSQL row lock) before answering 503 with Retry-After.",
)
@click.option(
    "--statement-timeout",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds a PostgreSQL statement may run before it is cancelled (a 503).",
)
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Mark the reviewer app's session cookie Secure (behind HTTPS). Requests that arrive "
    "over HTTPS, or through a trusted proxy's X-Forwarded-Proto: https, get it anyway.",
)
@click.option(
    "--session-idle-minutes",
    type=click.IntRange(1, 24 * 60),
    default=30,
    show_default=True,
    help="A reviewer's web session ends after this long without a request.",
)
@click.option(
    "--session-max-hours",
    type=click.IntRange(1, 24 * 30),
    default=12,
    show_default=True,
    help="A reviewer's web session ends this long after sign-in, however active.",
)
@click.option("--log-level", default="info", show_default=True)
def serve(
    host: str,
    port: int,
    database: str | None,
    policies: Path | None,
    standard_hours: int,
    expedited_hours: int,
    line_levels: tuple[str, ...],
    sqlite_synchronous: str,
    lock_timeout: float,
    statement_timeout: float,
    secure_cookies: bool,
    session_idle_minutes: int,
    session_max_hours: int,
    log_level: str,
) -> None:
    """Run the prior-authorization service: REST API, reviewer web app and metrics."""
    import faulthandler

    import uvicorn

    from medpolicy.api import logs
    from medpolicy.api.app import create_app
    from medpolicy.api.settings import Settings

    settings = Settings(
        database_url=database,
        policies_dir=policies,
        service_levels=service_levels(standard_hours, expedited_hours, line_levels),
        sqlite_synchronous=sqlite_synchronous,
        lock_timeout=lock_timeout,
        statement_timeout=statement_timeout,
        secure_cookies=secure_cookies,
        session_idle=timedelta(minutes=session_idle_minutes),
        session_max=timedelta(hours=session_max_hours),
    )
    # A fatal signal (SIGSEGV, SIGBUS...) in a C library writes every thread's Python traceback
    # to the log before the process dies, never a silent exit.
    faulthandler.enable(all_threads=True)
    app = create_app(settings)
    # The policies and code sets loaded above are hundreds of thousands of long-lived objects:
    # keep the cyclic garbage collector from re-walking them (a full pass is a latency spike).
    gc.collect()
    gc.freeze()
    shown_host = f"[{host}]" if ":" in host else host
    base = f"http://{shown_host}:{port}"
    click.echo(f"medpolicy {app.version}: store {_shown(database)}")
    click.echo(f"  API docs      {base}/docs  (OpenAPI: {base}/openapi.json)")
    click.echo(f"  Reviewer app  {base}/review/")
    click.echo(f"  Metrics       {base}/metrics")
    click.echo("  Tokens        medpolicy token create --role reviewer --name 'Your Name'")
    # The standard asyncio loop, not uvloop: this process is bound by Python work, where uvloop is
    # no faster, and under full load uvloop accepts waiting connections only a few per loop pass,
    # so a client connecting to a busy server waited up to a second (measured with wrk).
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, server_header=False, loop="asyncio"
    )
    server = uvicorn.Server(config)  # the Config has set up uvicorn's loggers by now
    logs.install()
    server.run()


def service_levels(
    standard_hours: int, expedited_hours: int, line_levels: tuple[str, ...] = ()
) -> ServiceLevels:
    """The plan's service levels from ``serve``'s options (``LOB=STANDARD,EXPEDITED`` hours)."""
    by_line: dict[str, ServiceLevel] = {}
    for item in line_levels:
        line, _, hours = item.partition("=")
        standard, _, expedited = hours.partition(",")
        if not (line and standard.isdigit() and expedited.isdigit()):
            raise click.BadParameter(
                f"{item!r}: expected LOB=STANDARD,EXPEDITED hours", param_hint="--service-level"
            )
        by_line[line.strip()] = ServiceLevel(
            timedelta(hours=int(standard)), timedelta(hours=int(expedited))
        )
    default = ServiceLevel(timedelta(hours=standard_hours), timedelta(hours=expedited_hours))
    return ServiceLevels(default=default, by_line_of_business=by_line)


@click.group()
def token() -> None:
    """Create, list and revoke API bearer tokens."""


@token.command("create")
@click.option(
    "--role",
    type=click.Choice(["provider", "reviewer", "admin"]),
    required=True,
    help="What it may do.",
)
@click.option("--organization", default=None, help="Required for a provider: its organization id.")
@click.option("--name", default=None, help="Who holds it (shown in the audit trail).")
@_database
def token_create(
    role: str, organization: str | None, name: str | None, database: str | None
) -> None:
    """Create a token and print it (the only time it is shown; only its hash is stored)."""
    from medpolicy.store import Actor, Role, TokenStore, open_store

    if role == "provider" and not organization:
        raise click.UsageError("a provider token needs --organization")
    store = open_store(database)
    holder = name or (f"{organization} {role}" if organization else role)
    secret, info = TokenStore(store).create(
        Role(role),
        name=holder,
        organization=organization,
        actor=Actor(kind="cli", name="medpolicy token create"),
    )
    click.echo(secret)
    click.echo(
        f"token {info.id}: {info.role.value} '{info.name}'"
        + (f" for {info.organization}" if info.organization else ""),
        err=True,
    )


@token.command("list")
@_database
def token_list(database: str | None) -> None:
    """List tokens (never their values)."""
    from medpolicy.store import TokenStore, open_store

    for t in TokenStore(open_store(database)).list():
        state = "revoked" if t.revoked else "active"
        click.echo(
            f"{t.id}\t{t.role.value}\t{t.organization or '-'}\t{t.name}\t{state}\t"
            f"{t.created_at.isoformat(timespec='seconds')}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
@_database
def token_revoke(token_id: int, database: str | None) -> None:
    """Revoke a token by its id (from ``token list``)."""
    from medpolicy.store import Actor, TokenStore, open_store

    done = TokenStore(open_store(database)).revoke(
        token_id, actor=Actor(kind="cli", name="medpolicy token revoke")
    )
    if not done:
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"token {token_id} revoked")


@click.group()
def audit() -> None:
    """Check the audit trail; report who viewed which case."""


@audit.command("verify")
@_database
def audit_verify(database: str | None) -> None:
    """Verify the hash chain and the records it covers; exit 1 naming the first bad row.

    Views waiting in the read spool are chained first when the store can be written now;
    those still waiting are counted, and a spool line that is not a recorded view is named."""
    from medpolicy.store import open_store

    store = open_store(database)
    try:
        store.reads.drain()
        result = store.verify_audit()
    finally:
        store.close()
    if result.ok:
        click.echo(
            f"audit trail intact: {result.events} events verified, and {result.reads} case "
            f"views (read audit); {result.pending_reads} view(s) pending in the read spool"
        )
        return
    click.echo(f"audit trail BROKEN after {result.events} good events:", err=True)
    for problem in result.problems:
        click.echo(f"  {problem}", err=True)
    sys.exit(1)


@audit.command("reads")
@click.option("--case", "case_id", default=None, metavar="ID", help="Views of this case.")
@click.option("--user", default=None, metavar="NAME", help="Views by this token's holder.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@click.option(
    "--limit", default=10_000, show_default=True, type=click.IntRange(1), help="At most this many."
)
@_database
def audit_reads(
    case_id: str | None, user: str | None, as_json: bool, limit: int, database: str | None
) -> None:
    """Who viewed a case's health information, when and through which route (oldest first;
    views still waiting in the read spool last, marked pending)."""
    import json

    from medpolicy.store import open_store

    if case_id is None and user is None:
        raise click.UsageError("name --case ID or --user NAME (or both)")
    store = open_store(database)
    try:
        store.reads.drain()
        found = store.reads.reads(case_id=case_id, reader=user, limit=limit)
        problems = store.reads.pending()[1]
    finally:
        store.close()
    for r in found:
        if as_json:
            row: dict[str, Any] = {"seq": r.seq, "at": r.at, "case_id": r.case_id}
            row |= {"reader": r.reader, "route": r.route, "actor": r.actor, "pending": r.pending}
            click.echo(json.dumps(row, sort_keys=True))
        else:
            role = r.actor.get("role") or r.actor.get("kind")
            organization = r.actor.get("organization")
            who = f"{r.reader} ({role}{', ' + organization if organization else ''})"
            mark = "  (pending: in the read spool)" if r.pending else ""
            click.echo(f"{r.at}  {r.case_id}  {who}  {r.route}{mark}")
    if not as_json:
        click.echo(f"{len(found)} view(s)", err=True)
    for problem in problems:
        click.echo(f"warning: {problem} (see medpolicy audit verify)", err=True)


def _day(value: str | None, default: date) -> datetime:
    day = date.fromisoformat(value) if value else default
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@click.command()
@click.option(
    "--since", default=None, metavar="YYYY-MM-DD", help="First day (default: 30 days ago)."
)
@click.option(
    "--until", default=None, metavar="YYYY-MM-DD", help="Day after the last (default: tomorrow)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_database
def report(since: str | None, until: str | None, as_json: bool, database: str | None) -> None:
    """Approvals, pends, denials and median time to decision for cases received in a period."""
    from medpolicy.store import build_report, open_store

    now = datetime.now(UTC)
    try:
        start = _day(since, (now - timedelta(days=30)).date())
        end = _day(until, (now + timedelta(days=1)).date())
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if end <= start:
        raise click.BadParameter("--until must be after --since")
    result = build_report(open_store(database), start, end, now)
    click.echo(result.to_json() if as_json else result.to_text())


@click.group()
def db() -> None:
    """Manage the store's schema."""


@db.command("upgrade")
@_database
def db_upgrade(database: str | None) -> None:
    """Apply the packaged migrations (the service also does this when it starts)."""
    from medpolicy.store import connect, default_database_url, upgrade
    from medpolicy.store.database import current_revision

    engine = connect(database or default_database_url())
    upgrade(engine)
    click.echo(f"{_shown(database)}: at revision {current_revision(engine)}")


def _standalone() -> Any:
    group = click.Group("medpolicy-service")
    register(group)
    return group


if __name__ == "__main__":  # python -m medpolicy.api.commands serve ...
    _standalone()()
