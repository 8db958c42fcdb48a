"""Read a CSV or Parquet file into string-or-typed Arrow columns, with the source line of every record.

CSV is parsed with Python's ``csv`` module because it is the only fast parser here that reports physical line
numbers: a record's line is the line where it starts (the header is line 1), even when a quoted field spans
several lines. Rows are collected in chunks and turned into Arrow arrays, so a million-row file never exists as a
million Python lists at once. Parquet records are numbered by row (1 = first row).

Whole-file problems (broken quoting, no header) raise ``ImportFileError``; a row with the wrong number of
fields is kept aside as a ``RaggedRow`` and becomes a rejected record, because one bad row should not block the
other million.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from herald.errors import ImportFileError
from herald.importing.detect import FileInfo, separator_hint

CHUNK_ROWS = 50_000
ProgressFn = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class RaggedRow:
    """A CSV record whose field count differs from the header's; equal when line and fields are equal."""

    line_number: int
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True, eq=False)
class SourceRows:
    """The records of one file, column by column in file order; compared by identity (it holds Arrow data).

    ``columns`` are Arrow chunked arrays: strings for CSV (exactly as read, not trimmed), the file's own types
    for Parquet. ``line_numbers`` holds each record's source line (CSV) or row number (Parquet).
    ``rows_read`` counts every record, including the ragged ones; blank lines are not records.
    """

    headers: tuple[str, ...]
    columns: tuple[Any, ...]
    line_numbers: Any
    ragged: tuple[RaggedRow, ...]
    rows_read: int
    blank_lines: int

    @property
    def num_rows(self) -> int:
        """Records with the right shape (``rows_read`` minus the ragged ones)."""
        return len(self.line_numbers)


def read_headers(info: FileInfo) -> tuple[str, ...]:
    """The column names of the file, trimmed. Eager, but reads only the first record of a CSV."""
    if info.file_format == "parquet":
        return tuple(_parquet_file(info).schema_arrow.names)
    with _open_text(info) as fh:
        reader = _csv_reader(fh, info)
        header = _next_header(reader, info)
    return header


def read_rows(info: FileInfo, headers: tuple[str, ...], progress: ProgressFn | None = None) -> SourceRows:
    """Every record of the file. Eager; ``progress`` gets the running count of records read, chunk by chunk."""
    if info.file_format == "parquet":
        return _read_parquet(info, headers, progress)
    return _read_csv(info, headers, progress)


# -- CSV ---------------------------------------------------------------------------------------------------------


def _open_text(info: FileInfo) -> Any:
    assert info.encoding is not None
    try:
        return open(info.path, encoding=info.encoding, newline="")
    except OSError as exc:
        raise ImportFileError(f"{info.path}: cannot be read: {exc.strerror or exc}") from exc


def _csv_reader(fh: Any, info: FileInfo) -> Any:
    assert info.delimiter is not None
    return csv.reader(fh, delimiter=info.delimiter, quotechar='"', doublequote=True, strict=True)


def _next_header(reader: Any, info: FileInfo) -> tuple[str, ...]:
    """The first non-blank record, after an Excel ``sep=;`` line if there is one."""
    first = True
    try:
        for row in reader:
            if row and any(f.strip() for f in row):
                if first and separator_hint(str(info.delimiter).join(row)) == info.delimiter:
                    first = False
                    continue
                fields = [f.strip() for f in row]
                fields[0] = fields[0].lstrip("\ufeff").strip()
                return tuple(fields)
    except csv.Error as exc:
        raise _quoting_error(info, exc, start=1, line=reader.line_num) from exc
    raise ImportFileError(f"{info.path}: no header line (the file is blank)")


def _quoting_error(info: FileInfo, exc: csv.Error, *, start: int, line: int) -> ImportFileError:
    text = str(exc)
    if "unexpected end of data" in text:
        what = f"unterminated quoted field: the quote opened in the record starting on line {start} never closes"
    elif "field larger than field limit" in text:
        limit = csv.field_size_limit()
        what = (
            f"unterminated quoted field: the record starting on line {start} runs on for more than {limit:,} "
            "characters (a quote that never closes, or a field far too long for a contact file)"
        )
    elif "expected after" in text:
        what = f"malformed quoting on line {line}: a closing quote must be followed by the delimiter ({text})"
    else:
        what = f"line {line}: {text}"
    return ImportFileError(f"{info.path}: {what}; nothing was imported")


def _read_csv(info: FileInfo, headers: tuple[str, ...], progress: ProgressFn | None) -> SourceRows:
    width = len(headers)
    chunks: list[list[Any]] = [[] for _ in range(width)]
    line_chunks: list[Any] = []
    ragged: list[RaggedRow] = []
    blank = 0
    read = 0
    with _open_text(info) as fh, _no_gc():
        reader = _csv_reader(fh, info)
        _next_header(reader, info)
        try:
            for chunk in _csv_chunks(reader, width, reader.line_num + 1):
                ragged.extend(chunk.ragged)
                blank += chunk.blank
                read += chunk.records
                if chunk.columns:
                    for i, values in enumerate(chunk.columns):
                        chunks[i].append(values)
                    line_chunks.append(chunk.lines)
                if progress is not None:
                    progress(read)
        except _CsvFailure as failure:
            raise _quoting_error(info, failure.error, start=failure.start, line=failure.line) from failure.error
    columns = tuple(pa.chunked_array(c, pa.string()) for c in chunks)
    return SourceRows(headers, columns, pa.chunked_array(line_chunks, pa.int64()), tuple(ragged), read, blank)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of short-lived lists are made (they hold no cycles).

    Without this, CPython's collector repeatedly scans the growing chunk of rows and reading a large file takes
    about twice as long.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _CsvFailure(Exception):
    def __init__(self, error: csv.Error, start: int, line: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.start = start
        self.line = line


@dataclass(frozen=True, slots=True, eq=False)
class _Chunk:
    """Up to ``CHUNK_ROWS`` records as Arrow columns with their start lines; identity equality (Arrow data)."""

    columns: list[Any]
    lines: Any
    ragged: list[RaggedRow]
    blank: int
    records: int


def _csv_chunks(reader: Any, width: int, first_line: int) -> Iterator[_Chunk]:
    """Parse the records chunk by chunk, noting the physical line each one ends on.

    ``reader.line_num`` counts the physical lines consumed so far, so a record starts one line after the
    previous one ended. The loop over records does nothing else -- per-row Python work doubles the cost of
    reading -- and the rare odd rows (blank, too short, too long) are found afterwards from the row lengths.
    """
    previous_end = first_line - 1
    while True:
        rows: list[list[str]] = []
        ends: list[int] = []
        keep_row, keep_end = rows.append, ends.append
        try:
            for row in itertools.islice(reader, CHUNK_ROWS):
                keep_row(row)
                keep_end(reader.line_num)
        except csv.Error as exc:
            raise _CsvFailure(exc, (ends[-1] if ends else previous_end) + 1, reader.line_num) from exc
        if not rows:
            return
        end_lines = pa.array(ends, pa.int64())
        starts = pa.concat_arrays(
            [pa.array([previous_end + 1], pa.int64()), pc.add(end_lines.slice(0, len(ends) - 1), 1)]
        )
        previous_end = ends[-1]
        yield _shape(rows, starts, width)


def _shape(rows: list[list[str]], starts: Any, width: int) -> _Chunk:
    """Set aside blank and ragged rows, trim trailing empty fields, and turn the rest into Arrow columns.

    Trailing empty fields beyond the header's width (a common spreadsheet artefact) are dropped; any other
    width mismatch makes the row ragged. A row whose fields are all empty counts as a blank line.
    """
    lengths = pa.array(list(map(len, rows)), pa.int64())
    odd = pc.indices_nonzero(pc.not_equal(lengths, width)).to_pylist()
    ragged: list[RaggedRow] = []
    dropped: set[int] = set()
    blank = 0
    for i in odd:
        row = rows[i]
        if not row:
            blank += 1
            dropped.add(i)
        elif len(row) > width and not any(row[width:]):
            rows[i] = row[:width]
        else:
            ragged.append(RaggedRow(starts[i].as_py(), tuple(row)))
            dropped.add(i)
    if dropped:
        keep = pa.array([i not in dropped for i in range(len(rows))])
        rows = [row for i, row in enumerate(rows) if i not in dropped]
        starts = pc.filter(starts, keep)
    columns = _transpose(rows, width) if rows else []
    if columns:
        empty = functools.reduce(pc.and_, (pc.equal(c, "") for c in columns))
        n_empty = pc.sum(pc.cast(empty, pa.int64())).as_py() or 0
        if n_empty:
            blank += n_empty
            filled = pc.invert(empty)
            columns = [pc.filter(c, filled) for c in columns]
            starts = pc.filter(starts, filled)
    return _Chunk(columns, starts, ragged, blank, len(starts) + len(ragged))


def _transpose(rows: list[list[str]], width: int) -> list[Any]:
    """Rows of strings into one Arrow array per column: one flat array, then a strided take per column."""
    flat = pa.array(list(itertools.chain.from_iterable(rows)), pa.string())
    starts = pc.multiply(pa.array(range(len(rows)), pa.int64()), width)
    return [pc.take(flat, pc.add(starts, i)) for i in range(width)]


# -- Parquet -----------------------------------------------------------------------------------------------------


def _parquet_file(info: FileInfo) -> Any:
    try:
        return pq.ParquetFile(info.path)
    except (OSError, pa.ArrowException) as exc:
        raise ImportFileError(f"{info.path}: not a readable Parquet file: {exc}") from exc


def _read_parquet(info: FileInfo, headers: tuple[str, ...], progress: ProgressFn | None) -> SourceRows:
    pf = _parquet_file(info)
    batches = []
    read = 0
    try:
        for batch in pf.iter_batches(batch_size=CHUNK_ROWS):
            batches.append(batch)
            read += batch.num_rows
            if progress is not None:
                progress(read)
    except (OSError, pa.ArrowException) as exc:
        raise ImportFileError(f"{info.path}: not a readable Parquet file: {exc}") from exc
    table = pa.Table.from_batches(batches, schema=pf.schema_arrow)
    columns = tuple(table.column(i) for i in range(table.num_columns))
    lines = pa.chunked_array([pa.array(range(1, read + 1), pa.int64())])
    return SourceRows(headers, columns, lines, (), read, 0)
