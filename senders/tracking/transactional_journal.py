"""Transactional messages in the send ledger: one run per message type per UTC day, the bulk runs' layout.

    warehouse/ledger/tx-<event>-<yyyymmdd>/
    ├── plan.json          shard count (``senders.ledger.shard_count``)
    ├── shard-007.lock     flock, held only while a message's entry is checked and its claim appended
    └── shard-007.jsonl    ``senders.ledger.Entry`` lines: claimed (fsynced before the provider call), then
                           accepted | failed | unknown | released | skipped

The lines are the bulk sender's, so dbt's ledger source, the consent pages' message lookup and provider events
(which carry ``message_id`` and ``run_id``) see transactional messages like any other. Unlike a bulk sender, which
holds a shard's lock for the whole job, a server takes it per request and for microseconds: several requests and
several server processes share a shard. A shard's lines are read once and then only from where the last read
stopped, so checking a message costs the same on a day's first request and on its millionth.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from herald.project import Project
from senders import ledger
from senders.errors import LedgerError

SHARDS = 16


def run_id(event: str, day: dt.date) -> str:
    return f"tx-{event}-{day:%Y%m%d}"


@dataclass
class _ShardIndex:
    """What this process has read of one shard file: how far, and every message's latest entry."""

    offset: int = 0
    inode: int = 0
    latest: dict[str, ledger.Entry] = field(default_factory=dict)


class LockedShard:
    """One shard while its lock is held: the message's latest entry, and appends (fsynced)."""

    def __init__(self, path: Path, index: _ShardIndex) -> None:
        self.path = path
        self._index = index

    def latest(self, message_id: str) -> ledger.Entry | None:
        return self._index.latest.get(message_id)

    def append(self, entries: Iterable[ledger.Entry], *, sync: bool = True) -> None:
        """Write ``entries`` in one write; with ``sync`` they are on disk when this returns."""
        data = b"".join(e.line() for e in entries)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise LedgerError(f"short write to {self.path}: {written} of {len(data)} bytes")
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)


class TransactionalJournal:
    """The ledger runs of transactional messages of one project; thread-safe, shared by a server's requests."""

    def __init__(self, project: Project, *, shards: int = SHARDS) -> None:
        self.project = project
        self.proposed_shards = shards
        self._plans: dict[str, int] = {}
        self._indexes: dict[Path, _ShardIndex] = {}
        self._guard = threading.Lock()

    def shards(self, run: str) -> int:
        with self._guard:
            known = self._plans.get(run)
        if known is None:
            known = ledger.shard_count(self.project, run, self.proposed_shards)
            with self._guard:
                self._plans[run] = known
        return known

    def existing(self, run: str) -> bool:
        return (ledger.run_dir(self.project, run) / "plan.json").exists()

    def book(self, run: str, message_id: str) -> MessageBook:
        """One message's place in ``run``, as the exactly-once protocol writes it (``senders.exactly_once``)."""
        return MessageBook(self, run, message_id)

    @contextmanager
    def locked(self, run: str, message_id: str) -> Iterator[LockedShard]:
        """Hold the lock of the message's shard of ``run`` (blocking; released by the kernel if we die)."""
        index_no = ledger.shard_of(message_id, self.shards(run))
        folder = ledger.run_dir(self.project, run)
        path = folder / f"shard-{index_no:03d}.jsonl"
        fd = os.open(folder / f"shard-{index_no:03d}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self._guard:
                index = self._indexes.setdefault(path, _ShardIndex())
            _catch_up(path, index)
            yield LockedShard(path, index)
        finally:
            os.close(fd)  # closing drops the flock

    def forget_before(self, day: dt.date) -> None:
        """Drop what was read of runs older than ``day`` (they are no longer looked at)."""
        cutoff = f"{day:%Y%m%d}"
        with self._guard:
            for path in [p for p in self._indexes if p.parent.name.rsplit("-", 1)[-1] < cutoff]:
                del self._indexes[path]


class MessageBook:
    """One message's shard of a transactional run (a ``senders.exactly_once.Journal``): each step of the protocol
    holds the shard's lock only while it reads and appends, never during the provider call."""

    def __init__(self, journal: TransactionalJournal, run: str, message_id: str) -> None:
        self.journal, self.run, self.message_id = journal, run, message_id

    def held(self) -> AbstractContextManager[LockedShard]:
        return self.journal.locked(self.run, self.message_id)


def _catch_up(path: Path, index: _ShardIndex) -> None:
    """Read the lines appended since the last read. Called with the shard's lock held, so no writer is mid-line:
    a last line without its newline is what a killed writer left, never acknowledged: cut it off."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        stat = os.fstat(fd)
        if stat.st_ino != index.inode or stat.st_size < index.offset:
            index.offset, index.inode, index.latest = 0, stat.st_ino, {}
        if stat.st_size == index.offset:
            return
        os.lseek(fd, index.offset, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        data = b"".join(chunks)
        end = data.rfind(b"\n") + 1
        if end < len(data):
            os.ftruncate(fd, index.offset + end)
            os.fsync(fd)
        for number, raw in enumerate(data[:end].splitlines(), 1):
            if not raw.strip():
                continue
            try:
                entry = ledger.Entry(**json.loads(raw))
            except (ValueError, TypeError) as exc:
                raise LedgerError(f"{path}: a line after byte {index.offset} (#{number}) is not an entry") from exc
            index.latest[entry.message_id] = entry
        index.offset += end
    finally:
        os.close(fd)
