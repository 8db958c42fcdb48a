"""Vectorized parsing and checking of column values (everything but dates, which live in ``dates``).

Each parser takes one source column (Arrow strings from a CSV, or any Arrow type from Parquet) and returns the
typed values plus, per row, the reason the value is unusable (null when it is fine). Work is done with Arrow
compute kernels over whole columns, or on the distinct values only (countries, channels, ...), so the cost per
row stays in C++ even for millions of rows. A rejection reason always names the column and quotes the value:
``email: "bob@" is not an email address``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from herald.domains import CHANNEL, CONSENT_STATUS, CURRENCY, ORDER_STATUS, SALES_CHANNEL, ValueDomain
from herald.emails import MAX_ADDRESS_BYTES, MAX_LOCAL_PART, SPECIAL_USE_DOMAINS, check_email
from herald.importing.countries import country_code, language_code, time_zone

Column = Any  # a pyarrow Array or ChunkedArray; pyarrow ships no type information
NULL_TEXT = pa.scalar(None, pa.string())
_SHOWN_CHARS = 60


@dataclass(frozen=True, slots=True, eq=False)
class Parsed:
    """One column after parsing; compared by identity (it holds Arrow data).

    ``values`` are typed as the raw column and null where the cell was empty or invalid; ``reasons`` holds a
    rejection reason where the value is invalid (None when no value is). ``notes`` are column-level remarks for
    the report's warnings.
    """

    values: Column
    reasons: Column | None = None
    notes: tuple[str, ...] = ()


# -- helpers -----------------------------------------------------------------------------------------------------


def as_text(values: Column) -> Column:
    """Any Arrow column as strings (for reasons, rejects files, and parsing typed Parquet columns as text)."""
    if pa.types.is_string(values.type):
        return values
    try:
        return pc.cast(values, pa.string())
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid):
        return pa.array([None if v is None else _to_json_text(v) for v in values.to_pylist()], pa.string())


def _to_json_text(value: object) -> str:
    return json.dumps(value, default=str, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def clean_text(values: Column) -> Column:
    """Strings trimmed of surrounding whitespace (including no-break spaces); empty strings become null."""
    trimmed = pc.utf8_trim_whitespace(as_text(values))
    return pc.if_else(pc.equal(trimmed, ""), NULL_TEXT, trimmed)


def shown(values: Column) -> Column:
    """Values as quoted in a reason: at most 60 characters."""
    long = pc.greater(pc.utf8_length(values), _SHOWN_CHARS)
    cut = pc.binary_join_element_wise(pc.utf8_slice_codeunits(values, 0, _SHOWN_CHARS - 1), "…", "")
    return pc.if_else(long, cut, values)


def reasons_where(bad: Column, column: str, values: Column, message: Column | str) -> Column | None:
    """``column: "value" message`` where ``bad`` is true, else null; None when no value is bad."""
    bad = pc.fill_null(bad, False)
    if not pc.any(bad).as_py():
        return None
    # Build the text for the bad values only: usually a few among millions.
    quoted = shown(pc.filter(as_text(values), bad))
    said = message if isinstance(message, str) else pc.filter(message, bad)
    text = pc.binary_join_element_wise(f'{column}: "', quoted, '" ', said, "")
    return scatter(pa.nulls(len(bad), pa.string()), bad, text)


def first_reason(*reasons: Column | None) -> Column | None:
    """Row by row, the first non-null reason."""
    present_reasons = [r for r in reasons if r is not None]
    if not present_reasons:
        return None
    return present_reasons[0] if len(present_reasons) == 1 else pc.coalesce(*present_reasons)


def scatter(base: Column, mask: Column, replacements: Column) -> Column:
    """``base`` with the positions where ``mask`` is true replaced, in order, by ``replacements``."""
    return pc.replace_with_mask(_contiguous(base), _contiguous(mask), _contiguous(replacements))


def _contiguous(values: Column) -> Column:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


_DISTINCT_MIN_ROWS = 20_000
_DISTINCT_SAMPLE = 10_000


def via_distinct(values: Column, parse: Callable[[Column], Parsed]) -> Parsed:
    """Run ``parse`` on the distinct values only, when a sample suggests they repeat (countries, birth dates).

    Parsing is a pure function of the value, so parsing each distinct value once and mapping back is the same
    result for a fraction of the work. Column-level decisions made inside ``parse`` (such as the decimal
    separator) then count distinct values rather than rows.
    """
    n = len(values)
    if n < _DISTINCT_MIN_ROWS:
        return parse(values)
    sample = pc.count_distinct(values.slice(0, _DISTINCT_SAMPLE), mode="all").as_py()
    if sample > 0.9 * _DISTINCT_SAMPLE:  # (nearly) every value differs: emails, phones, ids
        return parse(values)
    distinct = pc.unique(values)
    if len(distinct) > n // 2:
        return parse(values)
    parsed = parse(distinct)
    index = pc.index_in(values, value_set=distinct)
    reasons = None if parsed.reasons is None else pc.take(parsed.reasons, index)
    return Parsed(pc.take(parsed.values, index), reasons, parsed.notes)


def present(values: Column) -> Column:
    return pc.is_valid(values)


def map_distinct(text: Column, convert: Callable[[str], str | None]) -> tuple[Column, Column]:
    """Apply a Python function to each distinct value only; returns (converted, invalid mask)."""
    distinct = pc.unique(text)
    converted = pa.array([None if v is None else convert(v) for v in distinct.to_pylist()], pa.string())
    mapped = pc.take(converted, pc.index_in(text, value_set=distinct))
    return mapped, pc.and_(pc.is_valid(text), pc.is_null(mapped))


def word_key(value: str) -> str:
    """Lower case, accents removed, letters and digits only: how free-text enum values are compared."""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return re.sub(r"[^0-9a-z]+", "", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def _enum(column: str, values: Column, convert: Callable[[str], str | None], message: str) -> Parsed:
    text = clean_text(values)
    mapped, bad = map_distinct(text, convert)
    return Parsed(mapped, reasons_where(bad, column, text, message))


# -- strings -----------------------------------------------------------------------------------------------------


def parse_text(column: str, values: Column) -> Parsed:
    return Parsed(clean_text(values))


# Addresses email-validator always accepts unchanged, checked column-wide so the library (about 30,000 addresses
# a second) only sees the rest: lower-case ASCII ones, and lower-case ones whose local part also holds letters or
# digits of other scripts (zoë, stanisław, 用户) in NFC, with an ASCII domain. Labels of at most 63 characters are
# in the patterns; a local part of 64 bytes, an address of 254 bytes, "--" and special-use names are checked
# beside them (bytes: never longer than the library's own limits, so nothing it refuses gets through).
_DOMAIN = r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
_PLAIN_EMAIL = r"^[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*" + _DOMAIN
_INTERNATIONAL_EMAIL = r"^[\p{Ll}\p{Lo}\p{Nd}_+-]+(?:\.[\p{Ll}\p{Lo}\p{Nd}_+-]+)*" + _DOMAIN
_SPECIAL_USE_ENDING = rf"\.(?:{'|'.join(SPECIAL_USE_DOMAINS)})$"


def _accepted_unchanged(text: Column, lowered: Column) -> tuple[Column, Column]:
    """(ASCII addresses the library accepts once lower-cased, other addresses it accepts as they are)."""
    ascii_ = pc.string_is_ascii(text)
    plain = pc.and_kleene(ascii_, pc.match_substring_regex(lowered, _PLAIN_EMAIL))
    international = pc.and_kleene(pc.invert(ascii_), pc.match_substring_regex(text, _INTERNATIONAL_EMAIL))
    international = pc.and_kleene(international, pc.equal(text, pc.utf8_normalize(text, "NFC")))
    local_bytes = pc.binary_length(pc.list_element(pc.split_pattern(lowered, "@", max_splits=1), 0))
    common = pc.and_kleene(
        pc.less_equal(local_bytes, MAX_LOCAL_PART), pc.less_equal(pc.binary_length(text), MAX_ADDRESS_BYTES)
    )
    common = pc.and_kleene(common, pc.invert(pc.match_substring(lowered, "--")))
    common = pc.and_kleene(common, pc.invert(pc.match_substring_regex(lowered, _SPECIAL_USE_ENDING)))
    return pc.fill_null(pc.and_kleene(plain, common), False), pc.fill_null(pc.and_kleene(international, common), False)


def parse_email(column: str, values: Column) -> Parsed:
    """Store the address in the form Herald's email policy (``herald.emails``) gives it; reject one it refuses.

    The reason quotes the value and the policy's explanation, e.g. ``email: "bob@" is not an email address:
    there must be something after the @-sign``. A note counts the addresses whose stored form differs from the
    typed one (case, Unicode normalization, Punycode domains).
    """
    text = clean_text(values)
    lowered = pc.utf8_lower(text)
    plain, international = _accepted_unchanged(text, lowered)
    slow = pc.and_(present(text), pc.invert(pc.or_(plain, international)))
    stored = pc.if_else(plain, lowered, pc.if_else(international, text, NULL_TEXT))
    problems = pa.nulls(len(text), pa.string())
    if pc.any(slow).as_py():
        distinct = pc.unique(pc.filter(text, slow))
        verdicts = [check_email(v) for v in distinct.to_pylist()]
        index = pc.index_in(text, value_set=distinct)
        stored = pc.if_else(slow, pc.take(pa.array([v.normalized for v in verdicts], pa.string()), index), stored)
        problems = pc.take(pa.array([v.problem for v in verdicts], pa.string()), index)
    bad = pc.is_valid(problems)
    message = pc.binary_join_element_wise("is not an email address: ", problems, "")
    changed = pc.sum(pc.fill_null(pc.not_equal(stored, text), False)).as_py() or 0
    notes = (f"{column}: {changed:,} addresses stored in normalized form (lower case, Unicode NFC)",) if changed else ()
    return Parsed(stored, reasons_where(bad, column, text, message), notes)


_PHONE = r"^\+?[\s().\-/]*(?:[0-9][\s().\-/]*){6,15}$"  # one pattern: far faster than counting digits


def parse_phone(column: str, values: Column) -> Parsed:
    """Keep the number as typed; it must be digits and formatting only (+ ( ) - . / spaces), 6 to 15 digits."""
    text = clean_text(values)
    fits = pc.match_substring_regex(text, _PHONE)
    bad = pc.and_(present(text), pc.invert(fits))
    return Parsed(text, reasons_where(bad, column, text, "is not a phone number (6 to 15 digits)"))


# Unknown countries, languages and time zones get a reason here; the import's policy (rules.py) decides whether
# that rejects the row or lands the value empty with a warning.


def parse_country(column: str, values: Column) -> Parsed:
    return _enum(column, values, country_code, "is not a known country (ISO 3166 code or name, e.g. DE)")


def parse_language(column: str, values: Column) -> Parsed:
    return _enum(column, values, language_code, "is not a known language (ISO 639 code or name, e.g. en)")


def parse_time_zone(column: str, values: Column) -> Parsed:
    return _enum(column, values, time_zone, "is not a known time zone (IANA name, e.g. Europe/Paris)")


def parse_domain(column: str, values: Column, domain: ValueDomain) -> Parsed:
    """A value of a closed domain (herald.domains): a value or a documented synonym, else a reason naming both."""
    what = _DOMAIN_NOUNS.get(domain.name, f"a value of {domain.name}")
    listed = f" ({', '.join(domain.values)})" if len(domain.values) <= 10 else ""
    return _enum(column, values, domain.resolve, f"is not {what}{listed}")


_DOMAIN_NOUNS = {"order_status": "an order status", "sales_channel": "a sales channel", "channel": "a channel",
                 "consent_status": "a consent status", "payment_status": "a payment status",
                 "currency": "an ISO 4217 currency code (e.g. EUR)"}  # fmt: skip


def parse_channel(column: str, values: Column) -> Parsed:
    return parse_domain(column, values, CHANNEL)


def parse_consent_status(column: str, values: Column) -> Parsed:
    return parse_domain(column, values, CONSENT_STATUS)


def currency_code(value: str) -> str | None:
    return CURRENCY.resolve(value)


def parse_currency(column: str, values: Column) -> Parsed:
    return parse_domain(column, values, CURRENCY)


def parse_order_status(column: str, values: Column) -> Parsed:
    return parse_domain(column, values, ORDER_STATUS)


def parse_sales_channel(column: str, values: Column) -> Parsed:
    return parse_domain(column, values, SALES_CHANNEL)


def parse_json_object(column: str, values: Column) -> Parsed:
    """Custom attributes must be a JSON object; stored compactly re-serialized so equal objects compare equal."""
    text = clean_text(values)
    out: list[str | None] = []
    bad: list[bool] = []
    for value in text.to_pylist():
        if value is None:
            out.append(None)
            bad.append(False)
            continue
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        ok = isinstance(parsed, dict)
        out.append(json.dumps(parsed, ensure_ascii=False, separators=(",", ":")) if ok else None)
        bad.append(not ok)
    return Parsed(pa.array(out, pa.string()), reasons_where(pa.array(bad), column, text, "is not a JSON object"))


# -- numbers -----------------------------------------------------------------------------------------------------

_NOISE = r"[\s\x{00A0}\x{202F}'’]|^[€$£¥]|[€$£¥]$"
_PLAIN = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_US_GROUPED = r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
_EU_GROUPED = r"^[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?$"
_COMMA_DECIMAL = r"^[+-]?\d*,\d+$"
_AMBIGUOUS = r"^[+-]?\d{1,3},\d{3}$"  # "1,234": thousands, or a decimal comma?
_WHOLE = r"^[+-]?\d{1,18}(?:\.0*)?$"


def _normalize_numbers(column: str, text: Column, delimiter: str | None) -> tuple[Column, tuple[str, ...]]:
    """Numbers as plain ``1234.5`` strings (null when not a number), and a note when commas were ambiguous.

    Both separators: the rightmost is the decimal one ("1.234,50", "1,234.50"). Only a comma: a decimal comma
    ("12,5"), unless it groups thousands ("1,234,567"). "1,234" alone could be either: the column's other values
    decide, and when they do not, a ``;``-delimited file (European spreadsheets) means a decimal comma, any other
    a thousands separator.
    """
    s = pc.replace_substring_regex(text, _NOISE, "")
    plain = pc.match_substring_regex(s, _PLAIN)
    ambiguous = pc.match_substring_regex(s, _AMBIGUOUS)
    us = pc.match_substring_regex(s, _US_GROUPED)
    eu = pc.match_substring_regex(s, _EU_GROUPED)
    comma = pc.match_substring_regex(s, _COMMA_DECIMAL)
    notes: tuple[str, ...] = ()
    decimal_comma = False
    n_ambiguous = pc.sum(ambiguous).as_py() or 0
    if n_ambiguous:
        votes_decimal = pc.sum(pc.and_(pc.or_(comma, pc.and_(eu, pc.match_substring(s, ","))),
                                       pc.invert(ambiguous))).as_py() or 0  # fmt: skip
        votes_grouped = pc.sum(pc.and_(us, pc.invert(ambiguous))).as_py() or 0
        if votes_decimal != votes_grouped:
            decimal_comma = votes_decimal > votes_grouped
            why = "as the column's other values do"
        else:
            decimal_comma = delimiter == ";"
            why = "the file is ';'-delimited" if decimal_comma else "the file is not ';'-delimited"
        reading = "a decimal comma" if decimal_comma else "a thousands separator"
        notes = (f'{column}: values like "1,234" read with {reading} ({why})',)
    us_form = pc.replace_substring(s, ",", "")
    eu_form = pc.replace_substring(pc.replace_substring(s, ".", ""), ",", ".")
    comma_form = pc.replace_substring(s, ",", ".")
    out = pc.if_else(comma, comma_form, NULL_TEXT)
    out = pc.if_else(eu, eu_form, out)
    out = pc.if_else(us, us_form, out)
    out = pc.if_else(ambiguous, comma_form if decimal_comma else us_form, out)
    out = pc.if_else(plain, s, out)
    return out, notes


def parse_double(column: str, values: Column, delimiter: str | None) -> Parsed:
    if _is_numeric(values.type):
        return Parsed(pc.cast(values, pa.float64()))
    text = clean_text(values)
    normalized, notes = _normalize_numbers(column, text, delimiter)
    number = pc.cast(normalized, pa.float64())
    number = pc.if_else(pc.is_finite(number), number, pa.scalar(None, pa.float64()))
    bad = pc.and_(present(text), pc.is_null(number))
    return Parsed(number, reasons_where(bad, column, text, "is not a number"), notes)


def parse_integer(column: str, values: Column, delimiter: str | None) -> Parsed:
    if pa.types.is_integer(values.type):
        return Parsed(pc.cast(values, pa.int64()))
    if _is_numeric(values.type):
        number = pc.cast(values, pa.float64())
        whole = pc.and_(pc.is_finite(number), pc.equal(pc.floor(number), number))
        ints = pc.cast(pc.if_else(whole, number, pa.scalar(None, pa.float64())), pa.int64())
        bad = pc.and_(present(values), pc.invert(whole))
        return Parsed(ints, reasons_where(bad, column, values, "is not a whole number"))
    text = clean_text(values)
    normalized, notes = _normalize_numbers(column, text, delimiter)
    whole = pc.match_substring_regex(normalized, _WHOLE)
    digits = pc.replace_substring_regex(normalized, r"\.0*$", "")
    ints = pc.cast(pc.if_else(whole, digits, NULL_TEXT), pa.int64())
    bad = pc.and_(present(text), pc.invert(pc.fill_null(whole, False)))
    return Parsed(ints, reasons_where(bad, column, text, "is not a whole number"), notes)


def _is_numeric(type_: Any) -> bool:
    return bool(pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_decimal(type_))
