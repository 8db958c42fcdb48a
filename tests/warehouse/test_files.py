"""One atomic write for every file Herald replaces while others may read it (herald.files)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from herald.files import move_into_place, partial_path, replacing, write_atomic, write_new


class Interrupted(Exception):
    pass


def test_write_atomic_replaces_the_target_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "CURRENT"
    write_atomic(target, "herald-1.duckdb\n")
    write_atomic(target, b"herald-2.duckdb\n")
    assert target.read_text(encoding="utf-8") == "herald-2.duckdb\n"
    assert list(target.parent.iterdir()) == [target]


def test_a_failed_write_leaves_the_old_content_and_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "batch.parquet"
    target.write_bytes(b"old")
    with pytest.raises(Interrupted), replacing(target) as tmp:
        tmp.write_bytes(b"half of the new")
        raise Interrupted
    assert target.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [target]


def test_a_failed_rename_leaves_the_old_content_and_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object) -> None:
        raise OSError(28, "No space left on device")

    target = tmp_path / "manifest.json"
    target.write_text("{}", encoding="utf-8")
    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError, match="No space"):
        write_atomic(target, '{"row_count": 2}')
    monkeypatch.undo()
    assert target.read_text(encoding="utf-8") == "{}"
    assert list(tmp_path.iterdir()) == [target]


def test_partial_names_are_hidden_unique_and_marked(tmp_path: Path) -> None:
    names = {partial_path(tmp_path / "a.jsonl").name for _ in range(50)}
    assert len(names) == 50
    assert all(n.startswith(".a.jsonl.") and n.endswith(".partial") for n in names)


def test_durable_writes_sync_the_file_before_the_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[str] = []
    fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    target = tmp_path / "part.parquet"
    write_atomic(target, b"not durable")
    assert synced == []
    write_atomic(target, b"durable", durable=True)
    [file, folder] = synced
    assert Path(file).name.endswith(".partial") and Path(folder) == tmp_path


def test_write_new_never_replaces_a_file(tmp_path: Path) -> None:
    first = write_new(tmp_path / "m0001-2.jsonl", b"1\n", durable=True)
    second = write_new(tmp_path / "m0001-2.jsonl", "2\n")
    assert first == tmp_path / "m0001-2.jsonl" and first.read_bytes() == b"1\n"
    assert second.name.startswith("m0001-2-") and second.suffix == ".jsonl" and second.read_bytes() == b"2\n"
    assert sorted(tmp_path.iterdir()) == sorted([first, second])


def test_move_into_place_replaces_the_target_with_a_file_written_earlier(tmp_path: Path) -> None:
    target = tmp_path / "contacts.rejects.csv"
    target.write_text("from an earlier import", encoding="utf-8")
    partial = partial_path(target)
    partial.write_bytes(b"line_number,reason\r\n")
    move_into_place(partial, target, durable=True)
    assert target.read_bytes() == b"line_number,reason\r\n"
    assert list(tmp_path.iterdir()) == [target]


def test_a_reader_never_sees_a_half_written_file(tmp_path: Path) -> None:
    """Large versions written over and over in chunks while another thread reads: every read is one version whole."""
    target = tmp_path / "record.json"
    versions = [bytes([ord("a") + i]) * (1 << 20) for i in range(3)]
    write_atomic(target, versions[0])
    stop = threading.Event()

    def write_repeatedly() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            with replacing(target) as tmp, open(tmp, "wb") as fh:
                for start in range(0, len(versions[0]), 1 << 16):  # many writes: a reader could land between them
                    fh.write(versions[n % 3][start : start + (1 << 16)])

    writer = threading.Thread(target=write_repeatedly)
    writer.start()
    try:
        seen = {target.read_bytes() for _ in range(300)}
    finally:
        stop.set()
        writer.join()
    assert seen <= set(versions)
    assert list(tmp_path.iterdir()) == [target]
