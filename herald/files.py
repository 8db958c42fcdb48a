"""Writing a file so that a reader sees the old content or the new, never half of either.

Every file Herald replaces while others may read it (job records, pointers, landing batches, exports, specs) is
written beside its target under a name of its own and renamed over it (``os.replace`` is atomic on one file
system). A failed write leaves the target as it was and removes its partial file.

The partial name starts with "." and ends with ".partial", so readers that list a folder skip it by either rule.
With ``durable=True`` the file's content is synced before the rename and its folder after it, so the new file
survives a crash once the write returns (landing batches, published builds, the inbox and print extractions).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def partial_path(target: Path) -> Path:
    """A hidden name beside ``target`` no other writer uses (the process id and a random token)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")


@contextmanager
def replacing(target: Path, *, durable: bool = False) -> Iterator[Path]:
    """Yield a path to write; when the block ends without error it replaces ``target`` atomically.

    For writers that take a path (Parquet, DuckDB's COPY, CSV writers): ``with replacing(out) as tmp: write(tmp)``.
    """
    with _beside(target) as tmp:
        yield tmp
        move_into_place(tmp, target, durable=durable)


def write_atomic(target: Path, data: str | bytes, *, encoding: str = "utf-8", durable: bool = False) -> None:
    """Replace ``target`` with ``data`` (text is encoded with ``encoding``) atomically."""
    with replacing(target, durable=durable) as tmp:
        _write(tmp, data, encoding)


def write_new(target: Path, data: str | bytes, *, encoding: str = "utf-8", durable: bool = False) -> Path:
    """Make a file holding ``data`` appear whole, never replacing one: under ``target``'s name, or when that is
    taken under a free ``<stem>-<random><suffix>`` beside it. Returns the path written."""
    with _beside(target) as tmp:
        _write(tmp, data, encoding)
        if durable:
            fsync_file(tmp)
        target = _link_under_free_name(tmp, target)
    if durable:
        fsync_dir(target.parent)
    return target


def move_into_place(partial: Path, target: Path, *, durable: bool = False) -> None:
    """Replace ``target`` with ``partial``, a finished file written beside it (see ``partial_path``).

    For a write whose fate is decided after it is written (kept only once an import has landed)."""
    if durable:
        fsync_file(partial)
    os.replace(partial, target)
    if durable:
        fsync_dir(target.parent)


def fsync_file(path: Path) -> None:
    """Make the content written to ``path`` survive a crash."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def fsync_dir(folder: Path) -> None:
    """Make a rename into ``folder`` survive a crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _beside(target: Path) -> Iterator[Path]:
    """A partial path beside ``target`` (its folder created), removed when the block ends unless moved away."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(target)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _write(path: Path, data: str | bytes, encoding: str) -> None:
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data, encoding=encoding)


def _link_under_free_name(source: Path, target: Path) -> Path:
    while True:
        try:
            os.link(source, target)  # fails instead of replacing, unlike rename
            return target
        except FileExistsError:
            target = target.with_name(f"{target.stem}-{secrets.token_hex(2)}{target.suffix}")
