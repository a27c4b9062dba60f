"""The read spool (SQLite): while another process holds the database's write lock, a view is
recorded in the spool beside the database and answered; the next read-audit commit (a later view,
a restart, ``audit verify``) chains the spooled views in order, exactly once, even after a crash
between that commit and emptying the spool. A malformed or edited spool line is reported and
kept. Only when neither the store nor the spool can be written is a view refused."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from medpolicy.cli import main
from medpolicy.store import Actor, CaseStore, StoreBusy, open_store
from medpolicy.store.read_spool import SPOOL_SUFFIX
from tests.support import sqlite_lock_held

RIVERA = Actor(kind="token", name="Dr Rivera", role="reviewer", token_id=3)
ROUTE = "GET /api/v1/cases/{case_id}"


def _open(path: Path) -> CaseStore:
    return open_store(f"sqlite:///{path}", lock_timeout=0.5)


def _spool(path: Path) -> Path:
    return Path(f"{path}{SPOOL_SUFFIX}")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _spool_while_locked(path: Path, store: CaseStore, cases: list[str]) -> None:
    """View each case while another process holds the write lock: each is spooled at once."""
    with sqlite_lock_held(path):
        for case_id in cases:
            started = time.monotonic()
            view = store.reads.record(case_id, RIVERA, ROUTE)
            assert view.pending and view.seq is None and view.spool_id
            assert time.monotonic() - started < 5, "a view waits a bounded time"


def test_views_while_locked_are_spooled_then_chained_in_order_once(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    store = _open(path)
    try:
        store.reads.record("case_0", RIVERA, ROUTE)
        _spool_while_locked(path, store, ["case_1", "case_2", "case_3"])
        lines = _spool(path).read_bytes().splitlines()
        assert [json.loads(line)["case_id"] for line in lines] == ["case_1", "case_2", "case_3"]
        assert _spool(path).stat().st_mode & 0o777 == 0o600
        # Pending views are reported (after the chain's) and counted by verify.
        assert [(r.case_id, r.pending) for r in store.reads.reads(reader="Dr Rivera")] == [
            ("case_0", False),
            ("case_1", True),
            ("case_2", True),
            ("case_3", True),
        ]
        result = store.verify_audit()
        assert result.ok and (result.reads, result.pending_reads) == (1, 3), result.problems
        code, output = cli("audit", "reads", "--case", "case_2", "--database", str(path))
        assert code == 0 and output.count("case_2") == 1, output
        # The lock is free: the next view chains the spool's first, in order, then itself.
        store.reads.record("case_4", RIVERA, ROUTE)
        views = store.reads.reads(reader="Dr Rivera")
        assert [(r.seq, r.case_id) for r in views] == [(n, f"case_{n - 1}") for n in range(1, 6)]
        assert [r.spool_id is not None for r in views] == [False, True, True, True, False]
        assert _spool(path).stat().st_size == 0
        result = store.verify_audit()
        assert result.ok and (result.reads, result.pending_reads) == (5, 0), result.problems
    finally:
        store.close()
    code, output = cli("audit", "verify", "--database", str(path))
    assert code == 0 and "5 case views" in output and "0 view(s) pending" in output


def test_a_restart_drains_the_spool(tmp_path: Path) -> None:
    """Views spooled by one process are chained by the next (``audit verify`` here; the server
    does the same at start)."""
    path = tmp_path / "cases.db"
    store = _open(path)
    try:
        _spool_while_locked(path, store, ["case_1", "case_2"])
    finally:
        store.close()
    code, output = cli("audit", "verify", "--database", str(path))
    assert code == 0 and "2 case views" in output and "0 view(s) pending" in output, output
    store = _open(path)
    try:
        assert [r.case_id for r in store.reads.reads(reader="Dr Rivera")] == ["case_1", "case_2"]
    finally:
        store.close()


def test_a_crash_between_commit_and_emptying_the_spool_records_nothing_twice(
    tmp_path: Path,
) -> None:
    """The spool as a crash would leave it: its views committed to the chain, the file not yet
    emptied. The next drain skips what is chained (by each line's id) and empties it."""
    path = tmp_path / "cases.db"
    store = _open(path)
    try:
        _spool_while_locked(path, store, ["case_1", "case_2"])
        shutil.copyfile(_spool(path), tmp_path / "before-drain")
        assert store.reads.drain()
        shutil.copyfile(tmp_path / "before-drain", _spool(path))  # emptying never happened
        assert store.verify_audit().pending_reads == 0, "already chained: not pending"
        _spool_while_locked(path, store, ["case_3"])
        store.reads.record("case_4", RIVERA, ROUTE)
        views = store.reads.reads(reader="Dr Rivera")
        assert [(r.seq, r.case_id) for r in views] == [(n, f"case_{n}") for n in range(1, 5)]
        assert _spool(path).stat().st_size == 0
        result = store.verify_audit()
        assert result.ok and result.reads == 4, result.problems
    finally:
        store.close()


def test_an_edited_or_malformed_spool_line_is_reported_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    store = _open(path)
    try:
        _spool_while_locked(path, store, ["case_1", "case_2"])
        first, second = _spool(path).read_bytes().splitlines(keepends=True)
        edited = first.replace(b"case_1", b"case_9")
        _spool(path).write_bytes(edited + b"not json\n" + second)
        problems = [
            "read spool line 1: its contents do not match its digest (edited)",
            "read spool line 2: not JSON (malformed)",
        ]
        result = store.verify_audit()
        assert [p.split(";")[0] for p in result.problems] == problems
        assert result.pending_reads == 1
        code, output = cli("audit", "verify", "--database", str(path))
        assert code == 1 and problems[0] in output
        # The good line is chained; the bad ones stay in the spool, still reported.
        store.reads.record("case_3", RIVERA, ROUTE)
        assert [r.case_id for r in store.reads.reads(reader="Dr Rivera")] == ["case_2", "case_3"]
        assert _spool(path).read_bytes() == edited + b"not json\n"
        assert [p.split(";")[0] for p in store.verify_audit().problems] == problems
    finally:
        store.close()


def test_a_view_neither_the_store_nor_the_spool_can_record_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    store = _open(path)
    try:
        _spool(path).mkdir()  # the spool cannot be written (whoever runs the test)
        with sqlite_lock_held(path):
            started = time.monotonic()
            with pytest.raises(StoreBusy, match="could not be recorded"):
                store.reads.record("case_1", RIVERA, ROUTE)
            assert time.monotonic() - started < 5, "a refused view waits a bounded time"
        # The store free again: views are chained, and the unreadable spool is named.
        store.reads.record("case_1", RIVERA, ROUTE)
        assert [r.seq for r in store.reads.reads(case_id="case_1")] == [1]
        problems = store.verify_audit().problems
        assert len(problems) == 1 and problems[0].endswith(": cannot be read (Is a directory)")
        _spool(path).rmdir()
        assert store.verify_audit().ok
    finally:
        store.close()


def test_concurrent_views_while_locked_are_spooled_whole_and_chained_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cases.db"
    store = _open(path)

    def reader(n: int) -> None:
        for i in range(5):
            store.reads.record(f"case_{n}_{i}", RIVERA, ROUTE)

    try:
        with sqlite_lock_held(path), ThreadPoolExecutor(16) as pool:
            list(pool.map(reader, range(16)))
        assert len(_spool(path).read_bytes().splitlines()) == 80
        pending, problems = store.reads.pending()
        assert len(pending) == 80 and not problems, "every line whole: none interleaved"
        assert store.reads.drain()
        views = store.reads.reads(reader="Dr Rivera")
        assert [r.seq for r in views] == list(range(1, 81))
        assert sorted(r.spool_id for r in views) == sorted(r.spool_id for r in pending)
        for n in range(16):  # each reader's views in the order it made them
            mine = [r.case_id for r in views if r.case_id.startswith(f"case_{n}_")]
            assert mine == [f"case_{n}_{i}" for i in range(5)]
        assert store.verify_audit().ok
    finally:
        store.close()
