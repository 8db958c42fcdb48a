"""``herald import``: customer files (CSV or Parquet) into the raw landing zone, one batch per file.

    from herald.importing import import_file
    report = import_file(project, "profiles", Path("crm-export.csv"))
    print(report.summary())

The library does the work; the CLI command is a thin wrapper over ``import_file``. Kinds and the raw tables they
land in: ``profiles`` -> crm_contacts, ``consents`` -> consent_events, ``orders`` -> shop_orders,
``order_lines`` -> shop_order_lines, ``payments`` -> shop_payments. Modules, in the order an import uses them:
``detect`` (format, encoding, delimiter), ``headers``, ``mapping`` and ``checks`` (which header is which column),
``readers`` (records and their lines), ``rules``, ``values``, ``dates`` and ``rows`` (parsing and checking),
``upsert`` (duplicates, inserts vs updates), ``rejects`` and ``report``; ``importer`` runs them. ``errors`` draws
the exception tree.

Decisions, and why:

- A whole-file problem (unreadable, binary, undecodable, broken quoting, no header, a required column missing,
  unknown columns, ambiguous dates) stops the import before anything is written. A problem with one record
  rejects that record only: a row with the wrong number of fields, a bad value, a duplicate.
- Each rejected record gets one reason, the first failing rule (columns in raw-table order, a value's format
  before "required"). Its line is the physical line where the record starts, header = line 1.
- Every text value is trimmed; an empty cell is null. Values are stored as typed, except for what is normalized:
  countries to ISO 3166 alpha-2 (codes, alpha-3, names in any language: ``pycountry`` and ``babel``), languages
  to ISO 639 (``fr-CA`` -> ``fr``), time zones to their IANA name (``countries``), and the value domains the
  warehouse tests (``herald.domains``: order and payment statuses, sales channels, currencies, consent channels
  and statuses) through their documented synonyms (``placed`` -> ``pending``, ``€`` -> ``EUR``).
- Nothing an import lands can fail a build: a value outside a tested domain or range rejects its row. An
  unrecognized country, language or time zone lands empty instead, with one warning per distinct value. A mapping
  file can add spellings (``values:``) and choose either behaviour per column (``unknown_values:``).
- An email that is present but not an address rejects the row: the contact is then unreachable by email and
  the value would silently count as "has email". Phones must have 6 to 15 digits and only formatting around them.
- Numbers: the rightmost of ``.`` and ``,`` is the decimal separator when both appear; a lone comma is decimal
  ("12,5") unless it groups thousands ("1,234,567"); "1,234" alone follows the column's other values, else the
  delimiter (``;`` = decimal comma). Currency symbols and thousands spaces are ignored.
- Dates: ISO, ``yyyy/mm/dd``, ``dd.mm.yyyy``, ``dd/mm/yyyy`` or ``mm/dd/yyyy``, month names, Excel serials
  10000-99999; timestamps with ``T`` or a space and an optional ``Z``/offset are stored in UTC (no offset means
  UTC). Day/month order is decided per column from values only one order can read; an all-ambiguous column
  follows the file's other date columns, then ``;`` files are day-first, otherwise the import stops and asks for
  ``date_order``. Two-digit years are rejected. A birth date cannot be in the future.
- Duplicates of a key within a file: the last good occurrence wins, earlier ones are rejected naming its line.
- Upserts: a key already landed counts as updated. For contacts, columns the file does not have keep the
  current landed values (latest batch wins), so every landed row is complete; an empty cell in a column the file
  has clears the value. Unknown columns folded into ``attributes`` merge into the current attributes (the file
  wins, an empty cell removes the key). Mapping defaults fill empty cells, and absent columns of new contacts.
- Consents without a source land as ``source = "import"`` and, without evidence, ``evidence_id`` = the batch id.
- Encodings: UTF-8 unless a byte-order mark says otherwise; when UTF-8 fails, cp1252 (Latin-1 if cp1252 cannot
  decode it), reported as a warning. The rejects file is UTF-8 with a BOM, in the input's delimiter, and can be
  fixed and imported again as it is.
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
