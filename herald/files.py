"""Writing a file so that a reader sees the old content or the new, never half of either.

Every file Herald replaces while others may read it (job records, pointers, landing batches, exports, specs) is
written beside its target under a name of its own and renamed over it (``os.replace`` is atomic on one file
system). A failed write leaves the target as it was and removes its partial file.
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
def replacing(target: Path) -> Iterator[Path]:
    """Yield a path to write; when the block ends without error it replaces ``target`` atomically.

    For writers that take a path (Parquet, DuckDB's COPY, CSV writers): ``with replacing(out) as tmp: write(tmp)``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = partial_path(target)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(target: Path, data: str | bytes, *, encoding: str = "utf-8") -> None:
    """Replace ``target`` with ``data`` (text is encoded with ``encoding``) atomically."""
    with replacing(target) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data, encoding=encoding)
