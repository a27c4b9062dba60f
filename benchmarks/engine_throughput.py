"""Engine throughput: one full decision against a bare hand-written check, in the same run.

The full decision is what every surface pays for: facts extracted from the parsed request, every
applicable pathway evaluated with a trace node per criterion, reasons / missing facts / the
authorization (units, vials, claim lines) assembled into the decision record. The baseline is the
least a hand-coded integration would do for the same request: HER2 positivity (all clauses),
the weight-based dose limit in exact decimals, and diagnosis-code membership in a precomputed set.

The machine is shared and noisy, so each figure is the median of several rounds, and the result
that matters is the ratio between the two, measured side by side.

    .venv/bin/python benchmarks/engine_throughput.py [--rounds 15] [--calls 2000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from medpolicy.adapters.native import parse_request
from medpolicy.engine.decide import decide
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.request import Request

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "requests" / "breast-metastatic-approved.json"
LB = Decimal("0.45359237")


def bare_check(r: Request, breast_codes: frozenset[str]) -> bool:
    """HER2 + dose + diagnosis, written by hand for one guideline (what medpolicy replaces)."""
    her2 = r.her2
    ihc = her2.ihc[0].score if her2 and her2.ihc else None
    ish = her2.ish[0] if her2 and her2.ish else None
    ratio, copies = (ish.ratio, ish.copy_number) if ish else (None, None)
    positive = ihc == "3+" or (
        ratio is not None
        and copies is not None
        and ((ratio >= 2 and copies >= 4) or (ratio < 2 and copies >= 6 and ihc in ("2+", "3+")))
    )
    w, d = r.body_weight, r.medication.dose
    if w is None or d is None or r.medication.interval_days is None:
        return False
    kg = w.value if w.unit == "kg" else w.value * LB
    mg = d.value if d.unit == "mg" else d.value * kg
    dose_ok = mg <= Decimal("3.6") * kg and r.medication.interval_days >= 21
    coded = any(c in breast_codes for c in r.diagnoses or [])
    return positive and dose_ok and coded


def per_call_seconds(fn: Callable[[], object], calls: int, rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()

    policy = PolicyRegistry.load_dir(REPO / "policies").get("09-J1000-90")
    assert policy is not None
    request = parse_request(EXAMPLE.read_bytes())
    codes = policy.value_sets["breast_cancer"].codes
    assert decide(policy, request).outcome.value == "approved"
    assert bare_check(request, codes)

    # Interleave the two so that background load falls on both alike.
    full: list[float] = []
    bare: list[float] = []
    for _ in range(args.rounds):
        full += per_call_seconds(lambda: decide(policy, request), args.calls // 10, 1)
        bare += per_call_seconds(lambda: bare_check(request, codes), args.calls, 1)
    json_round = per_call_seconds(
        lambda: decide(policy, request).to_json(), args.calls // 10, args.rounds
    )

    f, b, j = statistics.median(full), statistics.median(bare), statistics.median(json_round)
    print(
        f"full decision (trace + assembly): median {f * 1e6:8.1f} µs/call  "
        f"{1 / f:10.0f} decisions/s"
    )
    print(
        f"full decision + canonical JSON:   median {j * 1e6:8.1f} µs/call  "
        f"{1 / j:10.0f} decisions/s"
    )
    print(
        f"bare hand-written check:          median {b * 1e6:8.1f} µs/call  {1 / b:10.0f} checks/s"
    )
    ratio = f / b
    print(f"ratio full/bare: {ratio:.1f}x (target ≤ 10x): {'within' if ratio <= 10 else 'OVER'}")


if __name__ == "__main__":
    main()
