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
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from herald.importing.countries import COUNTRY_NAMES, ISO_COUNTRIES, LANGUAGE_NAMES
from herald.raw_schema import CHANNELS

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


_ASCII_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ASCII_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_ASCII_EMAIL = rf"^{_ASCII_ATOM}(?:\.{_ASCII_ATOM})*@(?:{_ASCII_LABEL}\.)+(?:[A-Za-z]{{2,}}|xn--[A-Za-z0-9-]+)$"
_ATOM = r"[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?"
EMAIL_PATTERN = rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:\p{{L}}{{2,}}|xn--[a-z0-9-]+)$"


def parse_email(column: str, values: Column) -> Parsed:
    """Keep the address as typed (trimmed); reject one that cannot be an address, since it is then unusable.

    The check is deliberately structural (local part, ``@``, a dotted domain with a top-level domain of letters)
    and accepts international addresses (``zoë@münchen.de``). Unicode character classes are slow in the regex
    engine, so they are only used for the few values the ASCII pattern does not accept.
    """
    text = clean_text(values)
    fits = pc.fill_null(pc.match_substring_regex(text, _ASCII_EMAIL), False)
    retry = pc.and_(pc.and_(present(text), pc.invert(fits)), pc.match_substring_regex(text, r"[^\x00-\x7F]"))
    retry = pc.fill_null(retry, False)
    if pc.any(retry).as_py():
        fits = scatter(fits, retry, pc.match_substring_regex(pc.filter(text, retry), EMAIL_PATTERN))
    bad = pc.and_(present(text), pc.invert(fits))
    return Parsed(text, reasons_where(bad, column, text, "is not an email address"))


_PHONE = r"^\+?[\s().\-/]*(?:[0-9][\s().\-/]*){6,15}$"  # one pattern: far faster than counting digits


def parse_phone(column: str, values: Column) -> Parsed:
    """Keep the number as typed; it must be digits and formatting only (+ ( ) - . / spaces), 6 to 15 digits."""
    text = clean_text(values)
    fits = pc.match_substring_regex(text, _PHONE)
    bad = pc.and_(present(text), pc.invert(fits))
    return Parsed(text, reasons_where(bad, column, text, "is not a phone number (6 to 15 digits)"))


def country_code(value: str) -> str | None:
    letters = value.strip()
    if len(letters) == 2 and letters.isalpha():
        code = {"UK": "GB", "EL": "GR"}.get(letters.upper(), letters.upper())
        return code if code in ISO_COUNTRIES else None
    return COUNTRY_NAMES.get(word_key(letters))


def parse_country(column: str, values: Column) -> Parsed:
    return _enum(column, values, country_code, "is not a country code (ISO 3166 alpha-2, e.g. DE)")


_LOCALE = re.compile(r"^([A-Za-z]{2})(?:[-_][A-Za-z0-9]{2,8})*$")


def language_code(value: str) -> str | None:
    match = _LOCALE.match(value.strip())
    if match:
        return match.group(1).lower()
    return LANGUAGE_NAMES.get(word_key(value))


def parse_language(column: str, values: Column) -> Parsed:
    return _enum(column, values, language_code, "is not a language code (ISO 639-1, e.g. en)")


@cache
def _time_zones() -> dict[str, str]:
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def time_zone(value: str) -> str | None:
    zones = _time_zones()
    if not zones:  # no time zone database on this machine: accept anything shaped like a zone name
        return value if re.fullmatch(r"[A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*", value) else None
    return zones.get(value.strip().casefold())


def parse_time_zone(column: str, values: Column) -> Parsed:
    return _enum(column, values, time_zone, "is not an IANA time zone (e.g. Europe/Paris)")


_CHANNELS: dict[str, str] = {
    **{word_key(c): c for c in CHANNELS},
    "mail": "email", "emailmarketing": "email", "newsletter": "email",
    "text": "sms", "textmessage": "sms", "mobile": "sms",
    "pushnotification": "push", "pushnotifications": "push", "apppush": "push",
    "inapp": "in_app", "inappmessage": "in_app",
    "directmail": "direct_mail", "post": "direct_mail", "postal": "direct_mail", "postalmail": "direct_mail",
    "letter": "direct_mail",
}  # fmt: skip


def parse_channel(column: str, values: Column) -> Parsed:
    message = f"is not a channel ({', '.join(CHANNELS)})"
    return _enum(column, values, lambda v: _CHANNELS.get(word_key(v)), message)


_OPT_IN = (
    "opt_in",
    "optin",
    "opted in",
    "in",
    "subscribed",
    "subscribe",
    "yes",
    "y",
    "true",
    "1",
    "granted",
    "consented",
    "consent",
    "accepted",
    "accept",
    "on",
    "active",
    "confirmed",
    "double opt-in",
    "ja",
    "oui",
)
_OPT_OUT = ("opt_out", "optout", "opted out", "out", "unsubscribed", "unsubscribe", "no", "n", "false", "0",
            "revoked", "withdrawn", "declined", "denied", "refused", "off", "inactive", "nein", "non")  # fmt: skip
_STATUSES: dict[str, str] = {**{word_key(v): "opt_in" for v in _OPT_IN}, **{word_key(v): "opt_out" for v in _OPT_OUT}}


def parse_consent_status(column: str, values: Column) -> Parsed:
    return _enum(column, values, lambda v: _STATUSES.get(word_key(v)), "is not a consent status (opt_in or opt_out)")


_CURRENCY_SYMBOLS = {"€": "EUR", "$": "USD", "US$": "USD", "£": "GBP", "¥": "JPY", "CHF": "CHF", "FR.": "CHF"}


def currency_code(value: str) -> str | None:
    code = value.strip().upper()
    code = _CURRENCY_SYMBOLS.get(code, code)
    return code if re.fullmatch(r"[A-Z]{3}", code) else None


def parse_currency(column: str, values: Column) -> Parsed:
    return _enum(column, values, currency_code, "is not a currency code (ISO 4217, e.g. EUR)")


def _open_enum(known: dict[str, str]) -> Callable[[str, Column], Parsed]:
    """Known spellings become the canonical value; anything else lands lower-cased, with a note."""

    def parse(column: str, values: Column) -> Parsed:
        text = clean_text(values)
        canonical = set(known.values())
        mapped, _ = map_distinct(text, lambda v: known.get(word_key(v), v.lower()))
        others = sorted(v for v in pc.unique(mapped).to_pylist() if v is not None and v not in canonical)
        notes: tuple[str, ...] = ()
        if others:
            listed = ", ".join(others[:10]) + (", ..." if len(others) > 10 else "")
            notes = (f"{column}: values not in the usual list landed as given: {listed}",)
        return Parsed(mapped, None, notes)

    return parse


parse_order_status = _open_enum(
    {"completed": "completed", "complete": "completed", "paid": "completed", "fulfilled": "completed",
     "shipped": "completed", "delivered": "completed", "cancelled": "cancelled", "canceled": "cancelled",
     "cancel": "cancelled", "void": "cancelled", "refunded": "refunded", "refund": "refunded", "returned": "refunded"}
)  # fmt: skip
parse_sales_channel = _open_enum(
    {"web": "web", "online": "web", "website": "web", "webshop": "web", "ecommerce": "web", "app": "app",
     "mobileapp": "app", "mobile": "app", "ios": "app", "android": "app", "store": "store", "shop": "store",
     "retail": "store", "pos": "store", "offline": "store"}
)  # fmt: skip


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
