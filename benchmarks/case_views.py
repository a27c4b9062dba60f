"""Case views with the read audit against the same views without it, in the same run, on SQLite
and PostgreSQL; then what a notice costs to render (HTML and PDF).

    .venv/bin/python benchmarks/case_views.py               # about a minute
    .venv/bin/python benchmarks/case_views.py --views 2000 --skip-postgres

A view is what ``GET /api/v1/cases/{id}`` reads from the store (the case, its history, decisions
and reviewer actions); the audited view first records itself (``CaseStore.reads.record``, one
committed row in the read chain). Each is timed one after another (latency) and from 16 threads
at once (throughput: concurrent views share a commit through the read log's group commit).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.api.support import approved_request, not_met_request, pg_available, pg_database  # noqa: E402

from medpolicy.adapters.native import parse_request  # noqa: E402
from medpolicy.notices import build_notice, load_notice_settings, render_html, render_pdf  # noqa: E402
from medpolicy.policy.registry import PolicyRegistry  # noqa: E402
from medpolicy.service import evaluate_request  # noqa: E402
from medpolicy.store import Actor, CaseStore, ReviewerAction, open_store  # noqa: E402

READER = Actor(kind="token", name="bench", role="reviewer", token_id=1)
THREADS = 16


def _cases(store: CaseStore, registry: PolicyRegistry, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        request = parse_request(approved_request())
        ids.append(store.submit(request, evaluate_request(registry, request), actor=READER).case.id)
    return ids


def _timed(view: Callable[[str], None], ids: list[str], views: int) -> tuple[float, float]:
    """(median ms one after another, views per second from THREADS threads)."""
    samples = []
    for i in range(views):
        started = time.perf_counter()
        view(ids[i % len(ids)])
        samples.append((time.perf_counter() - started) * 1000)
    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(view, (ids[i % len(ids)] for i in range(views))))
    return statistics.median(samples), views / (time.perf_counter() - started)


def measure(name: str, store: CaseStore, registry: PolicyRegistry, views: int) -> None:
    ids = _cases(store, registry, 50)

    def plain(case_id: str) -> None:
        store.get(case_id)
        store.records(case_id)

    def audited(case_id: str) -> None:
        store.reads.record(case_id, READER, "GET /api/v1/cases/{case_id}")
        plain(case_id)

    plain_ms, plain_rate = _timed(plain, ids, views)
    audited_ms, audited_rate = _timed(audited, ids, views)
    print(f"{name:10} {'median ms':>10} {'views/s (16 threads)':>22}")
    print(f"{'baseline':10} {plain_ms:10.2f} {plain_rate:22.0f}")
    print(
        f"{'audited':10} {audited_ms:10.2f} {audited_rate:22.0f}   "
        f"({audited_ms / plain_ms:.1f}x latency, {audited_rate / plain_rate:.2f}x throughput)"
    )
    assert store.verify_audit().ok


def notices(store: CaseStore, registry: PolicyRegistry, runs: int = 20) -> None:
    request = parse_request(not_met_request())
    case = store.submit(request, evaluate_request(registry, request), actor=READER).case
    case = store.record_reviewer_action(
        case.id, ReviewerAction.deny, "HER2-negative", actor=READER, seen_decisions=1
    )
    notice = build_notice(case, store.reviewer_decisions(case.id), "member", load_notice_settings())
    for label, render in (("HTML", render_html), ("PDF", render_pdf)):
        render(notice)  # warm: templates, fonts
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            render(notice)
            samples.append((time.perf_counter() - started) * 1000)
        print(f"denial notice {label:4} median {statistics.median(samples):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--views", type=int, default=800)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    registry = PolicyRegistry.load_dir()
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            measure("sqlite", store, registry, args.views)
            notices(store, registry)
        finally:
            store.close()
    if not args.skip_postgres and pg_available():
        with pg_database() as url:
            store = open_store(url)
            try:
                measure("postgres", store, registry, args.views)
            finally:
                store.close()


if __name__ == "__main__":
    main()
