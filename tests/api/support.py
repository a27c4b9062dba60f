"""What the service tests share: requests for each outcome, databases, a real server process.

Imported by ``tests/api``, ``tests/store``, ``tests/web`` and ``tests/reliability``.
"""

from __future__ import annotations

import copy
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql

from tests.support import REPO

PG_ADMIN_URLS = (
    os.environ.get("MEDPOLICY_TEST_PG", "postgresql://root@127.0.0.1:5432/test"),
    "postgresql://postgres@127.0.0.1:5432/postgres",
)

_BASE: dict[str, Any] = {
    "request_id": "PA-T-0001",
    "submitted_at": "2026-11-02T14:30:00Z",
    "request_type": "initiation",
    "urgency": "standard",
    "member": {
        "id": "M7730412",
        "birth_date": "1968-03-14",
        "line_of_business": "commercial",
        "organization": "tampa-oncology",
    },
    "medication": {
        "hcpcs": "J9354",
        "drug": "ado-trastuzumab emtansine",
        "dose": {"value": "3.6", "unit": "mg/kg"},
        "interval_days": 21,
        "start_date": "2026-11-09",
        "line_of_therapy": 2,
        "concurrent_anticancer_drugs": [],
    },
    "indications": ["breast_cancer"],
    "diagnoses": ["C50.912"],
    "disease_extent": ["metastatic"],
    "body_weight": {"value": "68.5", "unit": "kg", "date": "2026-10-30"},
    "her2": {"ihc": [{"score": "3+", "date": "2026-09-18", "specimen_id": "S26-4471"}], "ish": []},
    "prior_therapies": [
        {
            "drug": "trastuzumab",
            "start_date": "2025-01-10",
            "end_date": "2026-08-01",
            "line": 1,
            "reason_stopped": "progression",
        }
    ],
}

# Values that must never appear in a log line (member identifier and clinical values).
SENSITIVE = ("M7730412", "1968-03-14", "C50.912", "68.5", "S26-4471")


def approved_request(request_id: str | None = None, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(_BASE)
    data["request_id"] = request_id or f"PA-{uuid.uuid4().hex[:10]}"
    data.update(changes)
    return data


def missing_information_request(request_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """No HER2 results: the breast-cancer pathway could still be met, so the engine pends."""
    data = approved_request(request_id, **changes)
    data.pop("her2", None)
    return data


HER2_DATA = {"her2": _BASE["her2"]}


def not_met_request(request_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """HER2-negative by IHC and ISH: not met, routed to a reviewer."""
    data = approved_request(request_id, **changes)
    data["her2"] = {
        "ihc": [{"score": "1+", "date": "2026-09-18"}],
        "ish": [{"ratio": "1.2", "copy_number": "2.1", "date": "2026-09-18"}],
    }
    return data


def out_of_scope_request(request_id: str | None = None) -> dict[str, Any]:
    data = approved_request(request_id)
    data["member"]["line_of_business"] = "fep"
    return data


# -- PostgreSQL ---------------------------------------------------------------------------------


def _admin_connection() -> psycopg.Connection[Any] | None:
    for url in PG_ADMIN_URLS:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=3)
        except psycopg.Error:
            continue
    return None


def drop_database(url: str) -> None:
    """Drop a test database now, closing its connections (``pg_database`` tolerates it)."""
    admin = _admin_connection()
    assert admin is not None
    with admin:
        name = url.rsplit("/", 1)[1]
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def pg_available() -> bool:
    conn = _admin_connection()
    if conn is None:
        return False
    conn.close()
    return True


@contextmanager
def pg_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test run; dropped afterwards."""
    admin = _admin_connection()
    if admin is None:
        raise RuntimeError("PostgreSQL is not reachable at 127.0.0.1:5432")
    name = f"medpolicy_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        info = admin.info
        try:
            yield f"postgresql://{info.user}@{info.host}:{info.port}/{name}"
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


# -- a real server process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def medpolicy_command() -> list[str]:
    script = Path(sys.executable).with_name("medpolicy")
    if script.exists():
        return [str(script)]
    found = shutil.which("medpolicy")
    if found:
        return [found]
    return [sys.executable, "-c", "from medpolicy.cli import main; main()"]


class Server:
    """``medpolicy serve`` as a child process on a free loopback port."""

    def __init__(self, database_url: str, log_path: Path, *extra: str) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Server:
        log = self.log_path.open("ab")
        env = {**os.environ, "MEDPOLICY_POLICIES": str(REPO / "policies")}
        self.process = subprocess.Popen(
            [
                *medpolicy_command(),
                "serve",
                "--port",
                str(self.port),
                "--database",
                self.database_url,
                "--log-level",
                "warning",
                *self.extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start: {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


@contextmanager
def running_server(database_url: str, log_path: Path, *extra: str) -> Iterator[Server]:
    server = Server(database_url, log_path, *extra).start()
    try:
        yield server
    finally:
        server.stop()
