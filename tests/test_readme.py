"""The README's commands are true: the quick start runs, and every documented command works."""

from __future__ import annotations

import os
import re
import subprocess

from tests.support import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", README, flags=re.S)
    return [
        line[2:].split("  #")[0].strip()
        for b in blocks
        for line in b.splitlines()
        if line.startswith("$ ")
    ]


def test_quick_start_is_exactly_two_commands_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = re.findall(r"```console\n(.*?)```", quick, flags=re.S)
    assert len(block) == 1
    commands = [line[2:].split("#")[0].strip() for line in block[0].splitlines()]
    assert commands == ["./scripts/run", "./scripts/test"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^scripts/test\b", ci, flags=re.M)


def test_main_job_runs_and_prints_decisions() -> None:
    out = subprocess.run(
        [str(REPO / "scripts" / "run")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "51 of 51 numbered clauses covered." in out.stdout
    for outcome in ("APPROVED", "MISSING INFORMATION", "CRITERIA NOT MET", "OUT OF SCOPE"):
        assert outcome in out.stdout


def test_every_documented_command_runs() -> None:
    commands = [c for c in _commands() if not c.startswith("./scripts/")]
    assert len(commands) >= 6
    env = {**os.environ, "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}"}
    for command in commands:
        out = subprocess.run(
            command,
            shell=True,
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
            check=False,
            env=env,
        )
        assert out.returncode == 0, f"{command}: {out.stderr[-1000:]}"
