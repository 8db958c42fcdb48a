"""``herald ingest events FILE``: bulk-load a provider's event export through the webhook's own normalizer.

A file is a JSON array of SendGrid events or JSON lines (one event, or one array of events, per line). Every
event becomes a row of one landing batch (``esp_events``) or a reject, with its line number and reason, in a
rejects file (JSON lines) — never silently dropped: ``read == landed + rejected``. An unreadable file, or a JSON
array that does not parse, raises ``TrackingError`` (exit code 2) and lands nothing.

``herald ingest flush`` compacts the spool now (see ``senders.tracking.spool``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from herald.landing import BatchCounts, arrow_schema, land_batch, sha256_of
from herald.project import Project
from herald.raw_schema import ESP_EVENTS
from senders.errors import TrackingError
from senders.tracking.normalize import Reject, Row, sendgrid_row

Format = Literal["json", "jsonl"]


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one file gave; equal when every field is equal. ``read == landed + rejected`` always holds."""

    path: Path
    read: int
    landed: int
    rejected: int
    batch_id: str | None
    rejects_path: Path | None

    def summary(self) -> str:
        text = f"{self.path.name}: read {self.read:,}, landed {self.landed:,}, rejected {self.rejected:,}"
        if self.batch_id:
            text += f" (batch {self.batch_id})"
        if self.rejects_path:
            text += f"\nRejected events, with line and reason: {self.rejects_path}"
        return text


def default_rejects_path(path: Path) -> Path:
    return path.with_name(path.name + ".rejects.jsonl")


def ingest_events(
    project: Project, path: Path, *, fmt: Format | None = None, rejects_path: Path | None = None
) -> IngestReport:
    """Land the SendGrid events of ``path`` as one batch. Eager: landed (and rejects written) on return."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrackingError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    fmt = fmt or guess_format(path, text)
    located = _json_array(text, path) if fmt == "json" else _json_lines(text)
    rows: list[Row] = []
    lines: list[int] = []
    rejects: list[tuple[int, Reject]] = []
    for line, event in located:
        out = event if isinstance(event, Reject) else sendgrid_row(event, f"line {line}")
        if isinstance(out, Reject):
            rejects.append((line, out))
        else:
            rows.append(out)
            lines.append(line)
    target = rejects_path or default_rejects_path(path)
    if rejects:
        target.write_text(
            "".join(
                json.dumps({"line": n, "reason": r.reason, "event": r.event}, ensure_ascii=False, default=str) + "\n"
                for n, r in rejects
            ),
            encoding="utf-8",
        )
    batch_id = None
    if rows:
        schema = arrow_schema(ESP_EVENTS, with_batch_columns=False)
        data = pa.Table.from_pylist(rows, schema=schema)
        data = data.append_column("_line_number", pa.array(lines, pa.int64()))
        landed = land_batch(
            project,
            ESP_EVENTS,
            data,
            source_file=path.name,
            counts=BatchCounts(read=len(located), inserted=len(rows), updated=0, rejected=len(rejects)),
            source_sha256=sha256_of(path),
        )
        batch_id = landed.batch_id
    return IngestReport(path, len(located), len(rows), len(rejects), batch_id, target if rejects else None)


def guess_format(path: Path, text: str) -> Format:
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return "jsonl"
    return "json" if text.lstrip().startswith("[") and path.suffix.lower() != ".jsonl" else "jsonl"


def _json_lines(text: str) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            out.append((number, Reject(f"line {number}", f"not JSON: {exc}", line)))
            continue
        out.extend((number, v) for v in value) if isinstance(value, list) else out.append((number, value))
    return out


def _json_array(text: str, path: Path) -> list[tuple[int, Any]]:
    """The elements of a JSON array with the line each starts on (a rejects file points at the right line)."""
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if pos >= len(text) or text[pos] != "[":
        raise TrackingError(f"{path} is not a JSON array of events (use --format jsonl for JSON lines)")
    out: list[tuple[int, Any]] = []
    line, counted = 1, 0
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == "]":
        return out
    while True:
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise TrackingError(f"{path} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
        line += text.count("\n", counted, pos)
        counted = pos
        out.append((line, value))
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]" and not text[pos + 1 :].strip():
            return out
        raise TrackingError(f"{path} is not valid JSON: expected ',' or ']' at line {text.count(chr(10), 0, pos) + 1}")


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
