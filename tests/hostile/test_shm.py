"""An unwritable SQLite -shm file must not kill ``medpolicy serve`` silently.

SQLite writes its WAL index through a memory mapping of the -shm file: made immutable under a
running server (``chattr +i``), the next write through the mapping was a SIGBUS (exit 135, no log
line). Now the store refuses to touch the file while it is unusable (503 with Retry-After, the
server not ready, one error line naming the file), comes back when it is fixed, and shuts down
cleanly either way."""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from medpolicy.store import Role, TokenStore, open_store
from tests.api.support import Server, approved_request
from tests.hostile.conftest import count, record
from tests.support import unavailable


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    chattr = shutil.which("chattr")
    if chattr is None:
        unavailable("chattr (e2fsprogs) is not installed")
    made = subprocess.run([chattr, "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        unavailable(f"this file system cannot make a file immutable: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def test_an_unwritable_shm_file_is_a_503_not_a_dead_process(tmp_path: Path) -> None:
    database = tmp_path / "cases.db"
    url = f"sqlite:///{database}"
    store = open_store(url)
    token, _ = TokenStore(store).create(Role.provider, name="Tampa", organization="tampa-oncology")
    store.close()
    log = tmp_path / "server.log"
    server = Server(url, log).start()
    figures: dict[str, object] = {}
    try:
        client = httpx.Client(
            base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

        def call(method: str, path: str, **kw: object) -> httpx.Response:
            response = client.request(method, path, **kw)  # type: ignore[arg-type]
            count("sqlite", response.status_code, by_design_503=True)
            return response

        first = call("POST", "/api/v1/cases", json=approved_request())
        assert first.status_code == 201
        shm = Path(f"{database}-shm")
        assert shm.exists()
        with immutable(shm):
            answers = [call("POST", "/api/v1/cases", json=approved_request()) for _ in range(3)]
            answers.append(call("GET", f"/api/v1/cases/{first.json()['id']}"))
            health = call("GET", "/health")
            live = call("GET", "/health/live")
            assert server.process is not None and server.process.poll() is None, "still alive"
            for response in answers:
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "5"
            assert "shared-memory file was made immutable" in answers[0].text
            assert health.status_code == 503 and health.json()["ready"] is False
            assert "immutable" in health.json()["store"]["state"]
            assert live.status_code == 200
            figures["while the -shm file was immutable"] = sorted(
                {r.status_code for r in [*answers, health]}
            )
        again = call("POST", "/api/v1/cases", json=approved_request())
        assert again.status_code == 201, again.text
        assert call("GET", "/health").status_code == 200
        figures["once it was writable again"] = again.status_code
        # Shutting down while the file is unusable: the connections are left to the exit
        # (closing the last one would write to the file), and the process exits cleanly.
        with immutable(shm):
            assert call("POST", "/api/v1/cases", json=approved_request()).status_code == 503
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            code = server.process.wait(timeout=60)
        # Stopped by the SIGTERM (uvicorn re-raises it once shut down), not by a SIGBUS.
        assert code in (0, -signal.SIGTERM), (code, log.read_text()[-3000:])
        figures["exit code when stopped while it was immutable"] = code
    finally:
        server.stop()
    text = log.read_text()
    assert f"the SQLite shared-memory file {database}-shm was made immutable" in text
    assert "case store available again" in text
    assert "Bus error" not in text
    record("shm_unwritable", figures)
