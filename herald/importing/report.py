"""What an import did, as a value the CLI prints and the app shows.

The counts always account for every record read: ``read = inserted + updated + rejected``. The report refuses
to exist otherwise, so a bug in the accounting fails loudly instead of printing numbers that do not add up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from herald.importing.kinds import Kind

MatchMethod = Literal["exact", "synonym", "mapping"]
FileFormat = Literal["csv", "parquet"]
ResolvedDateOrder = Literal["dmy", "mdy", "ymd"]


@dataclass(frozen=True, slots=True)
class ColumnMatch:
    """One source header read into one raw column; equal when header, column and method are equal.

    ``method`` says why: ``exact`` (same name once case, spaces, punctuation and accents are ignored),
    ``synonym`` (a known alternative name such as "E-mail Address" for ``email``) or ``mapping`` (the mapping
    file said so).
    """

    source: str
    column: str
    method: MatchMethod


@dataclass(frozen=True, slots=True)
class ColumnDateOrder:
    """How the day/month order of a date column was decided; equal when column, order and reason are equal."""

    column: str
    order: ResolvedDateOrder
    reason: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of one ``import_file`` call; two reports are equal when every field is equal.

    ``batch_id`` is None when nothing landed (no good rows). ``unmatched`` lists the headers that were not read
    into a raw column; ``unmatched_action`` says what happened to them (``ignore``: dropped, ``attributes``:
    folded into the profile's ``attributes`` JSON object).
    """

    kind: Kind
    table: str
    source_file: Path
    source_sha256: str
    batch_id: str | None
    rows_read: int
    rows_inserted: int
    rows_updated: int
    rows_rejected: int
    rejects_path: Path | None
    file_format: FileFormat
    encoding: str | None
    delimiter: str | None
    matches: tuple[ColumnMatch, ...]
    unmatched: tuple[str, ...]
    unmatched_action: Literal["ignore", "attributes"] | None
    date_orders: tuple[ColumnDateOrder, ...] = ()
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if min(self.rows_read, self.rows_inserted, self.rows_updated, self.rows_rejected) < 0:
            raise ValueError(f"negative count in import report: {self.counts_line()}")
        if not self.adds_up():
            raise ValueError(f"import counts do not add up: {self.counts_line()}")
        if (self.batch_id is None) != (self.rows_landed == 0):
            raise ValueError("an import lands a batch exactly when it has rows to land")

    @property
    def rows_landed(self) -> int:
        return self.rows_inserted + self.rows_updated

    def adds_up(self) -> bool:
        return self.rows_read == self.rows_inserted + self.rows_updated + self.rows_rejected

    def counts_line(self) -> str:
        return (
            f"read = inserted + updated + rejected: {self.rows_read:,} = {self.rows_inserted:,} + "
            f"{self.rows_updated:,} + {self.rows_rejected:,}"
        )

    def summary(self) -> str:
        """A few lines for a terminal: where the file went, the counts, the columns, and any warnings."""
        target = f"batch {self.batch_id}" if self.batch_id else "nothing landed"
        lines = [f"{self.source_file.name} -> {self.table} ({target})", f"  {self.counts_line()}"]
        if self.batch_id is None:
            lines.append("  no good rows: nothing was written to the landing zone")
        if self.rejects_path is not None:
            lines.append(f"  rejects: {self.rejects_path}")
        if self.file_format == "csv":
            lines.append(f"  read as CSV, encoding {self.encoding}, delimiter {_show_delimiter(self.delimiter)}")
        else:
            lines.append("  read as Parquet")
        for m in self.matches:
            lines.append(f'  column "{m.source}" -> {m.column} ({m.method})')
        if self.unmatched:
            verb = "kept in attributes" if self.unmatched_action == "attributes" else "ignored"
            lines.append(f"  {verb}: " + ", ".join(f'"{h}"' for h in self.unmatched))
        for d in self.date_orders:
            lines.append(f"  dates in {d.column} read as {d.order} ({d.reason})")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        return "\n".join(lines)


def _show_delimiter(delimiter: str | None) -> str:
    names = {"\t": "tab", ",": "','", ";": "';'", "|": "'|'"}
    if delimiter is None:
        return "none"
    return names.get(delimiter, repr(delimiter))
