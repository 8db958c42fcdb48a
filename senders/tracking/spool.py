"""The event spool: where an accepted webhook or callback is made durable before it is acknowledged.

    warehouse/spool/
    ├── <table>/<segment>.jsonl                  one line per accepted request: a JSON array of events
    ├── <table>/<segment>.<batch>.compacting     a sealed segment being landed as landing batch <batch>
    ├── <table>/.compact.lock                    one compactor per table at a time (flock)
    ├── <table>/.seal                            rewritten by ``flush``: writers seal their open segment
    └── rejects/<table>/<batch>.jsonl            events that could not become rows, with position and reason

``<table>`` is a raw table (``esp_events``, ``channel_events``); ``<segment>`` is
``<UTC time>-<pid>-<n>`` so segments sort by age.

Writing (``SegmentWriter``): one thread per table appends lines to its open segment and acknowledges a request
only after ``fdatasync``. Requests that arrive while a sync runs wait for the next one and share it (group
commit), so the sync count follows the disk, not the request rate. The open segment is ``flock``ed by its writer
and appears under its name only once locked; it is sealed (closed, hence unlocked) when it reaches
``roll_bytes`` or ``roll_seconds``, and when the writer stops. A line is written whole before its sync, so after
a crash the only possible damage is an incomplete last line, which was never acknowledged.

Compacting (``compact``): every sealed segment (one no writer holds) becomes rows through
``senders.tracking.normalize`` and lands with ``herald.landing.land_batch``. Crash-safe and idempotent: the
segments are first renamed to ``<segment>.<batch>.compacting`` (one ``rename`` each, synced), then the batch
lands under that id, then the segments are deleted. A compactor that finds ``.compacting`` files checks whether
batch ``<batch>`` is in the landing zone: if so it only deletes them, if not it lands them under a new id. So a
segment lands exactly once and never under an id older than the builds that could have missed it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import json
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from herald import clock
from herald.files import fsync_dir, write_atomic
from herald.landing import BatchCounts, arrow_schema, land_batch, new_batch_id, table_dir
from herald.project import Project
from herald.raw_schema import CHANNEL_EVENTS, ESP_EVENTS, RawTable
from senders.errors import TrackingError
from senders.tracking.normalize import Reject, Row, channel_row, sendgrid_row

SEGMENT_SUFFIX = ".jsonl"
COMPACTING_SUFFIX = ".compacting"
DEFAULT_ROLL_BYTES = 64 << 20
DEFAULT_ROLL_SECONDS = 5.0
MAX_GROUP_BYTES = 32 << 20  # one sync covers at most this much, so a burst cannot hold early requests long
MAX_BATCH_BYTES = 256 << 20  # spool bytes per landing batch (memory bound of one compaction step)
SEAL_REQUEST = ".seal"
SEAL_POLL_SECONDS = 0.1  # how soon a writer honours a flush (one stat per poll: cheap, even when idle)
DEFAULT_FLUSH_WAIT = 10.0  # longer than a writer that does not poll (an older server) takes to roll by age

Normalizer = Callable[[Any, str], "Row | Reject"]
SPOOLED: dict[str, tuple[RawTable, Normalizer]] = {
    ESP_EVENTS.name: (ESP_EVENTS, sendgrid_row),
    CHANNEL_EVENTS.name: (CHANNEL_EVENTS, channel_row),
}


class SpoolError(TrackingError):
    """The spool could not be written (disk full, I/O error): the request is not acknowledged."""


def spool_dir(project: Project) -> Path:
    return project.warehouse_dir / "spool"


def segments_dir(project: Project, table: RawTable) -> Path:
    return spool_dir(project) / table.name


def rejects_dir(project: Project, table: RawTable) -> Path:
    return spool_dir(project) / "rejects" / table.name


# ---------- writing


@dataclass(slots=True)
class _Pending:
    data: bytes
    future: concurrent.futures.Future[None] = field(default_factory=concurrent.futures.Future)


class SegmentWriter:
    """Appends lines to one table's spool; ``append`` returns once the line is on disk.

    ``group_commit=False`` syncs each line on its own (the baseline the benchmark compares against)."""

    def __init__(
        self,
        folder: Path,
        *,
        group_commit: bool = True,
        roll_bytes: int = DEFAULT_ROLL_BYTES,
        roll_seconds: float = DEFAULT_ROLL_SECONDS,
    ) -> None:
        self.folder = folder
        self.group_commit = group_commit
        self.roll_bytes = roll_bytes
        self.roll_seconds = roll_seconds
        self.syncs = 0
        self.lines = 0
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._fd: int | None = None
        self._size = 0
        self._opened = 0.0
        self._seq = 0
        self._closed = False
        # A request made before this writer started concerns segments of writers before it.
        self._seal_seen = _seal_request_stamp(folder)
        self._seal_checked = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"spool-{folder.name}", daemon=True)
        self._thread.start()

    def submit(self, line: bytes) -> concurrent.futures.Future[None]:
        """Queue one line (no newline inside); the future completes when it is durable, or fails with SpoolError."""
        if b"\n" in line or b"\r" in line:
            raise ValueError("a spool line cannot hold a line break")
        if self._closed:
            raise SpoolError("the spool is closed")
        pending = _Pending(line + b"\n")
        self._queue.put(pending)
        return pending.future

    async def append(self, line: bytes) -> None:
        await asyncio.wrap_future(self.submit(line))

    def close(self) -> None:
        """Write what is queued, seal the open segment and stop the thread."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=min(self.roll_seconds, SEAL_POLL_SECONDS))
            except queue.Empty:
                self._maybe_roll()
                continue
            if item is None:
                break
            group, size = [item], len(item.data)
            while self.group_commit and size < MAX_GROUP_BYTES:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                group.append(nxt)
                size += len(nxt.data)
            self._commit(group)
            self._maybe_roll()
        self._seal()

    def _commit(self, group: list[_Pending]) -> None:
        start = self._size
        try:
            fd = self._open()
            data = memoryview(b"".join(p.data for p in group))
            while data:
                data = data[os.write(fd, data) :]
            os.fdatasync(fd)
        except OSError as exc:
            self._recover(start)
            error = SpoolError(f"could not write the event spool in {self.folder}: {exc.strerror or exc}")
            for p in group:
                p.future.set_exception(error)
            return
        self._size += sum(len(p.data) for p in group)
        self.syncs += 1
        self.lines += len(group)
        for p in group:
            p.future.set_result(None)

    def _recover(self, good_size: int) -> None:
        # Cut what this failed group may have left, so the segment ends with acknowledged lines only; if even
        # that fails, seal the segment: an unacknowledged whole line may then land (at least once, never lost).
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, good_size)
            os.fdatasync(self._fd)
            self._size = good_size
        except OSError:
            self._seal()

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        self.folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        stamp = clock.now().strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{os.getpid()}-{self._seq:06d}{SEGMENT_SUFFIX}"
        hidden = self.folder / f".{name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # locked before it is visible: a compactor never takes an open one
            os.rename(hidden, self.folder / name)
            fsync_dir(self.folder)
        except OSError:
            os.close(fd)
            hidden.unlink(missing_ok=True)
            raise
        self._fd, self._size, self._opened = fd, 0, time.monotonic()
        return fd

    def _maybe_roll(self) -> None:
        now = time.monotonic()
        if self._fd is not None and (self._size >= self.roll_bytes or now - self._opened >= self.roll_seconds):
            self._seal()
        if now - self._seal_checked >= SEAL_POLL_SECONDS:
            self._seal_checked = now
            stamp = _seal_request_stamp(self.folder)
            if stamp != self._seal_seen:  # a flush asked: everything acknowledged so far must become landable
                self._seal_seen = stamp
                self._seal()

    def _seal(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # releases the flock: compactors may take it now


class Spool:
    """The writers of every spooled table, started lazily; one per server process."""

    def __init__(self, project: Project, *, group_commit: bool = True, roll_seconds: float = DEFAULT_ROLL_SECONDS):
        self.project = project
        self.group_commit = group_commit
        self.roll_seconds = roll_seconds
        self._writers: dict[str, SegmentWriter] = {}
        self._lock = threading.Lock()

    def writer(self, table: RawTable) -> SegmentWriter:
        if table.name not in SPOOLED:
            raise ValueError(f"{table.name} is not a spooled table")
        with self._lock:
            w = self._writers.get(table.name)
            if w is None:
                w = SegmentWriter(
                    segments_dir(self.project, table), group_commit=self.group_commit, roll_seconds=self.roll_seconds
                )
                self._writers[table.name] = w
            return w

    async def append(self, table: RawTable, line: bytes) -> None:
        """Durably append one line (a JSON array of events) to ``table``'s spool. Eager: on disk on return."""
        await self.writer(table).append(line)

    def append_rows(self, table: RawTable, rows: Sequence[dict[str, Any]]) -> concurrent.futures.Future[None]:
        return self.writer(table).submit(json_line(rows))

    def stats(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: {"lines": w.lines, "syncs": w.syncs} for name, w in self._writers.items()}

    def close(self) -> None:
        with self._lock:
            writers = list(self._writers.values())
        for w in writers:
            w.close()


def _seal_request_stamp(folder: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(folder / SEAL_REQUEST)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def request_seal(folder: Path) -> None:
    """Ask every writer of ``folder`` to seal its open segment (they notice within ``SEAL_POLL_SECONDS``)."""
    # Written as a new file each time (a new inode), so two requests in one clock tick still differ.
    write_atomic(folder / SEAL_REQUEST, clock.now().isoformat())


def json_line(value: Any) -> bytes:
    """Compact JSON without line breaks (they are escaped inside strings)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# ---------- compacting


@dataclass(frozen=True, slots=True)
class CompactionReport:
    """What one ``compact`` call landed; equal when every field is equal."""

    segments: int = 0
    batches: tuple[str, ...] = ()
    rows: int = 0
    rejected: int = 0
    torn: int = 0  # incomplete last lines of segments whose writer died mid-write (never acknowledged)

    def __add__(self, other: CompactionReport) -> CompactionReport:
        return CompactionReport(
            self.segments + other.segments,
            self.batches + other.batches,
            self.rows + other.rows,
            self.rejected + other.rejected,
            self.torn + other.torn,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "segments": self.segments,
            "batches": len(self.batches),
            "rows": self.rows,
            "rejected": self.rejected,
            "torn": self.torn,
        }


def compact(project: Project, tables: Sequence[str] = tuple(SPOOLED)) -> CompactionReport:
    """Land every sealed segment of the spooled ``tables`` (eager: landed and deleted on return).

    Safe to run from several processes at once and to interrupt at any point (see the module notes)."""
    report = CompactionReport()
    for name in tables:
        table, normalize = SPOOLED[name]
        folder = segments_dir(project, table)
        if not folder.is_dir():
            continue
        with _compactor_lock(folder):
            report += _recover(project, table, normalize, folder)
            for group in _sealed_groups(folder):
                report += _land_and_close(project, table, normalize, folder, group)
    return report


@dataclass(frozen=True, slots=True)
class FlushReport:
    """What one ``flush`` landed, and how many segments open when it started were still open at its deadline
    (their writer did not seal them in time: they land at the next flush or compaction)."""

    landed: CompactionReport
    still_open: int = 0


def flush(project: Project, tables: Sequence[str] = tuple(SPOOLED), *, wait: float = DEFAULT_FLUSH_WAIT) -> FlushReport:
    """Land every event the spool had acknowledged when called, sealing open segments first. Eager.

    Waits at most ``wait`` seconds for the writers (a running server) to seal; with none running, nothing is
    open and this is ``compact``. Safe beside a running server and its compactions (see the module notes)."""
    deadline = time.monotonic() + wait
    still_open = 0
    for name in tables:
        folder = segments_dir(project, SPOOLED[name][0])
        if not folder.is_dir():
            continue
        open_now = [p for p in sorted(folder.glob(f"[!.]*{SEGMENT_SUFFIX}")) if not _is_sealed(p)]
        if not open_now:
            continue
        request_seal(folder)
        for path in open_now:
            while not _is_sealed(path):
                if time.monotonic() >= deadline:
                    still_open += 1
                    break
                time.sleep(0.01)
    return FlushReport(compact(project, tables), still_open)


def _is_sealed(path: Path) -> bool:
    """Whether no writer holds ``path`` (gone: a compactor took it, so it was sealed)."""
    fd = _lock_if_sealed(path)
    if fd is None:
        return not path.exists()
    os.close(fd)
    return True


@contextmanager
def _compactor_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder / ".compact.lock", os.O_RDWR | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sealed_groups(folder: Path) -> Iterator[list[tuple[Path, int]]]:
    """Sealed segments, oldest first, in groups of at most MAX_BATCH_BYTES, each open and locked by us."""
    group: list[tuple[Path, int]] = []
    size = 0
    for path in sorted(folder.glob(f"[!.]*{SEGMENT_SUFFIX}")):
        fd = _lock_if_sealed(path)
        if fd is None:
            continue
        length = os.fstat(fd).st_size
        if group and size + length > MAX_BATCH_BYTES:
            yield group
            group, size = [], 0
        group.append((path, fd))
        size += length
    if group:
        yield group


def _lock_if_sealed(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # its writer holds it: still open
        os.close(fd)
        return None
    return fd


def _recover(project: Project, table: RawTable, normalize: Normalizer, folder: Path) -> CompactionReport:
    """Finish what an interrupted compaction left: delete segments whose batch landed, land the others anew."""
    by_batch: dict[str, list[Path]] = {}
    for path in sorted(folder.glob(f"[!.]*{COMPACTING_SUFFIX}")):
        batch_id = path.name[: -len(COMPACTING_SUFFIX)].rsplit(".", 1)[1]
        by_batch.setdefault(batch_id, []).append(path)
    report = CompactionReport()
    for batch_id, paths in by_batch.items():
        if (table_dir(project, table) / f"{batch_id}.parquet").exists():
            _delete(paths, folder)
            continue
        (rejects_dir(project, table) / f"{batch_id}.jsonl").unlink(missing_ok=True)
        group = [(p, os.open(p, os.O_RDONLY)) for p in paths]
        report += _land_and_close(project, table, normalize, folder, group)
    return report


def _land_and_close(
    project: Project, table: RawTable, normalize: Normalizer, folder: Path, group: list[tuple[Path, int]]
) -> CompactionReport:
    """``_land`` the group, then close its segments' descriptors, landed or not."""
    try:
        return _land(project, table, normalize, folder, group)
    finally:
        for _, fd in group:
            os.close(fd)


def _land(
    project: Project, table: RawTable, normalize: Normalizer, folder: Path, group: list[tuple[Path, int]]
) -> CompactionReport:
    batch_id = new_batch_id()
    names, renamed = [], []
    for path, _ in group:
        segment = _segment_name(path)
        names.append(segment)
        target = folder / f"{segment}.{batch_id}{COMPACTING_SUFFIX}"
        os.rename(path, target)
        renamed.append(target)
    fsync_dir(folder)  # the batch id is now bound to these segments, before anything lands under it
    rows: list[Row] = []
    rejects: list[Reject] = []
    torn = 0
    for (_, fd), segment in zip(group, names, strict=True):
        torn += _read_segment(fd, segment, normalize, rows, rejects)
    if rejects:
        write_atomic(
            rejects_dir(project, table) / f"{batch_id}.jsonl",
            "".join(r.to_json() + "\n" for r in rejects).encode(),
            durable=True,
        )
    if rows:
        source = f"spool:{table.name}/{names[0]}" + (f" (+{len(names) - 1} segments)" if len(names) > 1 else "")
        land_batch(
            project,
            table,
            _arrow(table, rows),
            source_file=source,
            counts=BatchCounts(read=len(rows) + len(rejects), inserted=len(rows), updated=0, rejected=len(rejects)),
            batch_id=batch_id,
        )
    _delete(renamed, folder)
    return CompactionReport(len(group), (batch_id,) if rows else (), len(rows), len(rejects), torn)


def _read_segment(fd: int, segment: str, normalize: Normalizer, rows: list[Row], rejects: list[Reject]) -> int:
    """Normalize every complete line of a segment into ``rows`` / ``rejects``; returns 1 for a torn last line."""
    with os.fdopen(os.dup(fd), "rb") as fh:
        data = fh.read()
    lines = data.split(b"\n")
    tail = lines.pop()  # b"" when the segment ends with a complete line
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        try:
            events = orjson.loads(line)
        except ValueError:
            rejects.append(Reject(f"{segment}:{number}", "spool line is not JSON", line.decode(errors="replace")))
            continue
        if not isinstance(events, list):
            events = [events]
        for index, event in enumerate(events):
            out = normalize(event, f"{segment}:{number}[{index}]")
            (rejects if isinstance(out, Reject) else rows).append(out)  # type: ignore[arg-type]
    return 1 if tail else 0


def _arrow(table: RawTable, rows: list[Row]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=arrow_schema(table, with_batch_columns=False))


def _segment_name(path: Path) -> str:
    name = path.name
    if name.endswith(COMPACTING_SUFFIX):
        return name[: -len(COMPACTING_SUFFIX)].rsplit(".", 1)[0]
    return name[: -len(SEGMENT_SUFFIX)]


def _delete(paths: Sequence[Path], folder: Path) -> None:
    for p in paths:
        p.unlink(missing_ok=True)
    fsync_dir(folder)


# ---------- reading what is not compacted yet


class SpoolTail:
    """The complete lines appended to a table's spool since the previous call, segment by segment.

    Cheap to call often: a table has a few segments, and each is read from where the previous call stopped
    (keyed by inode, so a segment renamed for compaction is not read twice)."""

    def __init__(self, project: Project, table: RawTable) -> None:
        self.folder = segments_dir(project, table)
        self._offsets: dict[tuple[int, int], int] = {}

    def new_lines(self) -> list[bytes]:
        lines: list[bytes] = []
        alive: dict[tuple[int, int], int] = {}
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            self._offsets = {}
            return lines
        for e in sorted(entries, key=lambda e: e.name):
            if e.name.startswith(".") or not e.name.endswith((SEGMENT_SUFFIX, COMPACTING_SUFFIX)):
                continue
            try:
                st = e.stat()
                key = (st.st_dev, st.st_ino)
                offset = self._offsets.get(key, 0)
                if st.st_size > offset:
                    with open(e.path, "rb") as fh:
                        fh.seek(offset)
                        data = fh.read()
                    end = data.rfind(b"\n") + 1  # only complete lines
                    lines.extend(line for line in data[:end].split(b"\n") if line)
                    offset += end
                alive[key] = offset
            except FileNotFoundError:  # compacted meanwhile: it is in the landing zone now
                continue
        self._offsets = alive
        return lines
