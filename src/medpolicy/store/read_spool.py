"""The read audit's spool: views recorded beside a locked SQLite database, chained later.

SQLite has one write lock for the whole file. While another process holds it, a view's audit
row cannot be committed, yet the view must be recorded (45 CFR 164.312(b)) and reads must keep
answering. So the view is appended to this file instead, one JSON line each, and the file is
fsync'd before the view is answered. The next read-audit commit (a later view, the server's
start, ``medpolicy audit verify`` or ``audit reads``) chains what the spool holds, in order,
then empties it (``ReadLog``).

- Each line names a unique ``id`` that is stored with its chained row (``read_events.spool_id``,
  unique): a crash after the commit but before the spool was emptied leaves lines that are
  already chained, and the next drain skips them, so no view is recorded twice.
- Each line carries the SHA-256 of its own fields: a malformed or edited line is reported by
  ``audit verify`` and ``audit reads`` and kept in the spool, never chained nor dropped.
- Writers (threads of this process and other processes) exclude each other with ``flock`` on
  the spool file, taken per open file, so threads of one process exclude each other too. A
  drain takes it only after the database's write lock, and an appender never holds the
  database's lock: no deadlock.
- The file is created readable by its owner only: it names readers and cases.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from medpolicy.store.audit import sha256_text

__all__ = ["SPOOL_SUFFIX", "ReadSpool", "SpoolContents", "Spooled", "spool_beside"]

# The spool of the database at ``cases.db`` is ``cases.db.read-spool.jsonl``.
SPOOL_SUFFIX = ".read-spool.jsonl"
_FIELDS = ("id", "case_id", "reader", "actor_json", "route", "at")


def spool_beside(database: str | None) -> ReadSpool | None:
    """The spool of the SQLite database file ``database`` (None for an in-memory database)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return ReadSpool(Path(database))


@dataclass(frozen=True)
class Spooled:
    """One view waiting in the spool."""

    id: str  # unique (a UUID's hex), stored with the chained row as ``spool_id``
    case_id: str
    reader: str
    actor_json: str
    route: str
    at: str

    def digest(self) -> str:
        values = [getattr(self, name) for name in _FIELDS]
        return sha256_text(json.dumps(values, separators=(",", ":"), ensure_ascii=False))

    def line(self) -> bytes:
        values = {name: getattr(self, name) for name in _FIELDS} | {"sha256": self.digest()}
        return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


@dataclass
class SpoolContents:
    """What the spool holds: its views in order, and each line that is not one (kept as is)."""

    entries: list[Spooled] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    bad_lines: list[bytes] = field(default_factory=list)


class ReadSpool:
    """The spool of the SQLite database file ``database`` (created by the first ``append``)."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = Path(f"{database}{SPOOL_SUFFIX}")

    def append(self, entry: Spooled) -> None:
        """Append ``entry`` and fsync it (and the directory, when the file was empty), so that
        it survives a crash once this returns; ``OSError`` when it cannot be written."""
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            was_empty = os.fstat(fd).st_size == 0
            data = entry.line()
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the lock
        if was_empty:
            _fsync_directory(self.path.parent)

    def read(self) -> SpoolContents:
        """The spool's contents now (under a shared lock, so never a half-written line)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return SpoolContents()
        except OSError as exc:
            return self._unusable(exc)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            data = _read_all(fd)
        except OSError as exc:  # e.g. the path is a directory
            return self._unusable(exc)
        finally:
            os.close(fd)
        return _parse(data)

    @contextmanager
    def draining(self) -> Iterator[SpoolContents]:
        """Hold the spool locked and yield its contents; when the block ends without an error
        (the caller has committed them), empty it but for its bad lines."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            yield SpoolContents()
            return
        except OSError as exc:  # its views wait there; the chain goes on without them
            yield self._unusable(exc)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            contents = _parse(_read_all(fd))
            yield contents
            if contents.entries:
                # The commit that chained them may be in the WAL unsynced (synchronous=NORMAL):
                # sync it first, so that emptying the spool never loses a view to a power loss.
                _fsync_if_present(Path(f"{self.database}-wal"))
                os.ftruncate(fd, 0)
                kept = b"".join(contents.bad_lines)
                if kept:
                    os.pwrite(fd, kept, 0)
                os.fsync(fd)
        finally:
            os.close(fd)

    def _unusable(self, exc: OSError) -> SpoolContents:
        return SpoolContents(problems=[f"read spool {self.path}: cannot be read ({exc.strerror})"])


def _read_all(fd: int) -> bytes:
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _parse(data: bytes) -> SpoolContents:
    contents = SpoolContents()
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        entry, problem = _entry(line)
        if entry is not None:
            contents.entries.append(entry)
        else:
            contents.problems.append(f"read spool line {number}: {problem}; kept in the spool")
            contents.bad_lines.append(line if line.endswith(b"\n") else line + b"\n")
    return contents


def _entry(line: bytes) -> tuple[Spooled | None, str]:
    """The view a line records, or None and what is wrong with it."""
    if not line.endswith(b"\n"):
        return None, "cut short (no end of line)"
    try:
        values = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, "not JSON (malformed)"
    if (
        not isinstance(values, dict)
        or set(values) != {*_FIELDS, "sha256"}
        or not all(isinstance(v, str) for v in values.values())
    ):
        return None, "not a recorded view (malformed)"
    entry = Spooled(**{name: values[name] for name in _FIELDS})
    if entry.digest() != values["sha256"]:
        return None, "its contents do not match its digest (edited)"
    try:
        actor = json.loads(entry.actor_json)
    except json.JSONDecodeError:
        actor = None
    if not isinstance(actor, dict) or actor.get("name") != entry.reader:
        return None, "reader is not the actor's name (malformed)"
    return entry, ""


def _fsync_if_present(path: Path) -> None:
    """fsync the file at ``path`` (SQLite takes no lock on a -wal file, so closing this
    descriptor releases none of its locks)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
