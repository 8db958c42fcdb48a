"""What a build reads besides the landed batches — the send ledger, the inbox's events, the webhook spool — is
part of what makes it current: after a send or an event, `herald build` builds instead of answering "Up to date".
Stamped by file names, sizes and times, never by reading contents."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald import build as build_module
from herald.build import BuildResult, build, published_build, streams_fingerprint
from herald.project import Project
from senders import ledger


def _append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as fh:
        fh.write(data)


def test_the_ledger_the_inbox_and_the_spool_move_the_stamp(project: Project) -> None:
    project.ensure_dirs()
    stamps = [streams_fingerprint(project)]
    assert streams_fingerprint(project) == stamps[0]  # stable while nothing changes

    shard = project.ledger_dir / "r1" / "shard-000.jsonl"
    _append(shard, b'{"message_id": "m1", "state": "claimed"}\n')
    stamps.append(streams_fingerprint(project))
    _append(shard, b'{"message_id": "m1", "state": "accepted"}\n')  # a shard grows in place
    stamps.append(streams_fingerprint(project))
    _append(project.inbox_dir / "events" / "2026-11-28" / "e1.jsonl", b'{"message_id": "m1"}\n')
    stamps.append(streams_fingerprint(project))
    _append(project.warehouse_dir / "spool" / "esp_events" / "20261128T100000000000Z-1-000001.jsonl", b"[]\n")
    stamps.append(streams_fingerprint(project))
    assert len(set(stamps)) == len(stamps)

    # Locks, plans, seal requests and files being written under hidden names are not inputs.
    _append(project.ledger_dir / "r1" / "shard-000.lock", b"")
    _append(project.ledger_dir / "r1" / "control.jsonl", b"{}\n")
    _append(project.warehouse_dir / "spool" / "esp_events" / ".seal", b"x")
    _append(project.inbox_dir / "events" / "2026-11-28" / ".e2.jsonl.partial", b"{}")
    assert streams_fingerprint(project) == stamps[-1]


@pytest.mark.slow
def test_a_build_after_a_send_is_not_up_to_date(scratch_project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    project = scratch_project
    build(project, quiet=True)  # brings the copied warehouse up to date in this folder
    published = published_build(project)
    assert published is not None and published.streams_fingerprint == streams_fingerprint(project)
    assert build(project, quiet=True).published_path is None  # nothing changed: up to date

    calls: list[str] = []

    def record_build(project: Project, cutoff: str, **kwargs: object) -> BuildResult:
        calls.append(cutoff)
        return BuildResult("stub", cutoff, None, 0.0)

    monkeypatch.setattr(build_module, "_build_locked", record_build)
    with ledger.Shard(project, "r-sent", 0) as shard:
        assert shard.try_lock(wait=True)
        shard.append([ledger.Entry("m1", "claimed", 1, "r-sent", "C0000001", "C0000001", "email")])
    build(project, quiet=True)
    assert len(calls) == 1, "a send since the published build must make the build run"
