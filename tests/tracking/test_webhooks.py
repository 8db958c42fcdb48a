"""SendGrid's Event Webhook without a server: the signature (official vectors), the body checks, the normalizer
and every quirk of the official samples."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from herald.raw_schema import ESP_EVENTS
from senders.tracking.normalize import Reject, derived_event_id, sendgrid_row, suppresses
from senders.tracking.webhooks import SignatureVerifier, WebhookKeyError, parse_batch, spool_line
from tests.tracking.serving import SHARED, Signer

VECTORS = json.loads((SHARED / "signature_test_vectors.json").read_text())
SAMPLES = sorted((SHARED / "events").glob("*.json"))


def _verifier(key: str, now: float, tolerance: int = 300) -> SignatureVerifier:
    return SignatureVerifier.from_base64(key, tolerance_seconds=tolerance, clock=lambda: now)


@pytest.mark.parametrize("source", sorted(VECTORS))
def test_official_signature_vectors(source: str) -> None:
    v = VECTORS[source]
    body = v["payload"].encode()
    at_their_time = _verifier(v["public_key"], float(v["timestamp"]))
    assert at_their_time.check(v["signature"], v["timestamp"], body).ok
    assert at_their_time.check(v["bad_signature"], v["timestamp"], body).status == 403
    assert (
        _verifier(v["bad_public_key"], float(v["timestamp"])).check(v["signature"], v["timestamp"], body).status == 403
    )
    # The raw bytes are signed: the body without its trailing bytes, or with a changed byte, is refused.
    assert not at_their_time.check(v["signature"], v["timestamp"], body.rstrip() + b" ").ok
    assert not at_their_time.check(v["signature"], str(int(v["timestamp"]) + 1), body).ok
    # The same genuine request, checked today: far too old.
    today = _verifier(v["public_key"], float(v["timestamp"]) + 10 * 365 * 86400)
    assert today.check(v["signature"], v["timestamp"], body).reason == "stale or future timestamp"


def test_timestamp_tolerance_both_ways_and_malformed_headers() -> None:
    signer = Signer.generate()
    body = b'[{"event":"open"}]'
    now = 1_800_000_000
    v = _verifier(signer.public_b64, now, tolerance=300)
    for skew, ok in ((0, True), (-300, True), (300, True), (-301, False), (301, False)):
        h = signer.headers(body, now + skew)
        verdict = v.check(
            h["X-Twilio-Email-Event-Webhook-Signature"], h["X-Twilio-Email-Event-Webhook-Timestamp"], body
        )
        assert verdict.ok is ok, skew
    h = signer.headers(body, now)
    sig = h["X-Twilio-Email-Event-Webhook-Signature"]
    assert v.check(None, str(now), body).status == 401
    assert v.check(sig, None, body).status == 401
    assert v.check(sig, "12a", body).status == 401
    assert v.check("not base64!", str(now), body).status == 401


def test_a_key_that_is_not_p256_is_refused() -> None:
    with pytest.raises(WebhookKeyError, match="base64 DER"):
        SignatureVerifier.from_base64("bm90IGEga2V5", tolerance_seconds=300, clock=lambda: 0)
    with pytest.raises(WebhookKeyError, match="base64 DER"):
        SignatureVerifier.from_base64("***", tolerance_seconds=300, clock=lambda: 0)


def test_body_must_be_a_json_array_of_objects() -> None:
    assert parse_batch(b'[{"a": 1}, {}]') == [{"a": 1}, {}]
    assert parse_batch(b"[]") == []
    assert parse_batch(b'{"a": 1}') == "body is not a JSON array"
    assert parse_batch(b'[{"a": 1}, 2]') == "body holds something other than JSON objects"
    assert "not JSON" in str(parse_batch(b"[{"))
    assert parse_batch(b"[\xff]") == "body is not UTF-8"


def test_spool_line_keeps_the_json_value() -> None:
    pretty = json.dumps([{"a": "x\ny", "b": [1, 2]}], indent=2).encode() + b"\r\n"
    line = spool_line(pretty)
    assert b"\n" not in line and b"\r" not in line
    assert json.loads(line) == json.loads(pretty)
    compact = b'[{"a":1}]'
    assert spool_line(compact + b"\r\n") == compact


# ---------- the normalizer, quirk by quirk


def row(event: dict[str, Any]) -> dict[str, Any]:
    out = sendgrid_row(event, "test")
    assert not isinstance(out, Reject), out
    assert tuple(out) == ESP_EVENTS.column_names
    return out


BASE = {"sg_event_id": "id1", "timestamp": 1513299569, "email": "a@example.com"}


def test_deferred_attempt_is_a_string_and_its_text_is_the_response() -> None:
    r = row({**BASE, "event": "deferred", "attempt": "5", "response": "400 try again later"})
    assert (r["attempt"], r["reason"]) == (5, "400 try again later")
    assert row({**BASE, "event": "deferred", "attempt": "five"})["attempt"] is None
    assert row({**BASE, "event": "delivered", "response": "250 OK"})["reason"] is None


def test_bounce_and_blocked_share_the_event_and_differ_in_type() -> None:
    hard = row({**BASE, "event": "bounce", "type": "bounce", "status": "5.0.0", "bounce_classification": "Invalid"})
    soft = row({**BASE, "event": "bounce", "type": "blocked", "status": "4.0.0"})
    assert (hard["event"], hard["bounce_type"], hard["status"], hard["bounce_classification"]) == (
        "bounce",
        "bounce",
        "5.0.0",
        "Invalid",
    )
    assert (soft["event"], soft["bounce_type"]) == ("bounce", "blocked")
    assert row({**BASE, "event": "open", "type": "bounce"})["bounce_type"] is None
    assert suppresses({**BASE, "event": "bounce", "type": "bounce"})
    assert not suppresses({**BASE, "event": "bounce", "type": "blocked"})
    assert suppresses({**BASE, "event": "unsubscribe"}) and suppresses({**BASE, "event": "spamreport"})


def test_category_string_or_array_is_a_json_array() -> None:
    assert row({**BASE, "event": "open", "category": "cat facts"})["categories"] == '["cat facts"]'
    assert row({**BASE, "event": "open", "category": ["a", "b"]})["categories"] == '["a","b"]'
    assert row({**BASE, "event": "open", "category": []})["categories"] == "[]"
    assert row({**BASE, "event": "open"})["categories"] is None


def test_custom_args_are_top_level_keys_and_reserved_keys_win() -> None:
    r = row(
        {
            **BASE,
            "event": "click",
            "message_id": "m1",
            "run_id": "r1",
            "delivery_id": "d1",
            "zeta": 2,
            "unique_args": {"email": "forged@example.com", "legacy": "x", "zeta": 1},
            "url": "https://shop.example/x",
            "url_offset": {"index": 3, "type": "html"},
            "asm_group_id": 12,
        }
    )
    assert (r["message_id"], r["run_id"], r["email"]) == ("m1", "r1", "a@example.com")
    assert r["custom_args"] == '{"delivery_id":"d1","legacy":"x","zeta":2}'  # sorted, top level over nested
    assert (r["url"], r["url_offset_index"], r["asm_group_id"]) == ("https://shop.example/x", 3, 12)
    assert row({**BASE, "event": "open"})["custom_args"] is None


def test_timestamps_seconds_milliseconds_and_strings_become_utc() -> None:
    expected = dt.datetime(2017, 12, 15, 0, 59, 29)
    assert row({**BASE, "event": "open"})["occurred_at"] == expected
    assert row({**BASE, "event": "open", "timestamp": "1513299569"})["occurred_at"] == expected
    assert row({**BASE, "event": "open", "timestamp": 1513299569123})["occurred_at"] == expected.replace(
        microsecond=123000
    )


def test_machine_opens_are_0_or_1() -> None:
    assert row({**BASE, "event": "open", "sg_machine_open": True})["sg_machine_open"] == 1
    assert row({**BASE, "event": "open", "sg_machine_open": False})["sg_machine_open"] == 0
    assert row({**BASE, "event": "open"})["sg_machine_open"] is None


def test_event_names_are_lower_case_and_incomplete_events_are_rejected_with_reason() -> None:
    assert row({**BASE, "event": "Processed"})["event"] == "processed"
    for event, reason in (
        ({"sg_event_id": "x", "timestamp": 1}, "missing event"),
        ({"sg_event_id": "x", "event": "open"}, "missing timestamp"),
        ({"sg_event_id": " ", "event": "", "timestamp": None}, "missing event, timestamp"),
        ({"sg_event_id": "x", "event": "open", "timestamp": "yesterday"}, "timestamp is not a unix time"),
        ([1, 2], "not a JSON object"),
    ):
        out = sendgrid_row(event, "line 7")
        assert isinstance(out, Reject) and out.position == "line 7" and out.reason.startswith(reason), out


def test_the_same_event_always_gives_the_same_row() -> None:
    event = {**BASE, "event": "open", "b": 1, "a": {"y": 2, "x": 1}}
    shuffled = dict(reversed(list(event.items())))
    assert row(event) == row(shuffled)
    assert row(event)["custom_args"] == '{"a":{"x":1,"y":2},"b":1}'


# ---------- every official sample


def _rows(path: Path) -> tuple[list[dict[str, Any]], list[Reject]]:
    rows: list[dict[str, Any]] = []
    rejects: list[Reject] = []
    for i, event in enumerate(json.loads(path.read_text())):
        out = sendgrid_row(event, f"{path.name}[{i}]")
        (rejects if isinstance(out, Reject) else rows).append(out)  # type: ignore[arg-type]
    return rows, rejects


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_every_sample_is_accounted_for(path: Path) -> None:
    posted = json.loads(path.read_text())
    rows, rejects = _rows(path)
    assert len(rows) + len(rejects) == len(posted)
    for i, event in enumerate(posted):
        out = sendgrid_row(event, str(i))
        if "sg_event_id" in event:
            assert isinstance(out, dict) and out["sg_event_id"] == event["sg_event_id"]
            assert out["event"] == event["event"].lower()
            assert out["email"] == event["email"]
            assert out["occurred_at"] is not None
        else:  # the docs' older samples have none: kept under an id derived from the whole event
            assert isinstance(out, dict) and out["sg_event_id"] == derived_event_id(event), out
            assert out["sg_event_id"] == row(dict(reversed(list(event.items()))))["sg_event_id"]  # order-free
            assert out["event"] == event["event"].lower() and out["email"] == event["email"]


def test_samples_exact_columns() -> None:
    by_name = {p.stem: _rows(p) for p in SAMPLES}
    deferred = by_name["docs_deferred"][0][0]
    assert deferred == {
        "sg_event_id": "t7LEShmowp86DTdUW8M-GQ==",
        "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "message_id": None,
        "event": "deferred",
        "email": "example@test.com",
        "bounce_type": None,
        "reason": "400 try again later",
        "status": None,
        "url": None,
        "occurred_at": dt.datetime(2017, 12, 15, 0, 59, 29),
        "bounce_classification": None,
        "attempt": 5,
        "useragent": None,
        "ip": None,
        "categories": '["cat facts"]',
        "custom_args": None,
        "run_id": None,
        "asm_group_id": None,
        "url_offset_index": None,
        "sg_machine_open": None,
    }
    blocked = by_name["docs_bounce_type_blocked"][0][0]
    assert (blocked["event"], blocked["bounce_type"], blocked["reason"], blocked["status"]) == (
        "bounce",
        "blocked",
        "500 unknown recipient",
        "5.0.0",
    )
    click = by_name["docs_click_with_url_offset_and_unique_args"][0][0]
    assert (click["url_offset_index"], click["asm_group_id"], click["categories"], click["custom_args"]) == (
        0,
        1,
        '["category1","category2"]',
        '{"unique_arg_key":"unique_arg_value"}',
    )
    single = by_name["docs_open_marketing_singlesend"][0][0]
    assert (single["occurred_at"], single["categories"], single["custom_args"], single["ip"]) == (
        dt.datetime(2020, 6, 9, 18, 19, 12, 372000),
        "[]",
        None,
        "127.0.0.1",
    )
    combined, rejected = by_name["docs_all_events_combined"]
    assert [r["event"] for r in combined] == [
        "processed",
        "deferred",
        "delivered",
        "open",
        "click",
        "bounce",
        "dropped",
        "spamreport",
        "unsubscribe",
        "group_unsubscribe",
        "group_resubscribe",
    ]
    assert not rejected
    [legacy], no_rejects = by_name["docs_unsubscribe_legacy_newsletter"]
    assert not no_rejects  # a legacy unsubscribe must never be lost: it lands, and opts its address out
    assert (legacy["event"], legacy["email"]) == ("unsubscribe", "nick@sendgrid.com")
    assert legacy["sg_event_id"].startswith("derived-")
    [with_id] = by_name["docs_processed_reserved_keys_in_unique_args"][0]
    assert (with_id["event"], with_id["occurred_at"], with_id["custom_args"]) == (
        "processed",
        dt.datetime(1973, 11, 29, 21, 33, 9),
        '{"New Argument 1":"New Value 1","activationAttempt":"1","customerAccountNumber":"55555"}',
    )
