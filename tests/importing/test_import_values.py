"""Column rules, one parser at a time (vectorized over Arrow arrays)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from herald.importing.dates import parse_temporal, slash_evidence
from herald.importing.values import (
    Parsed,
    parse_channel,
    parse_consent_status,
    parse_country,
    parse_currency,
    parse_double,
    parse_email,
    parse_integer,
    parse_json_object,
    parse_language,
    parse_order_status,
    parse_phone,
    parse_time_zone,
    via_distinct,
)


def _run(parsed: Parsed) -> list[tuple[Any, str | None]]:
    reasons = parsed.reasons.to_pylist() if parsed.reasons is not None else [None] * len(parsed.values)
    return list(zip(parsed.values.to_pylist(), reasons, strict=True))


def test_email() -> None:
    values = ["  ann@example.com ", "bob@", "zoë@münchen.de", "a.b+tag@sub.example.co.uk", "a..b@x.com", "x y@z.com",
              "no-at-sign", "a@b", "", None]  # fmt: skip
    assert _run(parse_email("email", pa.array(values))) == [
        ("ann@example.com", None),
        (None, 'email: "bob@" is not an email address: there must be something after the @-sign'),
        ("zoë@münchen.de", None),
        ("a.b+tag@sub.example.co.uk", None),
        (None, 'email: "a..b@x.com" is not an email address: an email address cannot have two periods in a row'),
        (
            None,
            'email: "x y@z.com" is not an email address: the email address contains invalid characters before '
            "the @-sign: SPACE",
        ),
        (None, 'email: "no-at-sign" is not an email address: an email address must have an @-sign'),
        (None, 'email: "a@b" is not an email address: the part after the @-sign is not valid. It should have a period'),
        (None, None),
        (None, None),
    ]


def test_a_long_value_is_shortened_in_the_reason() -> None:
    reason = _run(parse_email("email", pa.array(["x" * 200])))[0][1]
    assert reason is not None and reason.startswith('email: "xxxx') and '…" is not an email address' in reason
    assert len(reason) < 140


def test_phone_counts_digits_after_formatting() -> None:
    result = _run(parse_phone("phone", pa.array(["+49 (0)30 1234-567", "06.12.34.56.78", "12345", "call me",
                                                  "1234567890123456", "123456"])))  # fmt: skip
    assert [r is None for _, r in result] == [True, True, False, False, False, True]
    assert result[2][1] == 'phone: "12345" is not a phone number (6 to 15 digits)'


def test_country_codes_names_and_aliases() -> None:
    result = _run(parse_country("country_code", pa.array(["de", " Deutschland ", "UK", "United States", "ZZ",
                                                           "Atlantis", "ESP"])))  # fmt: skip
    assert [v for v, _ in result] == ["DE", "DE", "GB", "US", None, None, "ES"]
    assert result[4][1] == 'country_code: "ZZ" is not a known country (ISO 3166 code or name, e.g. DE)'


def test_language_codes() -> None:
    result = _run(parse_language("language_code", pa.array(["EN", "fr-CA", "de_DE", "Deutsch", "Elvish"])))
    assert [v for v, _ in result] == ["en", "fr", "de", "de", None]


def test_time_zones_are_canonicalised() -> None:
    result = _run(parse_time_zone("time_zone", pa.array(["europe/paris", "UTC", "Mars/Olympus"])))
    assert [v for v, _ in result] == ["Europe/Paris", "UTC", None]


def test_consent_channel_and_status_spellings() -> None:
    channels = _run(parse_channel("channel", pa.array(["E-Mail", "SMS", "in-app", "Post", "fax"])))
    assert [v for v, _ in channels] == ["email", "sms", "in_app", "direct_mail", None]
    assert channels[4][1] == 'channel: "fax" is not a channel (email, sms, push, in_app, direct_mail)'
    statuses = _run(parse_consent_status("status", pa.array(["Subscribed", "opt-out", "YES", "Unsubscribed", "maybe"])))
    assert [v for v, _ in statuses] == ["opt_in", "opt_out", "opt_in", "opt_out", None]


def test_order_status_maps_synonyms_and_rejects_the_rest() -> None:
    parsed = _run(parse_order_status("status", pa.array(["Canceled", "PAID", "placed", "Return Pending", "lost"])))
    assert [v for v, _ in parsed] == ["cancelled", "completed", "pending", "completed", None]
    assert parsed[4][1] == 'status: "lost" is not an order status (completed, pending, cancelled, refunded)'


def test_currency() -> None:
    result = _run(parse_currency("currency", pa.array(["eur", "€", "Euro", "XYZ", "usd"])))
    assert [v for v, _ in result] == ["EUR", "EUR", "EUR", None, "USD"]
    assert result[3][1] == 'currency: "XYZ" is not an ISO 4217 currency code (e.g. EUR)'


@pytest.mark.parametrize(
    ("values", "delimiter", "expected"),
    [
        (["1 234,50", "12,5", "1.234.567", "-3"], ";", [1234.5, 12.5, 1234567.0, -3.0]),
        (["1,234.50", "1,234,567", "0.5", "€ 12.00"], ",", [1234.5, 1234567.0, 0.5, 12.0]),
        (["1,234", "2"], ",", [1234.0, 2.0]),  # ambiguous: not ';'-delimited, so thousands
        (["1,234", "2"], ";", [1.234, 2.0]),  # ambiguous: ';'-delimited, so a decimal comma
        (["1,234", "12,5"], ",", [1.234, 12.5]),  # the column's other values decide
    ],
)
def test_numbers(values: list[str], delimiter: str, expected: list[float]) -> None:
    assert parse_double("total_amount", pa.array(values), delimiter).values.to_pylist() == expected


def test_not_numbers() -> None:
    result = _run(parse_double("unit_price", pa.array(["abc", "1,2,3", "1e999", "--1"]), ","))
    assert [v for v, _ in result] == [None, None, None, None]
    assert result[0][1] == 'unit_price: "abc" is not a number'


def test_integers() -> None:
    result = _run(parse_integer("quantity", pa.array(["3", "3.0", "1,000", "3.5", "x"]), ","))
    assert [v for v, _ in result] == [3, 3, 1000, None, None]
    assert result[3][1] == 'quantity: "3.5" is not a whole number'
    typed = _run(parse_integer("quantity", pa.array([2.0, 2.5]), None))
    assert typed == [(2, None), (None, 'quantity: "2.5" is not a whole number')]


def test_json_attributes() -> None:
    result = _run(parse_json_object("attributes", pa.array(['{"a": 1, "b": "x"}', "[1]", "{oops"])))
    assert result[0] == ('{"a":1,"b":"x"}', None)
    assert result[1][1] == 'attributes: "[1]" is not a JSON object'
    assert result[2][1] is not None


DATES = [
    ("2024-03-15", "2024-03-15"),
    ("2024/03/15", "2024-03-15"),
    ("15.03.2024", "2024-03-15"),
    ("20240315", "2024-03-15"),
    ("15 Mar 2024", "2024-03-15"),
    ("15-March-2024", "2024-03-15"),
    ("March 15, 2024", "2024-03-15"),
    ("45366", "2024-03-15"),  # Excel serial
    ("45366.75", "2024-03-15"),
    ("15/03/2024", "2024-03-15"),
    ("5/3/2024", "2024-03-05"),
    ("2024-02-29", "2024-02-29"),
    ("2024-03-15T23:30:00-05:00", "2024-03-15"),  # the date as written
]


@pytest.mark.parametrize(("text", "expected"), DATES)
def test_dates(text: str, expected: str) -> None:
    parsed = parse_temporal("birth_date", pa.array([text]), "date", "dmy")
    assert parsed.reasons is None
    assert str(parsed.values[0].as_py()) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2023-02-29", '"2023-02-29" is not a date'),
        ("31/02/2024", '"31/02/2024" is not a valid date (read as dd/mm/yyyy)'),
        ("03/04/24", '"03/04/24" has a two-digit year; write the year in full'),
        ("1990", '"1990" is not a date'),  # a bare year is not an Excel serial
        ("yesterday", '"yesterday" is not a date'),
        ("2024-13-01", '"2024-13-01" is not a date'),
    ],
)
def test_bad_dates(text: str, reason: str) -> None:
    parsed = parse_temporal("birth_date", pa.array([text]), "date", "dmy")
    assert parsed.values[0].as_py() is None
    assert parsed.reasons is not None and parsed.reasons[0].as_py() == f"birth_date: {reason}"


def test_month_first_order() -> None:
    parsed = parse_temporal("d", pa.array(["03/04/2024", "12/31/2024", "31/12/2024"]), "date", "mdy")
    assert [str(v) if v else None for v in parsed.values.to_pylist()] == ["2024-03-04", "2024-12-31", None]


def test_birth_dates_cannot_be_in_the_future() -> None:
    parsed = parse_temporal("birth_date", pa.array(["2099-01-01"]), "date", "dmy", not_after=dt.date(2026, 1, 1))
    assert parsed.reasons is not None and parsed.reasons[0].as_py() == 'birth_date: "2099-01-01" is in the future'


TIMESTAMPS = [
    ("2024-03-15T10:30:00Z", "2024-03-15 10:30:00"),
    ("2024-03-15 10:30:00+02:00", "2024-03-15 08:30:00"),
    ("2024-03-15T10:30:00.123-0500", "2024-03-15 15:30:00.123000"),
    ("2024-03-15T10:30", "2024-03-15 10:30:00"),  # no offset: already UTC
    ("2024-03-15", "2024-03-15 00:00:00"),
    ("15/03/2024 14:05", "2024-03-15 14:05:00"),
    ("15.03.2024 14:05:09", "2024-03-15 14:05:09"),
    ("3/15/2024 2:30 PM", None),  # read day-first: month 15 does not exist
    ("15/03/2024 12:00 AM", "2024-03-15 00:00:00"),
    ("45366.5", "2024-03-15 12:00:00"),  # Excel serial with a time
    ("2024-03-15T10:30:00 UTC", "2024-03-15 10:30:00"),
    ("2024-03-15T25:00", None),
    ("15/03/2024 10:30 +25:00", None),
]


@pytest.mark.parametrize(("text", "expected"), TIMESTAMPS)
def test_timestamps_become_utc(text: str, expected: str | None) -> None:
    parsed = parse_temporal("occurred_at", pa.array([text]), "timestamp", "dmy")
    value = parsed.values[0].as_py()
    assert (str(value) if value is not None else None) == expected


def test_typed_parquet_timestamps_convert_to_utc() -> None:
    aware = pa.array([dt.datetime(2024, 3, 15, 10, 30)], pa.timestamp("us", tz="Europe/Paris"))
    # Arrow stores UTC; the wall-clock 10:30 given above is interpreted as UTC by pyarrow, so it stays 10:30.
    parsed = parse_temporal("occurred_at", aware, "timestamp", "dmy")
    assert parsed.values.type == pa.timestamp("us")
    nanos = pa.array([1_710_498_600_000_000_000], pa.timestamp("ns", tz="UTC"))
    assert str(parse_temporal("x", nanos, "timestamp", "dmy").values[0].as_py()) == "2024-03-15 10:30:00"
    assert str(parse_temporal("x", nanos, "date", "dmy").values[0].as_py()) == "2024-03-15"


def test_slash_evidence_counts_what_only_one_order_reads() -> None:
    evidence = slash_evidence(pa.array(["25/12/2024", "03/04/2024", "05/05/2024", "2024-01-01", None]))
    assert (evidence.day_first, evidence.month_first, evidence.ambiguous) == (1, 0, 1)
    assert (evidence.example, evidence.example_row, evidence.decided) == ("03/04/2024", 1, "dmy")


def test_parsing_distinct_values_gives_the_same_result() -> None:
    values = pa.array(["DE", "fr", "XX", None] * 10_000)
    direct = parse_country("country_code", values)
    mapped = via_distinct(values, lambda v: parse_country("country_code", v))
    assert mapped.values.to_pylist() == direct.values.to_pylist()
    assert mapped.reasons is not None and direct.reasons is not None
    assert mapped.reasons.to_pylist() == direct.reasons.to_pylist()
