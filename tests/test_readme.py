"""The README's commands are true: the quick start runs, and every documented command works."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

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
    block = re.findall(r"```console\n(.*?)```", quick, flags=re.S)[0]
    commands = [line[2:].split("#")[0].strip() for line in block.splitlines()]
    assert commands == ["./scripts/run", "./scripts/test"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^scripts/test\b", ci, flags=re.M)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_main_job_starts_the_service_and_says_where_it_is(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "MEDPOLICY_DATA": str(tmp_path)}
    env.pop("MEDPOLICY_DATABASE_URL", None)
    process = subprocess.Popen(
        [str(REPO / "scripts" / "run"), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        seen = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "Uvicorn running on" in line:
                break
        printed = "".join(seen)
        assert f"http://127.0.0.1:{port}/docs" in printed, printed[-2000:]
        assert f"http://127.0.0.1:{port}/review/" in printed
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=10) as r:
            assert json.load(r)["info"]["title"]
        assert (tmp_path / "medpolicy.db").exists()  # the embedded SQLite store
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_every_documented_command_runs(tmp_path: Path) -> None:
    commands = [c for c in _commands() if not c.startswith("./scripts/")]
    assert len(commands) >= 10
    env = {
        **os.environ,
        "PATH": f"{REPO / '.venv' / 'bin'}:{os.environ['PATH']}",
        "MEDPOLICY_DATA": str(tmp_path),
    }
    env.pop("MEDPOLICY_DATABASE_URL", None)
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


def test_every_request_the_readme_shows_is_read_and_decided() -> None:
    """Each JSON request in the README (the clinical record, and any in the earlier format) is a
    valid request, decided without error."""
    from medpolicy.adapters.native import parse_any
    from medpolicy.policy.registry import PolicyRegistry
    from medpolicy.service import evaluate_request

    registry = PolicyRegistry.load_dir(REPO / "policies")
    blocks = re.findall(r"```json\n(.*?)```", README, flags=re.S)
    requests = [json.loads(b) for b in blocks if '"request_id"' in b]
    assert requests
    for data in requests:
        assert evaluate_request(registry, parse_any(data)).outcome.value == "approved"
