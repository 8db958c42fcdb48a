"""The send ledger: an append-only, fsynced journal of every message's life, the sender's only memory.

A run's messages are split into shards by message id. A sender works on a shard only while it holds the
shard's lock (``flock``: the kernel releases it when the process dies, so a killed sender never leaves a
stale lock), and it is then the only writer of the shard's journal. Two senders on one run therefore never
touch the same message, and a restarted sender reads the journal to know where it stood.

    warehouse/ledger/<run_id>/
    ├── plan.json             shard count, fixed by the first sender of the run
    ├── control.jsonl         pause / resume / cancel, appended by operators
    ├── shard-007.lock        held while a sender works on shard 7
    └── shard-007.jsonl       one JSON line per state change of a message of shard 7

A message goes ``claimed`` (written and fsynced *before* the provider call) → ``accepted`` | ``failed`` |
``unknown`` | ``released``; or straight to ``skipped`` (opted out or quarantined since preparation).
``released`` means "surely not sent" (the provider refused the whole account, or a lookup found nothing) and
lets a later attempt claim it again. A ``claimed`` line with nothing after it means the sender stopped during
the call: the message becomes ``unknown`` and is never sent blindly again; it is settled by a provider lookup
or, later, by provider events. The journal is JSON lines, so dbt and DuckDB read it as a source with
``read_json`` while senders append: no lock on either side.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from herald import clock
from herald.project import Project
from senders.errors import LedgerError

_json_string: Callable[[str], str] = json.encoder.encode_basestring

State = Literal["claimed", "accepted", "failed", "unknown", "released", "skipped"]
SETTLED: frozenset[str] = frozenset({"accepted", "failed", "skipped"})
WRITER = f"{socket.gethostname()}:{os.getpid()}"


def message_id(run_id: str, recipient_id: str, channel: str) -> str:
    """The one id of the message of ``run_id`` to ``recipient_id`` over ``channel``: the same in every process
    and on every restart, and free of personal data (it travels to the provider)."""
    digest = hashlib.sha256(f"{run_id}\x1f{recipient_id}\x1f{channel}".encode()).hexdigest()
    return f"m{digest[:31]}"


def shard_of(msg_id: str, shards: int) -> int:
    return int(msg_id[1:9], 16) % shards


def now() -> str:
    """The time of an entry, as the journal writes it (UTC, microseconds). Entries written together may share it."""
    return clock.now().isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the journal."""

    message_id: str
    state: State
    attempt: int
    run_id: str
    recipient_id: str = ""
    profile_id: str = ""
    channel: str = ""
    delivery_id: str = ""
    content_hash: str = ""
    provider_id: str = ""
    reason: str = ""
    at: str = field(default_factory=now)
    writer: str = WRITER

    def line(self) -> bytes:
        """The entry as one JSON line: exactly ``json.dumps(self.as_dict(), separators=(",", ":"),
        ensure_ascii=False)`` and a newline (the field names, order and types are what dbt reads), written out
        field by field with the JSON string encoder, several times faster."""
        q = _json_string
        return (
            f'{{"message_id":{q(self.message_id)},"state":{q(self.state)},"attempt":{int(self.attempt)}'
            f',"run_id":{q(self.run_id)},"recipient_id":{q(self.recipient_id)},"profile_id":{q(self.profile_id)}'
            f',"channel":{q(self.channel)},"delivery_id":{q(self.delivery_id)},"content_hash":{q(self.content_hash)}'
            f',"provider_id":{q(self.provider_id)},"reason":{q(self.reason)},"at":{q(self.at)}'
            f',"writer":{q(self.writer)}}}\n'
        ).encode()

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__slots__}

    def follow(
        self,
        state: State,
        *,
        attempt: int | None = None,
        provider_id: str | None = None,
        reason: str | None = None,
        at: str | None = None,
    ) -> Entry:
        """The message's next entry, written by this process: the same message, recipient and delivery, in
        ``state``; what is not given is kept from this entry."""
        return Entry(
            message_id=self.message_id,
            state=state,
            attempt=self.attempt if attempt is None else attempt,
            run_id=self.run_id,
            recipient_id=self.recipient_id,
            profile_id=self.profile_id,
            channel=self.channel,
            delivery_id=self.delivery_id,
            content_hash=self.content_hash,
            provider_id=self.provider_id if provider_id is None else provider_id,
            reason=self.reason if reason is None else reason,
            at=now() if at is None else at,
        )


def run_dir(project: Project, run_id: str) -> Path:
    if not run_id or "/" in run_id or run_id.startswith("."):
        raise LedgerError(f"not a run id: {run_id!r}")
    return project.ledger_dir / run_id


def ledger_glob(project: Project) -> str:
    """The files dbt and DuckDB read as the ledger source."""
    return str(project.ledger_dir / "*" / "shard-*.jsonl")


def shard_count(project: Project, run_id: str, proposed: int) -> int:
    """The run's shard count: the first sender fixes it (atomically); every later one reads it."""
    folder = run_dir(project, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    plan = folder / "plan.json"
    if not plan.exists():
        tmp = folder / f".plan.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"run_id": run_id, "shards": proposed}), encoding="utf-8")
        try:
            os.link(tmp, plan)  # atomic create-if-absent: the loser of a race reads the winner's plan
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        return int(json.loads(plan.read_text(encoding="utf-8"))["shards"])
    except (ValueError, KeyError, TypeError) as exc:
        raise LedgerError(f"{plan} is damaged: {exc}") from exc


class Shard:
    """One shard's journal, open for writing while its lock is held. Use as a context manager."""

    def __init__(self, project: Project, run_id: str, index: int) -> None:
        folder = run_dir(project, run_id)
        folder.mkdir(parents=True, exist_ok=True)
        self.run_id = run_id
        self.index = index
        self.path = folder / f"shard-{index:03d}.jsonl"
        self._lock_path = folder / f"shard-{index:03d}.lock"
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self.last: dict[str, Entry] = {}  # message id → its latest entry

    # ------------------------------------------------------------------ locking

    def try_lock(self, *, wait: bool = False) -> bool:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        self._open()
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Shard:
        return self

    def held(self) -> AbstractContextManager[Shard]:
        """The shard for one step of the exactly-once protocol (``senders.exactly_once.Journal``): a sender holds
        its lock for the whole job, so a step takes nothing more."""
        return contextlib.nullcontext(self)

    def latest(self, message_id: str) -> Entry | None:
        return self.last.get(message_id)

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _open(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        data = _read_all(fd)
        end = data.rfind(b"\n") + 1
        if end < len(data):  # a write torn by a kill: the lines before it are whole, drop the fragment
            os.ftruncate(fd, end)
            os.fsync(fd)
        self.last = {e.message_id: e for e in _parse(data[:end], self.path)}
        self._fd = fd

    # ------------------------------------------------------------------ writing

    def append(self, entries: Iterable[Entry], *, sync: bool = True) -> None:
        """Append ``entries`` in one write; with ``sync`` they are on disk when this returns."""
        if self._fd is None:
            raise LedgerError(f"shard {self.index} of {self.run_id} is not locked by this process")
        batch = list(entries)
        if not batch:
            return
        data = b"".join(e.line() for e in batch)
        written = os.write(self._fd, data)
        if written != len(data):
            raise LedgerError(f"short write to {self.path}: {written} of {len(data)} bytes")
        if sync:
            os.fsync(self._fd)
        for e in batch:
            self.last[e.message_id] = e

    def sync(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)


def _read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(data: bytes, path: Path) -> Iterator[Entry]:
    for number, raw in enumerate(data.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            yield Entry(**json.loads(raw))
        except (ValueError, TypeError) as exc:
            raise LedgerError(f"{path}, line {number}: not a ledger entry ({exc})") from exc


def read_run(project: Project, run_id: str) -> dict[str, Entry]:
    """The latest entry of every message of the run, read without any lock (a torn last line is ignored)."""
    latest: dict[str, Entry] = {}
    folder = run_dir(project, run_id)
    for path in sorted(folder.glob("shard-*.jsonl")):
        data = path.read_bytes()
        data = data[: data.rfind(b"\n") + 1]
        for entry in _parse(data, path):
            latest[entry.message_id] = entry
    return latest


def read_shard(project: Project, run_id: str, index: int) -> dict[str, Entry]:
    """The latest entry of every message of one shard, read without any lock (a torn last line is ignored)."""
    path = run_dir(project, run_id) / f"shard-{index:03d}.jsonl"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    return {e.message_id: e for e in _parse(data[: data.rfind(b"\n") + 1], path)}


def read_history(project: Project, run_id: str) -> list[Entry]:
    """Every entry of the run, in journal order per shard (for "what happened to this message")."""
    out: list[Entry] = []
    for path in sorted(run_dir(project, run_id).glob("shard-*.jsonl")):
        data = path.read_bytes()
        out.extend(_parse(data[: data.rfind(b"\n") + 1], path))
    return out


# ---------------------------------------------------------------------- run control: pause, resume, cancel

ControlState = Literal["active", "paused", "cancelled"]


@dataclass(frozen=True, slots=True)
class Control:
    state: ControlState
    by: str = ""
    reason: str = ""
    at: str = ""


def set_control(project: Project, run_id: str, state: ControlState, *, by: str, reason: str = "") -> Control:
    current = control(project, run_id)
    if current.state == "cancelled" and state != "cancelled":
        raise LedgerError(f"run {run_id} was cancelled by {current.by or '?'}; a cancelled run cannot resume")
    entry = Control(state, by, reason, clock.now().isoformat(timespec="seconds"))
    folder = run_dir(project, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / "control.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (json.dumps(_control_dict(entry)) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def _control_dict(c: Control) -> Mapping[str, str]:
    return {"state": c.state, "by": c.by, "reason": c.reason, "at": c.at}


def control(project: Project, run_id: str) -> Control:
    path = run_dir(project, run_id) / "control.jsonl"
    if not path.exists():
        return Control("active")
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    last: Control = Control("active")
    for ln in lines:
        try:
            d = json.loads(ln)
            last = Control(d["state"], d.get("by", ""), d.get("reason", ""), d.get("at", ""))
        except (ValueError, KeyError):
            continue  # a torn last line: the previous state stands
    return last
