"""``import_file``: one customer file into one raw table, as one landed batch, with every record accounted for.

The steps, each of which can stop the import before anything is written:

1. look at the file (format, encoding, delimiter, checksum) -- ``detect``
2. read the header, match it to raw columns (mapping file, exact names, synonyms) and check it -- ``headers``,
   ``mapping``, ``checks``
3. read every record with its source line -- ``readers``
4. parse and check every column, vectorized; the first failing rule is the row's reason -- ``rules``, ``rows``
5. drop earlier duplicates of a key (the last occurrence wins) and classify keys as new or updates, completing
   contacts from their current record -- ``upsert``
6. land the good rows as one batch, then put the rejects file in place, and report -- ``herald.landing``,
   ``rejects``

Whole-file problems raise ``ImportFileError`` (or a subclass, see ``errors``) and leave the landing zone as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from herald import clock, landing
from herald.errors import ImportFileError
from herald.importing import checks, rows
from herald.importing.detect import FileInfo, inspect_file
from herald.importing.headers import ColumnPlan, match_columns
from herald.importing.kinds import DateOrder, Kind, UnknownColumns
from herald.importing.mapping import Mapping, load_mapping
from herald.importing.readers import read_headers, read_rows
from herald.importing.rejects import Reject, commit_rejects, default_rejects_path, discard_rejects, write_rejects
from herald.importing.report import ColumnDateOrder, ImportReport
from herald.importing.upsert import previous_imports, upsert
from herald.landing import BatchCounts
from herald.own_tables import own_tables
from herald.project import Project
from herald.raw_schema import CONSENT_EVENTS, RawTable


def import_file(
    project: Project,
    kind: Kind,
    path: Path,
    *,
    mapping_path: Path | None = None,
    rejects_path: Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    date_order: DateOrder = "auto",
    unknown_columns: UnknownColumns = "error",
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import a CSV or Parquet file of ``kind`` into its raw table as one new batch. Eager.

    Good records land together in one batch (none when there are no good records); each rejected record is
    written with its line and reason to ``rejects_path`` (default ``<file stem>.rejects.csv`` beside the file).
    ``progress`` is called with the running count of records read. Raises ``ImportFileError`` (or a subclass)
    when the file cannot be imported as a whole, and ``ValueError`` for an option outside its choices; nothing is
    written then.

    >>> report = import_file(project, "profiles", Path("crm-export.csv"), unknown_columns="attributes")
    >>> print(report.summary())
    """
    path = Path(path)
    table = checks.check_options(path, kind, date_order, unknown_columns)
    if (own := own_tables(project).get(table.name)) is not None:
        raise ImportFileError(
            f"{path}: {table.name} is read from {own} (vars.herald_sources in dbt_project.yml), not from the "
            "landing zone: load the file into that relation instead; nothing was imported"
        )
    mapping = load_mapping(Path(mapping_path), table) if mapping_path is not None else Mapping()
    order: DateOrder = date_order if date_order != "auto" else (mapping.date_order or "auto")
    info = inspect_file(path, encoding=encoding, delimiter=delimiter)
    headers = read_headers(info)
    plan, skipped = checks.skip_reject_columns(match_columns(path, headers, table, mapping.columns), headers)
    checks.check_required(path, headers, plan, table, mapping)
    attribute_keys = checks.check_unknown(path, table, plan, headers, unknown_columns)
    today = clock.now().date()
    defaults = checks.typed_defaults(mapping_path or path, table, mapping, info.delimiter, order, today)
    checks.check_value_mappings(mapping_path or path, table, mapping, info.delimiter, today)

    source = read_rows(info, headers, progress)
    checked = rows.check_rows(path, table, plan, source, defaults, order, info.delimiter, today, mapping)
    good = pc.indices_nonzero(pc.is_null(checked.reasons))
    reasons = checked.reasons
    if len(good):
        reasons, good = rows.drop_duplicates(table, checked, source, good)
    folded = rows.folded_attributes(source, plan, attribute_keys) if attribute_keys else None
    batch_id = landing.new_batch_id()
    incoming = rows.incoming_table(table, checked, source, good, folded, batch_id)
    sorted_out = _Sorted(
        headers=headers,
        incoming=incoming,
        rejects=rows.rejected_records(source, reasons),
        rows_read=source.rows_read,
        folded=folded is not None,
        date_orders=checked.date_orders,
        warnings=(
            *skipped,
            *info.warnings,
            *rows.blank_warnings(source, plan),
            *checked.notes,
            *(rows.topic_notes(incoming) if table is CONSENT_EVENTS else ()),
            *(("the file has a header but no records",) if source.rows_read == 0 else ()),
        ),
    )
    target = Path(rejects_path) if rejects_path is not None else default_rejects_path(path)
    return _land(project, kind, table, info, plan, sorted_out, batch_id, target, unknown=bool(attribute_keys))


@dataclass(frozen=True, slots=True, eq=False)
class _Sorted:
    """The records of a file sorted into rows to land and rejects; identity equality (holds Arrow data)."""

    headers: tuple[str, ...]
    incoming: pa.Table
    rejects: list[Reject]
    rows_read: int
    folded: bool
    date_orders: tuple[ColumnDateOrder, ...]
    warnings: tuple[str, ...]


def _land(
    project: Project,
    kind: Kind,
    table: RawTable,
    info: FileInfo,
    plan: ColumnPlan,
    out: _Sorted,
    batch_id: str,
    target: Path,
    *,
    unknown: bool,
) -> ImportReport:
    """Classify inserts and updates, land the batch, then move the rejects file into place."""
    path = info.path
    if out.rejects and target.resolve() == path.resolve():
        raise ImportFileError(f"{path}: the rejects file would overwrite the file being imported")
    warnings = list(out.warnings)
    data, updated = None, 0
    with duckdb.connect(":memory:") as con:
        if previous := previous_imports(con, project, table, info.sha256):
            warnings.append(f"this file was imported into {table.name} before (batch {previous[-1]})")
        if out.incoming.num_rows:
            carry = rows.carry_forward(table, plan)
            given = "attributes" not in carry
            result = upsert(
                con,
                project,
                table,
                out.incoming,
                carry_forward=carry,
                merge_folded=out.folded and not given,
                folded_into_given=out.folded and given,
            )
            data, updated = result.data, result.updated
    landed = out.incoming.num_rows
    counts = BatchCounts(read=out.rows_read, inserted=landed - updated, updated=updated, rejected=len(out.rejects))
    if not counts.adds_up():  # an accounting bug must never land data
        raise AssertionError(f"import counts do not add up: {counts}")

    partial = None
    if out.rejects:
        partial = write_rejects(target, out.headers, out.rejects, delimiter=info.delimiter or ",")
    try:
        if data is not None:
            landing.land_batch(
                project, table, data, source_file=path.name, counts=counts, source_sha256=info.sha256, batch_id=batch_id
            )
    except BaseException:
        if partial is not None:
            discard_rejects(partial)
        raise
    if partial is not None:
        commit_rejects(partial, target)
    elif target.exists():
        warnings.append(f"{target} is from an earlier import: this one rejected nothing")
    unmatched = tuple(out.headers[i] for i in plan.unmatched)
    return ImportReport(
        kind=kind,
        table=table.name,
        source_file=path,
        source_sha256=info.sha256,
        batch_id=batch_id if data is not None else None,
        rows_read=counts.read,
        rows_inserted=counts.inserted,
        rows_updated=counts.updated,
        rows_rejected=counts.rejected,
        rejects_path=target if out.rejects else None,
        file_format=info.file_format,
        encoding=info.encoding,
        delimiter=info.delimiter,
        matches=plan.matches,
        unmatched=unmatched,
        unmatched_action=None if not unmatched else ("attributes" if unknown else "ignore"),
        date_orders=out.date_orders,
        warnings=tuple(warnings),
    )
