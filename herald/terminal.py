"""Text for the terminal: the tables every listing of ``herald`` prints."""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence


def format_table(header: Sequence[str], rows: Iterable[Sequence[str]], *, right: Container[int] = ()) -> str:
    """``rows`` under a ``header`` row, each column as wide as its widest cell, two spaces apart; the columns whose
    index is in ``right`` (numbers) are aligned right, header included. Every listing of ``herald`` prints so."""
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(cell) for cell in column) for column in zip(*table, strict=True)]

    def line(row: list[str]) -> str:
        cells = (c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        return "  ".join(cells).rstrip()

    return "\n".join(line(row) for row in table)
