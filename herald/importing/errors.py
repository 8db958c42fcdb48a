"""The errors an import raises on purpose, all of them whole-file failures.

    HeraldError                          (herald.errors)
    └── ImportFileError                  the file cannot be imported as a whole; nothing was written
        ├── UnknownColumnsError          headers that match no raw column (unknown_columns="error")
        ├── MissingColumnsError          a required column is neither in the file nor in the mapping defaults
        ├── MappingFileError             the mapping file is unreadable or names columns that do not exist
        └── AmbiguousDatesError          a date column reads both day-first and month-first; say which

They subclass ``ImportFileError`` so the CLI treats them alike (exit code 2, one line on stderr), while callers
that want to offer a fix (a column picker, a date-order prompt) can catch the precise case and read its fields.
Problems with single records are never exceptions: they are rejected rows with a reason.
"""

from __future__ import annotations

from herald.errors import ImportFileError


class UnknownColumnsError(ImportFileError):
    """Some headers match no column of the raw table and ``unknown_columns`` is ``"error"``."""

    def __init__(self, message: str, *, columns: tuple[str, ...], suggestions: dict[str, str]) -> None:
        super().__init__(message)
        self.columns = columns
        self.suggestions = suggestions


class MissingColumnsError(ImportFileError):
    """A required raw column has no source: no header matches it and the mapping file gives no default."""

    def __init__(self, message: str, *, columns: tuple[str, ...]) -> None:
        super().__init__(message)
        self.columns = columns


class MappingFileError(ImportFileError):
    """The mapping file cannot be read, or it names raw columns or source headers that do not exist."""


class AmbiguousDatesError(ImportFileError):
    """A date column's values read equally well as dd/mm/yyyy and mm/dd/yyyy and nothing says which."""

    def __init__(self, message: str, *, column: str, example: str, line_number: int) -> None:
        super().__init__(message)
        self.column = column
        self.example = example
        self.line_number = line_number
