"""SMS and push status callbacks, and the in-app inbox endpoints, over real HTTP."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from herald.landing import table_dir
from herald.project import Project
from herald.raw_schema import CHANNEL_EVENTS
from senders.links import Links
from senders.providers.base import OutgoingMessage
from senders.providers.inbox import InboxProvider
from senders.providers.twilio import TwilioSettings, callback_url
from senders.tracking.callbacks import callback_routes, push_row, twilio_row, twilio_signature
from senders.tracking.context import ServeContext
from senders.tracking.server import JsonLog, ServeOptions, create_app
from senders.tracking.webhooks import webhook_routes
from tests.tracking.serving import (
    CALLBACK_TOKEN,
    LINK_SECRET,
    TWILIO_TOKEN,
    Signer,
    env_for,
    request,
    running,
)

PUBLIC = "https://hooks.shop.example"


@pytest.fixture
def port(project: Project) -> Iterator[int]:
    ctx = ServeContext.from_env(project, env_for(project, Signer.generate()))
    app = create_app(
        ctx,
        ServeOptions(compact_every=None),
        route_factories=(webhook_routes, callback_routes),
        log=JsonLog(io.StringIO()),
    )
    with running(app) as p:
        yield p


def _channel_rows(project: Project) -> list[dict[str, object]]:
    import duckdb

    con = duckdb.connect()
    rel = con.execute(
        "select * exclude (_batch_id, _source_file, _line_number, _loaded_at) from read_parquet(?) order by all",
        [str(table_dir(project, CHANNEL_EVENTS) / "*.parquet")],
    )
    names = [d[0] for d in rel.description]
    return [dict(zip(names, r, strict=True)) for r in rel.fetchall()]


# ---------- Twilio


def test_twilio_signature_matches_twilios_published_example() -> None:
    # Twilio's own signature-validation example (TwilioDevEd/api-snippets, auth token 12345).
    params = {
        "CallSid": "CA1234567890ABCDE",
        "Caller": "+14158675310",
        "Digits": "1234",
        "From": "+14158675310",
        "To": "+18005551212",
    }
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature(url, list(params.items()), "12345") == "GvWf1cFY/Q7PnoempGyD5oXAezc="


def _twilio_post(port: int, query: str, params: dict[str, str], token: str = TWILIO_TOKEN) -> int:
    path = "/callbacks/twilio" + (f"?{query}" if query else "")
    signature = twilio_signature(PUBLIC + path, list(params.items()), token)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return request(port, "POST", path, urlencode(params).encode(), headers)[0]


def test_twilio_callbacks_are_verified_and_land(project: Project, port: int) -> None:
    callback = callback_url(PUBLIC + "/callbacks/twilio", "m000001")
    query = callback.split("?", 1)[1]
    delivered = {"MessageSid": "SM" + "a" * 32, "MessageStatus": "delivered", "AccountSid": "AC" + "b" * 32}
    failed = {**delivered, "MessageStatus": "undelivered", "ErrorCode": "30003", "ErrorMessage": "Unreachable"}
    assert _twilio_post(port, query, delivered) == 204
    assert _twilio_post(port, query, delivered) == 204  # Twilio retries: same event id
    assert _twilio_post(port, query, failed) == 204
    assert _twilio_post(port, query, delivered, token="wrong") == 403
    assert _twilio_post(port, "herald_message_id=m999", delivered, token="wrong") == 403
    # The signature covers the query: a callback moved to another message id is refused.
    sig = twilio_signature(PUBLIC + "/callbacks/twilio?" + query, list(delivered.items()), TWILIO_TOKEN)
    status, _ = request(
        port,
        "POST",
        "/callbacks/twilio?herald_message_id=m999",
        urlencode(delivered).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig},
    )
    assert status == 403
    assert _twilio_post(port, query, {"AccountSid": "AC1"}) == 400
    from senders.tracking.spool import compact

    compact(project)  # nothing sealed yet: the server is still running
    assert not table_dir(project, CHANNEL_EVENTS).exists()


def test_twilio_rows_after_shutdown(project: Project) -> None:
    ctx = ServeContext.from_env(project, env_for(project, Signer.generate()))
    app = create_app(
        ctx, ServeOptions(compact_every=None), route_factories=(callback_routes,), log=JsonLog(io.StringIO())
    )
    params = {"MessageSid": "SM" + "c" * 32, "MessageStatus": "failed", "ErrorCode": "30006"}
    with running(app) as p:
        assert _twilio_post(p, "herald_message_id=m7", params) == 204
        assert _twilio_post(p, "herald_message_id=m7", params) == 204
    rows = _channel_rows(project)
    assert len(rows) == 2 and rows[0]["event_id"] == rows[1]["event_id"]
    row = rows[0]
    assert {k: row[k] for k in ("provider", "channel", "provider_message_id", "message_id", "event", "error_code")} == {
        "provider": "twilio",
        "channel": "sms",
        "provider_message_id": "SM" + "c" * 32,
        "message_id": "m7",
        "event": "failed",
        "error_code": "30006",
    }


def test_the_sms_provider_points_twilio_at_herald_serve() -> None:
    env = {
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "t",
        "HERALD_SMS_FROM": "+14155550100",
        "HERALD_PUBLIC_URL": PUBLIC + "/",
    }
    assert TwilioSettings.from_env(env).status_callback == PUBLIC + "/callbacks/twilio"
    assert TwilioSettings.from_env({**env, "HERALD_SMS_STATUS_CALLBACK": "off"}).status_callback == ""
    other = "https://elsewhere.example/cb"
    assert TwilioSettings.from_env({**env, "HERALD_SMS_STATUS_CALLBACK": other}).status_callback == other
    assert twilio_row({"MessageSid": "SM1"}, None, None) == "MessageSid and MessageStatus are required"  # type: ignore[arg-type]


# ---------- push


def _push(port: int, payload: object, token: str | None = CALLBACK_TOKEN) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return request(port, "POST", "/callbacks/push", json.dumps(payload).encode(), headers)[0]


def test_push_callbacks_need_the_token(port: int) -> None:
    event = {"message_id": "m1", "event": "opened", "occurred_at": "2026-01-02T03:04:05Z"}
    assert _push(port, event) == 204
    assert _push(port, [event, {**event, "event": "received"}]) == 204
    assert _push(port, event, token="wrong") == 401
    assert _push(port, event, token=None) == 401
    assert _push(port, {**event, "event": "exploded"}) == 400
    assert _push(port, {**event, "occurred_at": "soon"}) == 400
    assert _push(port, []) == 400


def test_push_rows() -> None:
    a = push_row({"message_id": "m1", "event": "received", "occurred_at": "2026-01-02T04:04:05+01:00"})
    b = push_row({"message_id": "m1", "event": "received", "occurred_at": 1767323045})
    assert isinstance(a, dict) and a == b  # the same moment, however it is written: the same row and id
    assert (a["provider"], a["channel"], a["event"], a["occurred_at"]) == (
        "fcm",
        "push",
        "delivered",
        "2026-01-02T03:04:05.000000",
    )


# ---------- inbox


def _inbox_message(i: int, profile: str) -> OutgoingMessage:
    return OutgoingMessage(
        message_id=f"m{i:04d}",
        run_id="r1",
        recipient_id=profile,
        channel="in_app",
        address=profile,
        title=f"Title {i}",
        text=f"Text {i}",
        html=f"<p>{i}</p>",
        data={},
    )


def test_an_inbox_shows_its_own_profile_only(project: Project, port: int) -> None:
    InboxProvider(project).send([_inbox_message(1, "P1"), _inbox_message(2, "P2"), _inbox_message(3, "P1")])
    links = Links(public_url=PUBLIC, secret=LINK_SECRET.encode())
    p1, p2 = links.scoped_token("inbox", "P1"), links.scoped_token("inbox", "P2")
    status, body = request(port, "GET", f"/inbox/{p1}")
    assert status == 200
    assert [(m["message_id"], m["read"]) for m in json.loads(body)] == [("m0003", False), ("m0001", False)]
    assert [m["message_id"] for m in json.loads(request(port, "GET", f"/inbox/{p2}")[1])] == ["m0002"]

    assert request(port, "POST", f"/inbox/{p1}/m0001/read")[0] == 204
    assert request(port, "POST", f"/inbox/{p1}/m0003/dismissed")[0] == 204
    assert [(m["message_id"], m["read"]) for m in json.loads(request(port, "GET", f"/inbox/{p1}")[1])] == [
        ("m0001", True)
    ]
    # Another profile's message, a forged or re-purposed token, an unknown event: all look like "not here".
    assert request(port, "POST", f"/inbox/{p2}/m0001/read")[0] == 404
    assert request(port, "POST", f"/inbox/{p1}/m0001/exploded")[0] == 404
    assert request(port, "GET", "/inbox/P1.forged")[0] == 404
    assert request(port, "GET", f"/inbox/{links.scoped_token('confirm', 'P1')}")[0] == 404
    assert request(port, "GET", f"/inbox/{links.token('P1')}")[0] == 404
