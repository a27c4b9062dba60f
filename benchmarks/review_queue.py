"""The reviewer work queue at 100,000 open cases against an empty queue, PostgreSQL, same run.

Starts ``medpolicy serve`` (one uvicorn worker) on a fresh PostgreSQL database, signs a reviewer
in, and times, client side over loopback keep-alive connections:

- the queue page (``GET /review/``: first page, counts, recently closed) and the queue API
  (``GET /api/v1/queue``), on the empty store;
- the same after 100,000 open cases are bulk-loaded with ``COPY`` (not 100,000 API calls) and
  ``ANALYZE``d, plus the API filtered (expedited and overdue, unclaimed), a member search, "my
  cases", and a page deep in the queue (the cursor after the 50,000th case: keyset paging costs the
  same there as on page one).

Prints p50 and p95 per request and each one's p50 and p95 over the empty queue's. No bars: the
figures are for reading, and the tests never time anything.

    .venv/bin/python benchmarks/review_queue.py [--cases 100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.api.support import Server, not_met_request, pg_available, pg_database  # noqa: E402

from medpolicy.store import Role, TokenStore, open_store  # noqa: E402
from medpolicy.store.cases import new_case_id  # noqa: E402
from medpolicy.store.identity import identity_columns  # noqa: E402
from medpolicy.store.queue import encode_cursor  # noqa: E402
from medpolicy.store.schema import cases  # noqa: E402

REVIEWERS = [f"Reviewer {i}" for i in range(10)]
ORGANIZATIONS = [f"org-{i:02d}" for i in range(20)]
PLANS = ["BlueOptions", "BlueSelect", "BlueCare", "Medicare Advantage HMO", "BlueMedicare PPO"]
PATHWAYS = ["initiation_breast_cancer", "initiation_nsclc", "continuation", "initiation_cns"]
COLUMNS = [c.name for c in cases.c]


def seed(url: str, count: int, policy_id: str) -> tuple[datetime, str]:
    """``count`` open cases by COPY; returns the (due_at, id) of the middle one (a deep cursor)."""
    rng = random.Random(15)
    now = datetime.now(UTC)
    template = not_met_request("PA-BENCH")
    rows: list[tuple[datetime, str]] = []
    buffer = io.StringIO()
    for i in range(count):
        body = json.loads(json.dumps(template))
        body["request_id"] = f"PA-B-{i:06d}"
        body["member"]["id"] = f"M{i:07d}"
        body["member"]["organization"] = organization = rng.choice(ORGANIZATIONS)
        body["member"]["plan"] = rng.choice(PLANS)
        body["member"]["sex"] = rng.choice(["female", "male"])
        body["prescriber"] = {"name": f"Dr Prescriber {i % 500}", "npi": f"{1000000000 + i % 500}"}
        text = json.dumps(body, separators=(",", ":"))
        received = now - timedelta(minutes=rng.randrange(0, 12 * 24 * 60))
        urgency = "expedited" if rng.random() < 0.2 else "standard"
        due = received + (timedelta(hours=72) if urgency == "expedited" else timedelta(days=7))
        assignee = rng.choice(REVIEWERS) if rng.random() < 0.3 else None
        case_id = new_case_id(int(received.timestamp() * 1000))
        identity = identity_columns(body)
        values = {
            "id": case_id,
            "request_id": body["request_id"],
            "organization": organization,
            "status": "in_review" if rng.random() < 0.7 else "pending_information",
            "outcome": "not_met",
            "urgency": urgency,
            "request_type": "initiation",
            "pathways": rng.choice(PATHWAYS),
            "received_at": received,
            "due_at": due,
            "updated_at": received,
            "closed_at": None,
            "idempotency_scope": None,
            "idempotency_key": None,
            "request_sha256": "0" * 64,
            "request_json": text,
            "decision_count": 1,
            "policy_id": policy_id,
            "assigned_to": assignee,
            "assigned_at": received if assignee else None,
            **identity,
        }
        buffer.write("\t".join(_copy_text(values[c]) for c in COLUMNS) + "\n")
        rows.append((due, case_id))
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY cases ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            copy.write(buffer.getvalue())
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE cases")
    rows.sort()
    return rows[len(rows) // 2]


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def timed(client: httpx.Client, path: str, count: int) -> list[float]:
    for _ in range(10):  # warm-up
        assert client.get(path).status_code == 200, path
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="timed requests per figure")
    args = parser.parse_args()
    if not pg_available():
        sys.exit("review_queue: PostgreSQL is not reachable at 127.0.0.1:5432")
    with tempfile.TemporaryDirectory() as tmp, pg_database() as url:
        store = open_store(url)
        token, _ = TokenStore(store).create(Role.reviewer, name=REVIEWERS[3])
        store.close()
        server = Server(url, Path(tmp) / "server.log").start()
        try:
            run(server.base_url, token, url, args)
        finally:
            server.stop()


def run(base: str, token: str, url: str, args: argparse.Namespace) -> None:
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    web = httpx.Client(base_url=base, timeout=60)
    signed_in = web.post("/review/login", data={"token": token, "next": "/review/"})
    assert signed_in.status_code in (200, 303), signed_in.text
    page, queue = "/review/", "/api/v1/queue"
    empty = {"page": timed(web, page, args.requests), "api": timed(api, queue, args.requests)}
    started = time.perf_counter()
    policy_id = api.get("/api/v1/policies").json()["policies"][0]["id"]
    deep = seed(url, args.cases, policy_id)
    print(f"seeded {args.cases:,} open cases by COPY in {time.perf_counter() - started:.1f} s")
    full = {
        "page": timed(web, page, args.requests),
        "api": timed(api, queue, args.requests),
        "api filtered": timed(
            api, f"{queue}?urgency=expedited&due=overdue&assignee=none", args.requests
        ),
        "api member search": timed(api, f"{queue}?q=M0054321", args.requests),
        "api my cases": timed(api, f"{queue}?assignee=me", args.requests),
        "api deep page": timed(api, f"{queue}?cursor={encode_cursor(*deep)}", args.requests),
        "page filtered, deep": timed(
            web, f"{page}?status=in_review&cursor={encode_cursor(*deep)}", args.requests
        ),
    }
    print(f"\n{args.requests} requests each, one uvicorn worker, PostgreSQL, loopback\n")
    print(f"{'request':<34} {'p50 ms':>8} {'p95 ms':>8} {'p50 ratio':>10} {'p95 ratio':>10}")
    for label, samples in [(f"{k} (empty)", v) for k, v in empty.items()] + [
        (f"{k} ({args.cases:,})", v) for k, v in full.items()
    ]:
        base_samples = empty["page" if label.startswith("page") else "api"]
        r50 = p(samples, 50) / p(base_samples, 50)
        r95 = p(samples, 95) / p(base_samples, 95)
        print(
            f"{label:<34} {p(samples, 50):>8.1f} {p(samples, 95):>8.1f} {r50:>10.2f} {r95:>10.2f}"
        )


if __name__ == "__main__":
    main()
