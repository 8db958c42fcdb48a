"""Dates and timestamps as spreadsheets and exports write them, parsed column-wise with Arrow kernels.

Accepted, per value:

- year first: ``2024-03-15``, ``2024/03/15``, ``2024.03.15``, ``20240315``
- day first with dots: ``15.03.2024`` (always day-first: nobody writes month-first with dots)
- slashes or dashes with the year last: ``15/03/2024`` or ``03/15/2024`` -- the column's order decides
- month names: ``15 Mar 2024``, ``15-March-2024``, ``March 15, 2024``
- Excel serial day numbers from 10000 to 99999 (1927-05-18 to 2173-10-14), with a fraction for the time of day
  (``45366.5`` or ``45366,5``); a bare four-digit number is more likely a year and is rejected
- an optional time ``T10:30``, `` 10:30:15.123``, ``2:30 PM``, followed by an optional ``Z``, ``UTC`` or offset
  (``+02:00``, ``+0200``, ``-05``): timestamps are converted to UTC and stored without a time zone; a value without
  an offset is taken as UTC already

Two-digit years are rejected: "03/04/05" has too many readings to guess. A date column given a full timestamp keeps
its calendar date (as written, before any offset). Invalid calendar dates (31/02) are rejected, never rolled over.

Whether ``03/04/2024`` is the 3rd of April or the 4th of March is decided per column by ``column_order``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

from herald.importing.report import ResolvedDateOrder
from herald.importing.values import (
    NULL_TEXT,
    Column,
    Parsed,
    as_text,
    clean_text,
    first_reason,
    map_distinct,
    reasons_where,
    scatter,
    via_distinct,
    word_key,
)

TemporalType = Literal["date", "timestamp"]

_TIME = (
    r"(?:(?:T|\s+)(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<F>\d{1,9}))?)?"
    r"(?:\s*(?P<P>[AaPp])\.?[Mm]\.?)?"
    r"(?:\s*(?P<Z>[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?))?)?$"
)
_TIME_FIELDS = ("H", "M", "S", "F", "P", "Z")
_YEAR_FIRST = r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME
_DOTTED = r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})" + _TIME
_SLASHED = r"^(?P<a>\d{1,2})[/-](?P<b>\d{1,2})[/-](?P<y>\d{4})" + _TIME
_COMPACT = r"^(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})$"
_DAY_MONTH_NAME = r"^(?P<d>\d{1,2})\.?[\s\-/]*(?P<mon>\p{L}{3,9})\.?[\s\-/,]+(?P<y>\d{4})" + _TIME
_MONTH_NAME_DAY = r"^(?P<mon>\p{L}{3,9})\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<y>\d{4})" + _TIME
_SERIAL = r"^\d{5}(?:[.,]\d+)?$"
_TWO_DIGIT_YEAR = r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2}(?:\D|$)"
_OFFSET = r"^(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})?$"

_MONTHS = {
    "jan": 1, "january": 1, "janvier": 1, "januar": 1, "feb": 2, "february": 2, "fevrier": 2, "februar": 2,
    "mar": 3, "march": 3, "mars": 3, "marz": 3, "mrz": 3, "apr": 4, "april": 4, "avril": 4, "may": 5, "mai": 5,
    "jun": 6, "june": 6, "juin": 6, "juni": 6, "jul": 7, "july": 7, "juillet": 7, "juli": 7, "aug": 8,
    "august": 8, "aout": 8, "sep": 9, "sept": 9, "september": 9, "septembre": 9, "oct": 10, "october": 10,
    "octobre": 10, "okt": 10, "oktober": 10, "nov": 11, "november": 11, "novembre": 11, "dec": 12,
    "december": 12, "decembre": 12, "dez": 12, "dezember": 12,
}  # fmt: skip
_EXCEL_EPOCH_OFFSET = 25569  # Excel serial of 1970-01-01 (1900 date system)
_US_PER_DAY = 86_400_000_000
_PATTERN_NAMES: dict[ResolvedDateOrder, str] = {"dmy": "dd/mm/yyyy", "mdy": "mm/dd/yyyy", "ymd": "yyyy-mm-dd"}


@dataclass(frozen=True, slots=True)
class SlashEvidence:
    """What a column's ``a/b/yyyy`` values say about their order; equal when every count and example is equal.

    ``day_first`` counts values only dd/mm can read (first part above 12), ``month_first`` those only mm/dd can
    read; ``ambiguous`` those both can read, differently (03/04). ``example_row`` indexes the first ambiguous one.
    """

    day_first: int
    month_first: int
    ambiguous: int
    example: str | None = None
    example_row: int | None = None

    @property
    def decided(self) -> ResolvedDateOrder | None:
        if self.day_first > self.month_first:
            return "dmy"
        if self.month_first > self.day_first:
            return "mdy"
        return None


def slash_evidence(values: Column) -> SlashEvidence:
    """Count the distinct values of a text column that only one day/month order can read. Vectorized."""
    if _typed(values, "date") is not None:
        return SlashEvidence(0, 0, 0)
    text = clean_text(values)
    distinct = pc.unique(text)
    parts = pc.extract_regex(distinct, _SLASHED)
    a = _int(pc.struct_field(parts, "a"))
    b = _int(pc.struct_field(parts, "b"))
    day_first = pc.and_(pc.greater(a, 12), pc.less_equal(b, 12))
    month_first = pc.and_(pc.greater(b, 12), pc.less_equal(a, 12))
    ambiguous = pc.and_(pc.and_(pc.less_equal(a, 12), pc.less_equal(b, 12)), pc.not_equal(a, b))
    n_ambiguous = _count(ambiguous)
    example = row = None
    if n_ambiguous:
        example = pc.filter(distinct, pc.fill_null(ambiguous, False))[0].as_py()
        row = pc.index(text, example).as_py()
    return SlashEvidence(_count(day_first), _count(month_first), n_ambiguous, example, row)


def _count(mask: Column) -> int:
    return int(pc.sum(pc.cast(pc.fill_null(mask, False), pa.int64())).as_py() or 0)


def _int(text: Column) -> Column:
    return pc.cast(pc.if_else(pc.equal(text, ""), NULL_TEXT, text), pa.int64())


def _field(parts: Column, name: str) -> Column:
    return pc.if_else(pc.equal(pc.struct_field(parts, name), ""), NULL_TEXT, pc.struct_field(parts, name))


def parse_temporal(
    column: str,
    values: Column,
    kind: TemporalType,
    order: ResolvedDateOrder,
    *,
    not_after: dt.date | None = None,
) -> Parsed:
    """Parse a column into ``date32`` or ``timestamp[us]`` (UTC); ``order`` reads ``a/b/yyyy`` values."""
    typed = _typed(values, kind)
    if typed is not None:
        return _check_not_after(column, Parsed(typed), values, not_after)
    text = clean_text(values)
    parsed = via_distinct(text, lambda t: _parse_text(column, t, kind, order))
    return _check_not_after(column, parsed, text, not_after)


# Strict ISO 8601, which Arrow's own cast parses (and validates) at C++ speed.
_ISO_NAIVE = r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?$"
_ISO_ZONED = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def _parse_text(column: str, text: Column, kind: TemporalType, order: ResolvedDateOrder) -> Parsed:
    """Strict ISO values through Arrow's cast; everything else (and ISO values the cast refuses) field by field."""
    arrow_type = pa.date32() if kind == "date" else pa.timestamp("us")
    result = pa.nulls(len(text), arrow_type)
    handled = None
    for pattern, zoned in ((_ISO_NAIVE, False), (_ISO_ZONED, True)):
        mask = pc.fill_null(pc.match_substring_regex(text, pattern), False)
        if not pc.any(mask).as_py():
            continue
        cast = _cast_iso(pc.filter(text, mask), kind, zoned)
        if cast is None:
            continue  # some value is not a real date: leave them all to the careful path
        result = scatter(result, mask, cast)
        handled = mask if handled is None else pc.or_(handled, mask)
    rest = pc.is_valid(text) if handled is None else pc.and_(pc.is_valid(text), pc.invert(handled))
    rest = pc.fill_null(rest, False)
    if not pc.any(rest).as_py():
        return Parsed(result)
    careful = _parse_fields(column, pc.filter(text, rest), kind, order)
    reasons = None
    if careful.reasons is not None:
        reasons = scatter(pa.nulls(len(text), pa.string()), rest, careful.reasons)
    return Parsed(scatter(result, rest, careful.values), reasons)


def _cast_iso(text: Column, kind: TemporalType, zoned: bool) -> Column | None:
    try:
        if zoned:
            stamp = pc.cast(pc.cast(text, pa.timestamp("us", tz="UTC")), pa.timestamp("us"))
        else:
            stamp = pc.cast(text, pa.timestamp("us"))
        if kind == "date":
            return pc.cast(pc.utf8_slice_codeunits(text, 0, 10), pa.date32())  # the date as written
        return stamp
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _parse_fields(column: str, text: Column, kind: TemporalType, order: ResolvedDateOrder) -> Parsed:
    """Every accepted format, by extracting year, month, day and time fields with regular expressions."""
    fields = _components(text, order)
    y, m, d = fields["y"], fields["m"], fields["d"]
    date_ok = _calendar_ok(y, m, d)
    days = pc.if_else(date_ok, _days_from_civil(y, m, d), pa.scalar(None, pa.int64()))

    serial_text = pc.replace_substring(pc.if_else(pc.match_substring_regex(text, _SERIAL), text, NULL_TEXT), ",", ".")
    serial = pc.cast(serial_text, pa.float64())
    serial_days = pc.subtract(pc.cast(pc.floor(serial), pa.int64()), _EXCEL_EPOCH_OFFSET)

    micros = _micros(days, fields)
    if kind == "date":
        days = pc.if_else(pc.is_valid(micros), days, pa.scalar(None, pa.int64()))  # a time, if any, must be valid
        result = pc.cast(pc.cast(pc.coalesce(days, serial_days), pa.int32()), pa.date32())
        noun = "is not a date"
    else:
        seconds = pc.cast(pc.round(pc.multiply(pc.subtract(serial, pc.floor(serial)), 86_400.0)), pa.int64())
        serial_micros = pc.add(pc.multiply(serial_days, _US_PER_DAY), pc.multiply(seconds, 1_000_000))
        result = pc.cast(pc.coalesce(micros, serial_micros), pa.timestamp("us"))
        noun = "is not a date and time"

    bad = pc.and_(pc.is_valid(text), pc.is_null(result))
    two_digit = pc.match_substring_regex(text, _TWO_DIGIT_YEAR)
    slashed = pc.match_substring_regex(text, _SLASHED)
    message = pc.if_else(
        two_digit,
        "has a two-digit year; write the year in full",
        pc.if_else(slashed, f"is not a valid date (read as {_PATTERN_NAMES[order]})", noun),
    )
    return Parsed(result, reasons_where(bad, column, text, message))


def _check_not_after(column: str, parsed: Parsed, values: Column, limit: dt.date | None) -> Parsed:
    if limit is None:
        return parsed
    late = pc.fill_null(pc.greater(parsed.values, pa.scalar(limit, pa.date32())), False)
    future = reasons_where(late, column, as_text(values), "is in the future")
    if future is None:
        return parsed
    reasons = first_reason(parsed.reasons, future)
    return Parsed(pc.if_else(late, pa.scalar(None, pa.date32()), parsed.values), reasons)


def _typed(values: Column, kind: TemporalType) -> Column | None:
    """Parquet date and timestamp columns need no parsing: convert to UTC and the raw column's type."""
    t = values.type
    if pa.types.is_timestamp(t):
        utc = pc.cast(values, pa.timestamp("us", tz="UTC"), safe=False) if t.tz else values
        naive = pc.cast(utc, pa.timestamp("us"), safe=False)
        return pc.cast(naive, pa.date32()) if kind == "date" else naive
    if pa.types.is_date(t):
        date = pc.cast(values, pa.date32())
        return date if kind == "date" else pc.cast(date, pa.timestamp("us"))
    return None


def _components(text: Column, order: ResolvedDateOrder) -> dict[str, Column]:
    """Year, month, day and time fields of every value, from whichever format it is written in."""
    year_first = _extract(text, _YEAR_FIRST)
    dotted = _extract(text, _DOTTED)
    slashed = _extract(text, _SLASHED)
    compact = _extract(text, _COMPACT)
    day_name = _extract(text, _DAY_MONTH_NAME)
    name_day = _extract(text, _MONTH_NAME_DAY)
    a, b = _int(_field(slashed, "a")), _int(_field(slashed, "b"))
    if order == "dmy":
        slash_d, slash_m = a, b
    elif order == "mdy":
        slash_d, slash_m = b, a
    else:  # year-first only: a/b/yyyy values cannot be read
        slash_d = slash_m = pa.nulls(len(text), pa.int64())
    month_name = pc.coalesce(_field(day_name, "mon"), _field(name_day, "mon"))
    named_month, _ = map_distinct(month_name, _month_number)
    parts_with_time = (year_first, dotted, slashed, day_name, name_day)
    fields = {
        "y": pc.coalesce(*(_int(_field(p, "y")) for p in (year_first, dotted, slashed, compact, day_name, name_day))),
        "m": pc.coalesce(
            *(_int(_field(p, "m")) for p in (year_first, dotted)),
            slash_m,
            _int(_field(compact, "m")),
            pc.cast(named_month, pa.int64()),
        ),
        "d": pc.coalesce(
            *(_int(_field(p, "d")) for p in (year_first, dotted)),
            slash_d,
            *(_int(_field(p, "d")) for p in (compact, day_name, name_day)),
        ),
    }
    for name in _TIME_FIELDS:
        fields[name] = pc.coalesce(*(_field(p, name) for p in parts_with_time))
    return fields


def _extract(text: Column, pattern: str) -> Column:
    """Named groups of ``pattern`` per value (null where it does not match).

    Extraction is several times slower than matching, and a column is usually written in one format, so formats
    that match nothing are not extracted at all.
    """
    if pc.any(pc.match_substring_regex(text, pattern)).as_py():
        return pc.extract_regex(text, pattern)
    names = re.findall(r"\(\?P<(\w+)>", pattern)
    empty = pa.nulls(len(text), pa.string())
    return pa.StructArray.from_arrays([empty] * len(names), names=names, mask=pa.array([True] * len(text)))


def _month_number(name: str) -> str | None:
    number = _MONTHS.get(word_key(name))
    return None if number is None else str(number)


def _calendar_ok(y: Column, m: Column, d: Column) -> Column:
    leap = pc.or_(
        pc.and_(pc.equal(_mod(y, 4), 0), pc.not_equal(_mod(y, 100), 0)),
        pc.equal(_mod(y, 400), 0),
    )
    month_ok = pc.and_(pc.greater_equal(m, 1), pc.less_equal(m, 12))
    month_index = pc.if_else(month_ok, m, 0)
    lengths = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())
    days_in_month = pc.add(pc.take(lengths, month_index), pc.cast(pc.and_(pc.equal(m, 2), leap), pa.int64()))
    day_ok = pc.and_(pc.greater_equal(d, 1), pc.less_equal(d, days_in_month))
    year_ok = pc.and_(pc.greater_equal(y, 1000), pc.less_equal(y, 9999))
    return pc.fill_null(pc.and_(pc.and_(month_ok, day_ok), year_ok), False)


def _mod(x: Column, k: int) -> Column:
    return pc.subtract(x, pc.multiply(pc.divide(x, k), k))  # x >= 0 here, so truncation is floor


def _days_from_civil(y: Column, m: Column, d: Column) -> Column:
    """Days since 1970-01-01 of a valid proleptic Gregorian date (H. Hinnant's algorithm), for years >= 1."""
    y2 = pc.subtract(y, pc.cast(pc.less_equal(m, 2), pa.int64()))
    era = pc.divide(y2, 400)
    yoe = pc.subtract(y2, pc.multiply(era, 400))
    mp = pc.if_else(pc.greater(m, 2), pc.subtract(m, 3), pc.add(m, 9))
    doy = pc.add(pc.divide(pc.add(pc.multiply(mp, 153), 2), 5), pc.subtract(d, 1))
    doe = pc.add(pc.subtract(pc.add(pc.multiply(yoe, 365), pc.divide(yoe, 4)), pc.divide(yoe, 100)), doy)
    return pc.subtract(pc.add(pc.multiply(era, 146_097), doe), 719_468)


def _micros(days: Column, f: dict[str, Column]) -> Column:
    """Microseconds since the epoch in UTC, or null where the time of day or the offset is invalid."""
    hour = pc.fill_null(_int(f["H"]), 0)
    minute = pc.fill_null(_int(f["M"]), 0)
    second = pc.fill_null(_int(f["S"]), 0)
    fraction = pc.fill_null(_int(pc.utf8_slice_codeunits(pc.utf8_rpad(f["F"], 6, "0"), 0, 6)), 0)
    meridiem = pc.utf8_upper(f["P"])
    twelve_hour = pc.is_valid(meridiem)
    hour_ok = pc.if_else(
        twelve_hour,
        pc.and_(pc.greater_equal(hour, 1), pc.less_equal(hour, 12)),
        pc.less_equal(hour, 23),
    )
    hour = pc.if_else(twelve_hour, pc.add(_mod(hour, 12), pc.if_else(pc.equal(meridiem, "P"), 12, 0)), hour)
    offset = _offset_minutes(f["Z"])
    ok = pc.and_(pc.and_(hour_ok, pc.less_equal(minute, 59)), pc.less_equal(second, 59))
    ok = pc.and_(pc.fill_null(ok, False), pc.is_valid(offset))
    seconds = pc.add(pc.multiply(pc.add(pc.multiply(hour, 60), minute), 60), second)
    local = pc.add(pc.add(pc.multiply(days, _US_PER_DAY), pc.multiply(seconds, 1_000_000)), fraction)
    utc = pc.subtract(local, pc.multiply(offset, 60_000_000))
    return pc.if_else(ok, utc, pa.scalar(None, pa.int64()))


def _offset_minutes(zone: Column) -> Column:
    """Minutes east of UTC: 0 for no zone, Z, UTC or GMT; null for an impossible offset."""
    parts = pc.extract_regex(zone, _OFFSET)
    hours = _int(pc.struct_field(parts, "hh"))
    minutes = pc.fill_null(_int(pc.struct_field(parts, "mm")), 0)
    sign = pc.if_else(pc.equal(pc.struct_field(parts, "sign"), "-"), -1, 1)
    valid = pc.and_(pc.less_equal(hours, 14), pc.less_equal(minutes, 59))
    signed = pc.multiply(sign, pc.add(pc.multiply(hours, 60), minutes))
    numeric = pc.if_else(pc.fill_null(valid, False), signed, pa.scalar(None, pa.int64()))
    return pc.if_else(pc.is_null(parts), 0, numeric)  # no zone, or Z / UTC / GMT
