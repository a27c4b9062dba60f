"""The read audit on SQLite and PostgreSQL: every view recorded in its own hash chain, verified by
``medpolicy audit verify`` (an edited, inserted or deleted row is named), reported by
``medpolicy audit reads``; views never wait on the lock of the case trail's head. (SQLite's write
lock held by another process: ``test_read_spool``.)"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import delete, insert, update

from medpolicy.cli import main
from medpolicy.store import Actor, CaseStore, StoreBusy, open_store
from medpolicy.store.schema import read_events, read_head
from tests.api.support import pg_available, pg_database
from tests.support import unavailable

RIVERA = Actor(kind="token", name="Dr Rivera", role="reviewer", token_id=3)
TAMPA = Actor(kind="token", name="Tampa front desk", role="provider", organization="tampa-oncology")
ROUTE = "GET /api/v1/cases/{case_id}"


def views(store: CaseStore) -> None:
    """Five views of two cases by two readers."""
    store.reads.record("case_a", RIVERA, ROUTE)
    store.reads.record("case_a", TAMPA, ROUTE)
    store.reads.record("case_b", RIVERA, "GET /review/cases/{case_id}")
    store.reads.record("case_a", RIVERA, "GET /api/v1/cases/{case_id}/notice")
    store.reads.record("case_b", TAMPA, "POST /fhir/Claim/$inquire")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_views_are_recorded_verified_and_reported(store: CaseStore, database_url: str) -> None:
    views(store)
    result = store.verify_audit()
    assert result.ok and result.reads == 5, result.problems
    code, output = cli("audit", "verify", "--database", database_url)
    assert code == 0 and "5 case views" in output

    code, output = cli("audit", "reads", "--case", "case_a", "--database", database_url)
    assert code == 0, output
    lines = [ln for ln in output.splitlines() if "case_a" in ln]
    assert len(lines) == 3 and "3 view(s)" in output
    assert "Tampa front desk (provider, tampa-oncology)" in lines[1]
    assert lines[2].endswith("GET /api/v1/cases/{case_id}/notice")

    code, output = cli(
        "audit", "reads", "--user", "Tampa front desk", "--json", "--database", database_url
    )
    rows = [json.loads(line) for line in output.splitlines()]
    assert [(r["case_id"], r["route"]) for r in rows] == [
        ("case_a", ROUTE),
        ("case_b", "POST /fhir/Claim/$inquire"),
    ]
    assert rows[0]["actor"]["organization"] == "tampa-oncology" and rows[0]["at"]

    code, output = cli("audit", "reads", "--database", database_url)
    assert code == 2 and "--case ID or --user NAME" in output


def _execute(store: CaseStore, statement: object) -> None:
    with store.engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def _wipe(store: CaseStore) -> None:
    _execute(store, delete(read_events))
    _execute(store, update(read_head).values(seq=0, hash="0" * 64))


def _wipe(store: CaseStore) -> None:
    _execute(store, delete(read_events))
    _execute(store, update(read_head).values(seq=0, hash="0" * 64))


TAMPERING: dict[str, tuple[Callable[[CaseStore], None], str]] = {
    "edit who read": (
        lambda s: _execute(
            s, update(read_events).where(read_events.c.seq == 2).values(reader="Someone else")
        ),
        "read_events seq 2: its contents do not match its hash",
    ),
    "edit which case": (
        lambda s: _execute(
            s, update(read_events).where(read_events.c.seq == 1).values(case_id="case_z")
        ),
        "read_events seq 1: its contents do not match its hash",
    ),
    "delete a view": (
        lambda s: _execute(s, delete(read_events).where(read_events.c.seq == 3)),
        "read_events seq 3: missing (deleted)",
    ),
    "delete the newest view": (
        lambda s: _execute(s, delete(read_events).where(read_events.c.seq == 5)),
        "read_events after seq 4: the read head records seq 5",
    ),
    "delete every view and reset the head": (
        _wipe,
        "",  # indistinguishable from a store nobody read: see the README (anchoring the head)
    ),
    "insert a view behind its back": (
        lambda s: _execute(
            s,
            insert(read_events).values(
                seq=6,
                case_id="case_a",
                reader="x",
                actor_json="{}",
                route=ROUTE,
                at="2026-12-06T00:00:00+00:00",
                prev_hash="0" * 64,
                hash="0" * 64,
            ),
        ),
        "read_events seq 6: prev_hash does not match",
    ),
}


@pytest.mark.parametrize("tamper", sorted(TAMPERING))
def test_tampering_with_a_view_is_named(store: CaseStore, database_url: str, tamper: str) -> None:
    views(store)
    change, problem = TAMPERING[tamper]
    change(store)
    result = store.verify_audit()
    if not problem:
        assert result.ok and result.reads == 0
        return
    assert not result.ok and result.problems[0].startswith(problem), result.problems
    code, output = cli("audit", "verify", "--database", database_url)
    assert code == 1 and problem in output


def test_concurrent_views_all_land_once_in_one_chain(store: CaseStore) -> None:
    def reader(n: int) -> None:
        for i in range(5):
            store.reads.record(f"case_{n}", RIVERA, ROUTE if i % 2 else "GET /review/x")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(reader, range(32)))
    result = store.verify_audit()
    assert result.ok and result.reads == 160, result.problems
    assert [r.seq for r in store.reads.reads(reader="Dr Rivera")] == list(range(1, 161))


@pytest.mark.postgres
def test_views_do_not_wait_on_the_case_trails_lock() -> None:
    """PostgreSQL: while another session holds the case trail's head (what every write locks),
    views are still recorded: they lock only the read chain's head."""
    if not pg_available():
        unavailable("PostgreSQL is not reachable at 127.0.0.1:5432")
    with pg_database() as url:
        store = open_store(url, lock_timeout=1)
        try:
            with psycopg.connect(url) as conn:
                conn.execute("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE").fetchall()
                store.reads.record("case_a", RIVERA, ROUTE)
                conn.rollback()
                # The read chain's own head held elsewhere: refused within the read's wait.
                conn.execute("SELECT seq FROM read_head WHERE id = 1 FOR UPDATE").fetchall()
                started = time.monotonic()
                with pytest.raises(StoreBusy):
                    store.reads.record("case_a", RIVERA, ROUTE)
                assert time.monotonic() - started < 5
                conn.rollback()
            store.reads.record("case_a", RIVERA, ROUTE)
            assert store.verify_audit().ok and store.verify_audit().reads == 2
        finally:
            store.close()
