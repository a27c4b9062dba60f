"""Engine cost in CPU instructions: the same decisions and the same bare check as
``engine_throughput.py``, counted by valgrind's callgrind instead of timed.

Wall-clock ratios move with the machine: the same commit measured 14.4x on one of these shared
machines and 23.7x on another, because the bare check (a few decimal operations in C) retires
instructions about twice as fast per cycle as the interpreter running a decision does on some
processors and not on others. An instruction count does not move with load or processor: the
same binary, inputs and hash seed give the same count, so this figure tells whether a change
made the engine do less work, wherever it is measured. It is printed beside the wall-clock
benchmark, not instead of it: the issue's bar is the timed ratio.

One run of the interpreter under callgrind decides every request ``--calls`` times after a
warm-up; a call of ``os.getppid`` (a C function nothing else here calls) before and after each
batch makes callgrind write its counts so far and start again (``--dump-before``), so each batch's
instructions are in a file of their own. Each figure is that batch's count over its calls.

    .venv/bin/python benchmarks/engine_instructions.py [--calls 200]

Needs valgrind (``scripts/setup --system`` installs it).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import medpolicy

_MARK = "os_getppid"  # the C function behind os.getppid, where callgrind dumps


def measured(calls: int) -> None:
    """Run under callgrind: each batch between two marks; its name printed, in order."""
    from engine_throughput import EXAMPLE, REPO, bare_check, varied

    from medpolicy.adapters.native import parse_request
    from medpolicy.engine.decide import decide
    from medpolicy.policy.registry import PolicyRegistry

    policy = PolicyRegistry.load_dir(REPO / "policies").get("09-J1000-90")
    assert policy is not None
    codes = policy.value_sets["breast_cancer"].codes
    request = parse_request(EXAMPLE.read_bytes())
    approvals = varied(64)
    next_decided, next_checked = itertools.cycle(approvals).__next__, itertools.cycle(approvals)
    batches: dict[str, Callable[[], object]] = {
        "bare": lambda: bare_check(request, codes),
        "approval": lambda: decide(policy, request),
        "varied": lambda: decide(policy, next_decided()),
        "varied bare": lambda: bare_check(next(next_checked), codes),
    }
    for path in sorted((REPO / "examples" / "requests").glob("*.json")):
        r = parse_request(path.read_bytes())
        outcome = decide(policy, r).outcome.value
        batches[f"example {path.stem} {outcome}"] = functools.partial(decide, policy, r)
    names = []
    for name, fn in batches.items():
        count = calls - calls % 64 if name.startswith("varied") else calls
        for _ in range(max(count // 10, 64)):  # warm: caches filled as in a long-running service
            fn()
        os.getppid()
        for _ in range(count):
            fn()
        os.getppid()
        names.append(f"{name}\t{count}")
    print("\n".join(names))


def counts(calls: int) -> dict[str, float]:
    """Instructions per call of each batch, from one run under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        run = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--dump-before={_MARK}",
                "--dump-instr=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                "--calls",
                str(calls),
            ],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            check=True,
        )
        dumps = sorted(Path(tmp).glob("cg.out.*"), key=lambda p: int(p.suffix[1:]))
        totals = [_total(p) for p in dumps]
    batches = [line.split("\t") for line in run.stdout.splitlines() if "\t" in line]
    # dumps: up to the first mark, then each batch and the gap before the next, alternately
    assert len(totals) == 2 * len(batches), (len(totals), len(batches))
    return {name: totals[1 + 2 * i] / int(n) for i, (name, n) in enumerate(batches)}


def _total(dump: Path) -> int:
    found = re.search(r"^summary:\s*(\d+)", dump.read_text(), re.MULTILINE)
    assert found is not None, dump
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measured(args.calls)
        return
    if shutil.which("valgrind") is None:
        sys.exit("engine_instructions: valgrind is needed (scripts/setup --system installs it)")
    per_call = counts(args.calls)
    bare = per_call["bare"]
    print(f"engine modules: {medpolicy.COMPILED} (see medpolicy._compiled)")
    print(f"{'bare hand-written check':54s} {bare / 1e3:8.1f}k instructions/call")
    print(f"{'full decision, one approval':54s} {per_call['approval'] / bare:8.1f}x bare")
    varied = per_call["varied"] / per_call["varied bare"]
    print(f"{'full decision, 64 varied approvals':54s} {varied:8.1f}x bare")
    examples = {
        name.split()[1]: (name.split()[2], v / bare)  # "example <stem> <outcome>"
        for name, v in per_call.items()
        if name.startswith("example ")
    }
    print("\nevery example request, decided")
    for name, (outcome, ratio) in examples.items():
        print(f"  {name:52s} {outcome:20s} {ratio:6.1f}x bare")
    print()
    for label, ratio, bar in (
        ("approval, one request", per_call["approval"] / bare, 15),
        ("approvals, 64 varied", varied, 15),
        ("slowest approved example", max(r for o, r in examples.values() if o == "approved"), 15),
        ("slowest other example", max(r for o, r in examples.values() if o != "approved"), 30),
    ):
        verdict = "within" if ratio <= bar else "OVER"
        print(f"instructions full/bare, {label}: {ratio:.1f}x (bar {bar}x, timed): {verdict}")


if __name__ == "__main__":
    main()
