"""The spool: group commit, sealing, crash-safe and idempotent compaction, and what the sender reads from it."""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from pathlib import Path

import duckdb
import pytest

from herald.landing import batch_files, table_dir
from herald.project import Project
from herald.raw_schema import ESP_EVENTS
from senders.suppression import Suppressions
from senders.tracking import spool as spool_module
from senders.tracking.spool import (
    COMPACTING_SUFFIX,
    SegmentWriter,
    SpoolTail,
    compact,
    rejects_dir,
    segments_dir,
)
from tests.tracking.serving import events, landed_events


def _line(batch: list[dict[str, object]]) -> bytes:
    return json.dumps(batch, separators=(",", ":")).encode()


def _writer(project: Project, **kw: object) -> SegmentWriter:
    return SegmentWriter(segments_dir(project, ESP_EVENTS), **kw)  # type: ignore[arg-type]


def _landed_ids(project: Project) -> list[str]:
    return [r[0] for r in landed_events(project)]


def test_concurrent_appends_share_syncs(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    real = os.fdatasync

    def slow_sync(fd: int) -> None:  # a disk whose sync takes 5 ms, like a real one under load
        time.sleep(0.005)
        real(fd)

    monkeypatch.setattr(spool_module.os, "fdatasync", slow_sync)
    writer = _writer(project)
    futures = []
    lock = threading.Lock()

    def post(t: int) -> None:
        for i in range(25):
            f = writer.submit(_line(events(2, prefix=f"t{t}-{i}-")))
            with lock:
                futures.append(f)
            f.result(timeout=10)

    threads = [threading.Thread(target=post, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert writer.lines == 200
    assert writer.syncs < 60, writer.syncs  # ~8 requests per sync, not one each
    assert compact(project).rows == 400
    assert len(set(_landed_ids(project))) == 400


def test_without_group_commit_every_line_has_its_own_sync(project: Project) -> None:
    writer = _writer(project, group_commit=False)
    futures = [writer.submit(_line(events(1, prefix=f"x{i}-"))) for i in range(30)]
    for f in futures:
        f.result(timeout=10)
    writer.close()
    assert (writer.lines, writer.syncs) == (30, 30)


def test_a_line_break_is_refused(project: Project) -> None:
    writer = _writer(project)
    with pytest.raises(ValueError, match="line break"):
        writer.submit(b"[1,\n2]")
    writer.close()


def test_open_segments_are_not_compacted_and_sealed_ones_land_once(project: Project) -> None:
    writer = _writer(project, roll_seconds=60)
    writer.submit(_line(events(3))).result(timeout=10)
    assert compact(project).segments == 0  # its writer holds it
    assert _segment_files(project) and not table_dir(project, ESP_EVENTS).exists()
    writer.close()  # seals
    report = compact(project)
    assert (report.segments, report.rows, report.rejected, len(report.batches)) == (1, 3, 0, 1)
    assert _segment_files(project) == []
    assert compact(project).segments == 0
    assert sorted(_landed_ids(project)) == ["e000000", "e000001", "e000002"]


def test_segments_roll_by_age(project: Project) -> None:
    writer = _writer(project, roll_seconds=0.2)
    writer.submit(_line(events(1, prefix="a"))).result(timeout=10)
    time.sleep(1.3)  # the idle writer seals its segment on its own
    writer.submit(_line(events(1, prefix="b"))).result(timeout=10)
    assert compact(project).rows == 1
    writer.close()
    assert compact(project).rows == 1


def test_incomplete_events_go_to_rejects_with_their_position(project: Project) -> None:
    writer = _writer(project)
    writer.submit(_line([*events(1), {"sg_event_id": "n1", "event": "open", "email": "x@example.com"}])).result()
    writer.close()
    report = compact(project)
    assert (report.rows, report.rejected) == (1, 1)
    [rejects] = list(rejects_dir(project, ESP_EVENTS).iterdir())
    [reject] = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert reject["reason"] == "missing timestamp" and reject["position"].endswith(":1[1]")
    assert rejects.stem == report.batches[0]


def test_a_torn_last_line_was_never_acknowledged_and_does_not_land(project: Project) -> None:
    writer = _writer(project)
    writer.submit(_line(events(2))).result()
    writer.close()
    [segment] = _segment_files(project)
    with open(segment, "ab") as fh:
        fh.write(_line(events(1, prefix="torn"))[:40])  # a writer killed mid-write
    report = compact(project)
    assert (report.rows, report.torn) == (2, 1)
    assert "torn000000" not in _landed_ids(project)


def test_an_interrupted_compaction_lands_each_segment_exactly_once(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _writer(project)
    writer.submit(_line(events(5))).result()
    writer.close()

    # 1. Killed after binding the batch id, before landing: the segment lands later, once, under a new id.
    def crash(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(spool_module, "land_batch", crash)
    with pytest.raises(KeyboardInterrupt):
        compact(project)
    [pending] = list(segments_dir(project, ESP_EVENTS).glob(f"*{COMPACTING_SUFFIX}"))
    monkeypatch.undo()
    report = compact(project)
    assert report.rows == 5 and report.batches[0] not in pending.name
    assert len(_landed_ids(project)) == 5

    # 2. Killed after landing, before deleting the segments: they are deleted, nothing lands twice.
    writer = _writer(project)
    writer.submit(_line(events(4, prefix="second"))).result()
    writer.close()
    real_delete = spool_module._delete
    monkeypatch.setattr(spool_module, "_delete", crash)
    with pytest.raises(KeyboardInterrupt):
        compact(project)
    assert list(segments_dir(project, ESP_EVENTS).glob(f"*{COMPACTING_SUFFIX}"))
    monkeypatch.setattr(spool_module, "_delete", real_delete)
    assert compact(project).rows == 0
    assert _segment_files(project) == []
    ids = _landed_ids(project)
    assert len(ids) == len(set(ids)) == 9
    assert len([p for p in batch_files(project, ESP_EVENTS) if "empty" not in p.name]) == 2


def test_two_compactors_at_once_land_nothing_twice(project: Project) -> None:
    for n in range(6):
        writer = _writer(project)
        writer.submit(_line(events(50, prefix=f"s{n}-"))).result()
        writer.close()
    reports = []
    threads = [threading.Thread(target=lambda: reports.append(compact(project))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.rows for r in reports) == 300
    con = duckdb.connect()
    n, distinct = con.execute(
        "select count(*), count(distinct sg_event_id) from read_parquet(?)",
        [str(table_dir(project, ESP_EVENTS) / "*.parquet")],
    ).fetchone()  # type: ignore[misc]
    assert (n, distinct) == (300, 300)


def test_the_tail_reads_complete_new_lines_once(project: Project) -> None:
    tail = SpoolTail(project, ESP_EVENTS)
    assert tail.new_lines() == []
    folder = segments_dir(project, ESP_EVENTS)
    folder.mkdir(parents=True)
    seg = folder / "20260101T000000000000Z-1-000001.jsonl"
    seg.write_bytes(b"[1]\n[2]\n[3")
    assert tail.new_lines() == [b"[1]", b"[2]"]
    with open(seg, "ab") as fh:
        fh.write(b"]\n")
    assert tail.new_lines() == [b"[3]"]
    seg.rename(folder / f"20260101T000000000000Z-1-000001.batch{COMPACTING_SUFFIX}")
    assert tail.new_lines() == []  # same file, renamed for compaction: not read again


def test_the_sender_sees_unsubscribes_still_in_the_spool(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Suppressions, "_load_published", lambda self: None)  # no published warehouse here
    writer = _writer(project, roll_seconds=60)  # open: not compacted, only in the spool
    sup = Suppressions(project, channel="email", topic="newsletter")
    assert sup.reason(None, "gone@example.com") is None
    batch = [
        {"sg_event_id": "u1", "event": "unsubscribe", "timestamp": 1, "email": "Gone@example.com"},
        {"sg_event_id": "s1", "event": "spamreport", "timestamp": 1, "email": "spam@example.com"},
        {"sg_event_id": "b1", "event": "bounce", "type": "bounce", "timestamp": 1, "email": "hard@example.com"},
        {"sg_event_id": "b2", "event": "bounce", "type": "blocked", "timestamp": 1, "email": "soft@example.com"},
        {"sg_event_id": "o1", "event": "open", "timestamp": 1, "email": "open@example.com"},
    ]
    writer.submit(_line(batch)).result()
    sup.refresh()
    assert sup.reason(None, "gone@example.com") == "opted_out_since_preparation"
    assert sup.reason(None, "spam@example.com") == "opted_out_since_preparation"
    assert sup.reason(None, "hard@example.com") == "quarantined_since_preparation"
    assert sup.reason(None, "soft@example.com") is None and sup.reason(None, "open@example.com") is None
    writer.close()
    sms = Suppressions(project, channel="sms", topic=None)
    assert sms.reason(None, "gone@example.com") is None


def _segment_files(project: Project) -> list[Path]:
    folder = segments_dir(project, ESP_EVENTS)
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.is_dir() else []


def test_a_locked_segment_is_what_marks_it_open(project: Project) -> None:
    writer = _writer(project, roll_seconds=60)
    writer.submit(_line(events(1))).result()
    [segment] = _segment_files(project)
    fd = os.open(segment, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    writer.close()


def test_flush_seals_what_a_running_writer_acknowledged_and_lands_it_at_once(project: Project) -> None:
    writer = _writer(project, roll_seconds=60)  # would not roll by age during this test
    try:
        writer.submit(_line(events(3, prefix="a"))).result(timeout=10)
        started = time.monotonic()
        report = spool_module.flush(project, wait=5)
        assert time.monotonic() - started < 2  # the writer sealed on request, not by age
        assert (report.landed.rows, report.still_open) == (3, 0)
        assert _segment_files(project) == []
        # The writer goes on in a new segment; the next flush lands only that.
        writer.submit(_line(events(2, prefix="b"))).result(timeout=10)
        assert spool_module.flush(project, wait=5).landed.rows == 2
        assert spool_module.flush(project, wait=5).landed.segments == 0
    finally:
        writer.close()
    assert compact(project).rows == 0
    assert sorted(_landed_ids(project)) == ["a000000", "a000001", "a000002", "b000000", "b000001"]


def test_flush_never_takes_a_segment_its_writer_still_holds(project: Project) -> None:
    # A writer that does not answer (hung, or an older server that only rolls by age): its segment stays.
    folder = segments_dir(project, ESP_EVENTS)
    folder.mkdir(parents=True)
    segment = folder / "20261128T100000000000Z-1-000001.jsonl"
    fd = os.open(segment, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, _line(events(2)) + b"\n")
        report = spool_module.flush(project, wait=0.3)
        assert (report.landed.rows, report.still_open) == (0, 1)
        assert segment.exists() and not table_dir(project, ESP_EVENTS).exists()
    finally:
        os.close(fd)  # sealed
    report = spool_module.flush(project, wait=0.3)
    assert (report.landed.segments, report.landed.rows, report.still_open) == (1, 2, 0)
    assert sorted(_landed_ids(project)) == ["e000000", "e000001"]


def test_flushes_beside_a_busy_writer_lose_and_repeat_nothing(project: Project) -> None:
    writer = _writer(project, roll_seconds=60)
    acknowledged: list[str] = []
    stop = threading.Event()

    def post() -> None:
        i = 0
        while not stop.is_set():
            batch = events(3, prefix=f"p{i:04d}-")
            writer.submit(_line(batch)).result(timeout=10)
            acknowledged.extend(str(e["sg_event_id"]) for e in batch)
            i += 1

    thread = threading.Thread(target=post)
    thread.start()
    try:
        for _ in range(5):
            time.sleep(0.05)
            before = len(acknowledged)
            spool_module.flush(project, wait=5)
            # Everything acknowledged before the flush started has landed when it returns.
            assert set(acknowledged[:before]) <= set(_landed_ids(project))
    finally:
        stop.set()
        thread.join()
        writer.close()
    compact(project)
    landed = _landed_ids(project)
    assert len(landed) == len(set(landed)) == len(acknowledged)
    assert set(landed) == set(acknowledged)
