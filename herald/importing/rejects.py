"""The rejects file: every rejected record with its line, its reason and its fields exactly as read.

It is a CSV a person can open, fix and import again as it is (the importer ignores the two leading columns):
``line_number``, ``reason``, then the file's own columns (with the file's delimiter, so a ``;`` file opens
correctly in the same spreadsheet). It is written UTF-8 with a
byte-order mark so spreadsheets show accents correctly; the importer reads that back without help. The file is
written beside its final name and renamed into place only once the import has landed, so a failed import never
leaves a rejects file that describes rows which were not accounted for.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from herald.files import move_into_place, partial_path

REJECTS_SUFFIX = ".rejects.csv"
REJECTS_LEADING_COLUMNS = ("line_number", "reason")


@dataclass(frozen=True, slots=True)
class Reject:
    """One rejected record; equal when line, reason and fields are equal."""

    line_number: int
    reason: str
    fields: tuple[str | None, ...]


def default_rejects_path(source: Path) -> Path:
    """``customers.csv`` -> ``customers.rejects.csv`` beside it."""
    return source.with_name(source.stem + REJECTS_SUFFIX)


def write_rejects(target: Path, headers: Sequence[str], rejects: Iterable[Reject], *, delimiter: str) -> Path:
    """Write the rejects to a temporary file next to ``target``; return its path (see ``commit_rejects``)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(target)
    try:
        with open(partial, "w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh, delimiter=delimiter, lineterminator="\r\n")
            writer.writerow([*REJECTS_LEADING_COLUMNS, *headers])
            for reject in sorted(rejects, key=lambda r: r.line_number):
                writer.writerow([reject.line_number, reject.reason, *("" if f is None else f for f in reject.fields)])
    except BaseException:
        discard_rejects(partial)
        raise
    return partial


def commit_rejects(partial: Path, target: Path) -> None:
    move_into_place(partial, target)


def discard_rejects(partial: Path) -> None:
    partial.unlink(missing_ok=True)
