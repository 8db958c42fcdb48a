"""Direct mail: "sending" a letter is adding it to the extraction handed to a print provider.

Each ``send`` writes one Parquet part in one atomic rename (all letters of the call or none); ``lookup``
answers from exactly the parts on disk. When the run is sent, ``finish`` combines the parts:

    warehouse/extracts/<run_id>/
    ├── parts/<first message id>-<n>.parquet   one per send call (names starting with "." are being written)
    ├── <delivery_id>-<run_id>.csv             UTF-8, header row, RFC 4180 quoting, CRLF line ends
    ├── <delivery_id>-<run_id>.parquet         the same rows, sorted by message_id
    └── manifest.json                          run_id, delivery_id, created_at, row_count, columns, files

The manifest is written last: a print provider trusts only files the manifest lists with matching checksums.
``finish`` is idempotent: run again over the same parts it writes byte-identical files and keeps the first
manifest's ``created_at``; it refuses to replace an extraction whose manifest lists another row count unless
``overwrite=True``. Missing optional fields (full_name, address_line2) are empty strings, never nulls, so the
CSV and the Parquet file hold exactly the same values.

    ExtractError(SenderError)    the extraction cannot be finished (would replace another, parts disagree)
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from herald import clock
from herald.files import write_atomic
from herald.project import Project
from senders.errors import ProviderConfigError, SenderError
from senders.providers.base import Doubt, Outcome, OutgoingMessage, RequestRejected
from senders.providers.parts import outcomes, part_name, write_part

COLUMNS = (
    "message_id",
    "recipient_id",
    "full_name",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country_code",
    "letter_text",
)
POSTAL_FIELDS = COLUMNS[2:8]  # as the profiles mart names them, read from OutgoingMessage.data
REQUIRED_FIELDS = ("address_line1", "postal_code", "city", "country_code")
SCHEMA = pa.schema([pa.field(c, pa.string(), nullable=False) for c in COLUMNS])

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_=-][A-Za-z0-9_.=-]*$")


class ExtractError(SenderError):
    """A direct-mail extraction cannot be finished; the message says why."""


@dataclass(frozen=True, slots=True)
class Extract:
    """A finished extraction of one run; equal when every path, count and time is equal."""

    run_id: str
    delivery_id: str
    csv_path: Path
    parquet_path: Path
    manifest_path: Path
    row_count: int
    part_count: int
    created_at: dt.datetime


def extract_dir(project: Project, run_id: str) -> Path:
    return project.warehouse_dir / "extracts" / run_id


class DirectMailProvider:
    """Writes the letters of one run of one delivery into its extraction."""

    channel = "direct_mail"
    max_batch = 1000

    def __init__(self, project: Project, run_id: str, delivery_id: str) -> None:
        for what, value in (("run id", run_id), ("delivery id", delivery_id)):
            if not _SAFE_NAME.match(value):
                raise ProviderConfigError(f"{what} {value!r} cannot name an extraction file")
        self.project = project
        self.run_id = run_id
        self.delivery_id = delivery_id
        self.folder = extract_dir(project, run_id)
        self.parts_dir = self.folder / "parts"
        self._parts: set[str] = set()
        self._where: dict[str, str] = {}  # message_id -> part name
        self._unreadable = False

    def send(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        if not messages:
            return []
        if len(messages) > self.max_batch:
            raise RequestRejected(f"{len(messages)} letters in one call; at most {self.max_batch}")
        others = sorted({m.run_id for m in messages} - {self.run_id})
        if others:
            raise RequestRejected(f"this extraction is for run {self.run_id}; got letters of {', '.join(others)}")
        self._refresh()
        rows: dict[str, dict[str, str]] = {}
        problems: dict[str, str] = {}
        for m in messages:
            if m.channel != self.channel:
                problems[m.message_id] = f"channel {m.channel} is not direct_mail"
                continue
            missing = [f for f in REQUIRED_FIELDS if not (m.data.get(f) or "").strip()]
            if missing:
                problems[m.message_id] = f"missing postal field{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
            elif m.message_id not in self._where and m.message_id not in rows:
                postal = {f: m.data.get(f) or "" for f in POSTAL_FIELDS}
                rows[m.message_id] = {
                    "message_id": m.message_id,
                    "recipient_id": m.recipient_id,
                    **postal,
                    "letter_text": m.text,
                }
        if rows:
            self._write_part(list(rows.values()))
        return outcomes(messages, problems, self._where)

    def lookup(
        self, message_ids: Sequence[str], *, doubts: Mapping[str, Doubt] | None = None
    ) -> Mapping[str, bool | None]:
        """True for each letter in a visible part, False otherwise; None when a part could not be read."""
        self._refresh()
        absent: bool | None = None if self._unreadable else False
        return {mid: True if mid in self._where else absent for mid in message_ids}

    def close(self) -> None:
        self._parts.clear()
        self._where.clear()

    def finish(self, run_id: str | None = None, *, overwrite: bool = False) -> Extract:
        """Combine the parts into the CSV, the Parquet file and the manifest (eager; see the module doc)."""
        if run_id is not None and run_id != self.run_id:
            raise ExtractError(f"this extraction is for run {self.run_id}, not {run_id}")
        return finish_extract(self.project, self.run_id, self.delivery_id, overwrite=overwrite)

    def _write_part(self, rows: list[dict[str, str]]) -> None:
        target = self.parts_dir / part_name(rows[0]["message_id"], len(rows), ".parquet", fallback="letter")
        data = _parquet_bytes(pa.Table.from_pylist(rows, schema=SCHEMA))
        written = write_part(target, data, what=f"direct-mail part for run {self.run_id}")
        for r in rows:
            self._where[r["message_id"]] = written.name
        self._parts.add(written.name)

    def _refresh(self) -> None:
        self._unreadable = False
        for path in _part_paths(self.parts_dir):
            if path.name in self._parts:
                continue
            try:
                ids = pq.read_table(path, columns=["message_id"]).column("message_id").to_pylist()
            except (OSError, pa.ArrowException):
                self._unreadable = True
                continue
            for mid in ids:
                self._where.setdefault(mid, path.name)
            self._parts.add(path.name)


def finish_extract(project: Project, run_id: str, delivery_id: str, *, overwrite: bool = False) -> Extract:
    """Write ``<delivery_id>-<run_id>.csv`` / ``.parquet`` and ``manifest.json`` from the run's parts."""
    folder = extract_dir(project, run_id)
    parts = _part_paths(folder / "parts")
    rows = _combined_rows(parts)
    csv_data = _csv_bytes(rows)
    parquet_data = _parquet_bytes(pa.Table.from_pylist(rows, schema=SCHEMA))
    base = f"{delivery_id}-{run_id}"
    files = [
        {"name": f"{base}.csv", "bytes": len(csv_data), "sha256": _sha256(csv_data), "rows": len(rows)},
        {"name": f"{base}.parquet", "bytes": len(parquet_data), "sha256": _sha256(parquet_data), "rows": len(rows)},
    ]
    manifest_path = folder / "manifest.json"
    created_at = clock.now().replace(microsecond=0)
    if manifest_path.exists():
        before = json.loads(manifest_path.read_bytes())
        if before.get("row_count") != len(rows) and not overwrite:
            raise ExtractError(
                f"the manifest of run {run_id}'s extraction lists row_count={before.get('row_count')} and its "
                f"parts now hold {len(rows)} letters; pass overwrite=True to replace it"
            )
        if before.get("files") == files:
            created_at = dt.datetime.fromisoformat(before["created_at"])  # same content: same manifest
    manifest = {
        "run_id": run_id,
        "delivery_id": delivery_id,
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "row_count": len(rows),
        "columns": list(COLUMNS),
        "files": files,
    }
    csv_path, parquet_path = folder / f"{base}.csv", folder / f"{base}.parquet"
    write_atomic(csv_path, csv_data, durable=True)
    write_atomic(parquet_path, parquet_data, durable=True)
    write_atomic(manifest_path, (json.dumps(manifest, indent=2) + "\n").encode(), durable=True)
    return Extract(run_id, delivery_id, csv_path, parquet_path, manifest_path, len(rows), len(parts), created_at)


def _part_paths(folder: Path) -> list[Path]:
    try:
        with os.scandir(folder) as entries:
            names = [e.name for e in entries if e.name.endswith(".parquet") and not e.name.startswith(".")]
    except FileNotFoundError:
        return []
    return [folder / n for n in sorted(names)]


def _combined_rows(parts: list[Path]) -> list[dict[str, Any]]:
    """Every letter once, sorted by message_id; a letter in two parts (two senders raced) must be identical."""
    by_id: dict[str, dict[str, Any]] = {}
    for part in parts:
        for row in pq.read_table(part).select(list(COLUMNS)).to_pylist():
            kept = by_id.setdefault(row["message_id"], row)
            if kept != row:
                raise ExtractError(f"letter {row['message_id']} differs between two parts of {part.parent.parent}")
    return [by_id[k] for k in sorted(by_id)]


def _csv_bytes(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)  # RFC 4180
    writer.writerow(COLUMNS)
    writer.writerows([r[c] for c in COLUMNS] for r in rows)
    return out.getvalue().encode("utf-8")


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
