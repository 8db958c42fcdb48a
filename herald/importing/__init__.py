"""``herald import``: customer files (CSV or Parquet) into the raw landing zone, one batch per file.

    from herald.importing import import_file
    report = import_file(project, "profiles", Path("crm-export.csv"))
    print(report.summary())

The library does the work; the CLI command is a thin wrapper over ``import_file``. Kinds and the raw tables they
land in: ``profiles`` -> crm_contacts, ``consents`` -> consent_events, ``orders`` -> shop_orders,
``order_lines`` -> shop_order_lines. Modules, in the order an import uses them: ``detect`` (format, encoding,
delimiter), ``headers`` and ``mapping`` (which header is which column), ``readers`` (records and their lines),
``rules``, ``values`` and ``dates`` (parsing and checking), ``upsert`` (duplicates, inserts vs updates),
``rejects`` and ``report``. ``errors`` draws the exception tree.
"""

from herald.importing.errors import AmbiguousDatesError, MappingFileError, MissingColumnsError, UnknownColumnsError
from herald.importing.importer import import_file
from herald.importing.kinds import KIND_TABLES, KINDS, DateOrder, Kind, UnknownColumns
from herald.importing.report import ColumnDateOrder, ColumnMatch, ImportReport

__all__ = [
    "KINDS",
    "KIND_TABLES",
    "AmbiguousDatesError",
    "ColumnDateOrder",
    "ColumnMatch",
    "DateOrder",
    "ImportReport",
    "Kind",
    "MappingFileError",
    "MissingColumnsError",
    "UnknownColumns",
    "UnknownColumnsError",
    "import_file",
]
