"""Engine throughput: one full decision against a bare hand-written check, in the same run.

The full decision is what every surface pays for: facts extracted from the parsed request, the
result of every criterion of every applicable pathway (the policy is compiled to Python once, and
every node is evaluated, not short-circuited), scope, gates, outcome, reasons and missing facts,
the authorization (period, units, vials, claim lines) and the record's policy, code-set and
engine versions. Two parts of the record are worded on first read: the criteria trees, with
each node's clause, facts and explanation, and the decision id. They are timed on the next lines,
as the service pays for them, worded straight into the canonical JSON every store and API response
carries, and as ``record()`` gives them to Python callers (the command line, the policy's case
runner), which read the worded JSON back into mappings. A not-met request words its trace at once
(the trace is its explanation), so it is timed too.

The baseline is what a careful hand-coded integration would do for the same request: HER2
positivity by every clause of the guideline's definition (1.b.i, ii.1, iii.1-3, with concurrent
IHC and ISH, refusing disagreeing reports), the weight-based dose limit and interval in exact
decimals, and diagnosis-code membership in a precomputed set.

Every example request (examples/requests: each outcome, pathway and phase) is decided too, each
against the same bare check: the bar is approvals within 15x the bare check and every other
outcome within 30x (a decision that is not an approval words its reasons and missing facts).

One request decided over and over lets the engine's small caches (of doses' billing, of
normalized codes) answer every time, which real traffic would not; so the decision and the bare
check are also timed cycling through 64 approvals that differ in weight, dose, unit and dates,
and that ratio is printed beside the first.

The machine is shared and noisy, so each figure is the median of several rounds, interleaved,
and the result that matters is the ratio between the two, measured side by side.

The engine is measured as installed: its decision's modules compiled by mypyc (``setup.py``),
which the first line printed says; ``MEDPOLICY_PURE_PYTHON=1`` measures the same modules run
from their Python sources.

    .venv/bin/python benchmarks/engine_throughput.py [--rounds 15] [--calls 2000]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import medpolicy
from medpolicy.adapters.native import parse_request
from medpolicy.engine.decide import decide
from medpolicy.policy.registry import PolicyRegistry
from medpolicy.request import Request

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "requests" / "breast-metastatic-approved.json"
NOT_MET = REPO / "examples" / "requests" / "breast-with-pertuzumab-not-met.json"
LB = Decimal("0.45359237")
_DECISION = "full decision (every criterion's result)"
_JSON = "  + worded criteria and id, as JSON"
_VARIED = "full decision, 64 varied approvals"
_VARIED_BARE = "bare check, the same 64 requests"


def bare_check(r: Request, breast_codes: frozenset[str]) -> bool:
    """HER2 + dose + diagnosis, written by hand for one guideline (what medpolicy replaces)."""
    her2 = r.her2
    if her2 is None:
        return False
    scores = {t.score for t in her2.ihc}
    ish = {(t.ratio, t.copy_number) for t in her2.ish}
    if len(scores) > 1 or len(ish) > 1:  # disagreeing reports: not for a program to settle
        return False
    ihc = next(iter(scores), None)
    positive = ihc == "3+"  # 1.b.i
    if not positive and ish:
        ratio, copies = next(iter(ish))
        if ratio is not None and copies is not None:
            concurrent = any(
                (a.specimen_id and a.specimen_id == b.specimen_id)
                or (a.date and a.date == b.date and not (a.specimen_id and b.specimen_id))
                for a in her2.ihc
                for b in her2.ish
            )
            positive = (ratio >= 2 and copies >= 4) or (  # 1.b.ii.1
                concurrent
                and (
                    (ratio >= 2 and copies < 4 and ihc == "3+")  # 1.b.iii.1
                    or (ratio < 2 and copies >= 6 and ihc in ("2+", "3+"))  # 1.b.iii.2
                    or (ratio < 2 and 4 <= copies < 6 and ihc == "3+")  # 1.b.iii.3
                )
            )
    w, d = r.body_weight, r.medication.dose
    if w is None or d is None or r.medication.interval_days is None:
        return False
    kg = w.value if w.unit == "kg" else w.value * LB
    mg = d.value if d.unit == "mg" else d.value * kg
    dose_ok = mg <= Decimal("3.6") * kg and r.medication.interval_days >= 21
    coded = any(c in breast_codes for c in r.diagnoses or [])
    return positive and dose_ok and coded


def varied(count: int) -> list[Request]:
    """Approvals unlike each other in every per-request number: weight (kg or lb), dose (mg/kg,
    or mg under the cap), interval and dates."""
    base = json.loads(EXAMPLE.read_bytes())
    out = []
    for i in range(count):
        r = json.loads(json.dumps(base))
        kg = Decimal(48) + Decimal(i * 137 % 700) / 10
        lb = i % 3 == 0
        r["body_weight"] = {"value": str(kg / LB if lb else kg), "unit": "lb" if lb else "kg"}
        r["body_weight"]["value"] = str(round(Decimal(r["body_weight"]["value"]), 1))
        r["medication"]["dose"] = (
            {"value": str(round(kg * Decimal("3.4"))), "unit": "mg"}
            if i % 2
            else {"value": "3.6", "unit": "mg/kg"}
        )
        r["medication"]["interval_days"] = 21 + i % 8
        day = date(2026, 10, 1) + timedelta(days=i * 5)
        r["submitted_at"] = f"{day.isoformat()}T09:{i % 60:02d}:00Z"
        r["medication"]["start_date"] = (day + timedelta(days=7)).isoformat()
        r["body_weight"]["date"] = (day - timedelta(days=i % 30)).isoformat()  # a current weight
        r["request_id"] = f"PA-VARIED-{i:03d}"
        out.append(parse_request(json.dumps(r).encode()))
    return out


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
    refused = parse_request(NOT_MET.read_bytes())
    codes = policy.value_sets["breast_cancer"].codes
    assert decide(policy, request).outcome.value == "approved"
    assert decide(policy, refused).outcome.value == "not_met"
    assert bare_check(request, codes)
    approvals = varied(64)
    assert all(decide(policy, r).outcome.value == "approved" for r in approvals)
    assert all(bare_check(r, codes) for r in approvals)
    next_decided, next_checked = itertools.cycle(approvals).__next__, itertools.cycle(approvals)

    timed: dict[str, Callable[[], object]] = {
        _DECISION: lambda: decide(policy, request),
        _JSON: lambda: decide(policy, request).to_json(),
        "  + worded, as record() (mappings)": lambda: decide(policy, request).record(),
        "not-met decision (trace worded: reasons)": lambda: decide(policy, refused),
        "bare hand-written check": lambda: bare_check(request, codes),
        _VARIED: lambda: decide(policy, next_decided()),
        _VARIED_BARE: lambda: bare_check(next(next_checked), codes),
    }
    examples = {
        path.stem: parse_request(path.read_bytes())
        for path in sorted((REPO / "examples" / "requests").glob("*.json"))
    }
    outcomes = {name: decide(policy, r).outcome.value for name, r in examples.items()}
    for name, r in examples.items():
        timed[f"example {name}"] = functools.partial(decide, policy, r)
    samples: dict[str, list[float]] = {name: [] for name in timed}
    # Interleave them so that background load falls on all alike.
    for _ in range(args.rounds):
        for name, fn in timed.items():
            calls = args.calls if name.startswith("bare") else args.calls // 10
            if name in (_VARIED, _VARIED_BARE):  # whole cycles of the varied requests
                calls = max(calls - calls % len(approvals), len(approvals))
            samples[name] += per_call_seconds(fn, calls, 1)

    medians = {name: statistics.median(s) for name, s in samples.items()}
    bare = medians["bare hand-written check"]
    print(f"engine modules: {medpolicy.COMPILED} (see medpolicy._compiled)")
    for name, seconds in medians.items():
        if name.startswith("example "):
            continue
        print(
            f"{name:42s} median {seconds * 1e6:8.1f} µs/call {1 / seconds:10.0f}/s "
            f"{seconds / bare:7.1f}x bare"
        )
    worded = medians[_JSON] - medians[_DECISION]
    print(f"worded criteria and id, as JSON, over the decision: {worded * 1e6:.1f} µs/call")
    print("\nevery example request, decided (bare: the hand-written check above)")
    for name, outcome in outcomes.items():
        ratio = medians[f"example {name}"] / bare
        print(f"  {name:52s} {outcome:20s} {ratio:6.1f}x bare")
    print()
    verdicts = [
        ("approval, one request", medians[_DECISION] / bare, 15),
        ("approvals, 64 varied", medians[_VARIED] / medians[_VARIED_BARE], 15),
        *(
            (f"slowest {kind}", max(medians[f"example {n}"] for n in names) / bare, bar)
            for kind, bar, names in (
                ("approved example", 15, [n for n, o in outcomes.items() if o == "approved"]),
                ("other example", 30, [n for n, o in outcomes.items() if o != "approved"]),
            )
        ),
    ]
    for label, ratio, bar in verdicts:
        print(
            f"ratio full/bare, {label}: {ratio:.1f}x (target ≤ {bar}x): "
            f"{'within' if ratio <= bar else 'OVER'}"
        )


if __name__ == "__main__":
    main()
