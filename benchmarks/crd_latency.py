"""CRD latency: an order-sign hook answered end to end, against the bare engine, in the same run.

The CRD guide asks a payer to answer a hook within 5 seconds. Three figures, measured side by side
on the same clinical case (examples/fhir/crd-order-sign-breast-satisfied.json):

1. baseline: the engine alone deciding the already-parsed request (``evaluate_request``);
2. adapter: the whole CRD service in-process: hook checked, prefetch indexed, mCODE resources
   read into a request, the request validated, decided, and the cards and coverage-information
   system action built (``crd.respond``; nothing stored);
3. http: the same through the running app's route (in-process ASGI, bearer token, SQLite store):
   order-select (nothing kept) and order-sign (PA satisfied: the case is committed to the store
   before the answer, so the satisfied-pa-id is a real authorization).

Each prints the median and p99 of single calls, and the ratio to the baseline; the verdict is
the p99 of the slowest path against the 5-second target. No timing is asserted anywhere in the
test suite; this script is how latency is measured.

    .venv/bin/python benchmarks/crd_latency.py [--calls 300] [--warmup 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from medpolicy.adapters.fhir.crd import CrdSettings, respond
from medpolicy.adapters.fhir.resources import ResourceIndex
from medpolicy.adapters.fhir.to_request import OrderContext, to_request
from medpolicy.api.app import create_app
from medpolicy.api.settings import Settings
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.service import evaluate_request
from medpolicy.store import Role, TokenStore

REPO = Path(__file__).resolve().parents[1]
HOOK = REPO / "examples" / "fhir" / "crd-order-sign-breast-satisfied.json"
TARGET_SECONDS = 5.0


def timings(fn: Callable[[], object], calls: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return samples


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def baseline_request(registry: PolicyRegistry, body: dict[str, Any]) -> Any:
    """The same case as the engine sees it: the request the adapter builds, built once."""
    parts = [(v, f"prefetch.{k}") for k, v in body["prefetch"].items()]
    parts.append((body["context"]["draftOrders"], "context.draftOrders"))
    index = ResourceIndex.from_parts(parts)
    order = index.of_type("MedicationRequest")[0]
    ctx = OrderContext(
        request_id="bench",
        request_id_source="",
        submitted_at=datetime.now(UTC),
        submitted_at_source="",
        hcpcs="J9354",
        hcpcs_source="",
        root="context",
        patient=index.of_type("Patient")[0],
        coverage=index.of_type("Coverage")[0],
        order=order,
        not_history=frozenset({order.path}),
    )
    adapted = to_request(index, ctx)
    assert adapted.request is not None, adapted.problems
    assert evaluate_request(registry, adapted.request).outcome.value == "approved"
    return adapted.request


def http_timings(
    registry: PolicyRegistry, body: dict[str, Any], calls: int, warmup: int
) -> dict[str, list[float]]:
    """Both hooks through the app's routes, in-process, over a fresh SQLite store."""
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings(database_url=f"sqlite:///{Path(tmp) / 'cases.db'}"), registry=registry
        )
        token, _ = TokenStore(app.state.services.store).create(
            Role.provider, name="bench", organization="tampa-oncology"
        )
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(app) as client:
            for hook in ("order-select", "order-sign"):
                sent = {**body, "hook": hook}

                def call(sent: dict[str, Any] = sent, hook: str = hook) -> None:
                    # A new hook instance per call, as an EHR sends (so each order-sign that
                    # finds PA satisfied commits a new case).
                    answer = client.post(
                        f"/cds-services/medpolicy-{hook}",
                        json={**sent, "hookInstance": str(uuid.uuid4())},
                        headers=headers,
                    )
                    assert answer.status_code == 200, answer.text

                results[f"http {hook}"] = timings(call, calls, warmup)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    registry = PolicyRegistry.load_dir()
    body = json.loads(HOOK.read_text(encoding="utf-8"))
    request = baseline_request(registry, body)
    settings = CrdSettings("Florida Blue", datetime.now(UTC), lambda p: "http://localhost/policy")

    results = {
        "baseline (engine only)": timings(
            lambda: evaluate_request(registry, request), args.calls, args.warmup
        ),
        "adapter (crd.respond)": timings(
            lambda: respond(registry, "medpolicy-order-sign", body, settings),
            args.calls,
            args.warmup,
        ),
    }
    results.update(http_timings(registry, body, args.calls, args.warmup))
    base = statistics.median(results["baseline (engine only)"])
    print(f"CRD hooks on one case, {args.calls} calls each after {args.warmup} warm-up calls")
    print(f"{'path':28} {'median ms':>10} {'p99 ms':>10} {'x baseline':>11}")
    for name, samples in results.items():
        median = statistics.median(samples)
        print(f"{name:28} {median * 1000:10.2f} {p99(samples) * 1000:10.2f} {median / base:11.1f}")
    worst = max(p99(s) for s in results.values())
    print(
        f"slowest p99 {worst * 1000:.1f} ms against the CRD target of {TARGET_SECONDS:.0f} s: "
        f"{TARGET_SECONDS / worst:.0f}x margin"
    )


if __name__ == "__main__":
    main()
