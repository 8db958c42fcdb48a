"""``POST /messages/{event}`` over real HTTP: uvicorn in a thread (or ``herald serve`` as a process, to kill it)
in front of the strict fake SendGrid.

The published warehouse here is a small hand-made one with the columns the endpoint reads (profiles, identities,
consents, quarantines): the consent and quarantine checks are ``senders.suppression``'s and
``senders.tracking.consents``' own, over it plus the landing zone and the spool."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import io
import json
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
import pytest
import yaml
from markupsafe import escape

from herald import clock
from herald.content.render import Renderer
from herald.project import Project
from senders import ledger
from senders.compose import with_preheader
from senders.errors import TrackingError
from senders.inbox import Inbox
from senders.tracking.consents import ConsentEvent, land_events
from senders.tracking.context import ServeContext
from senders.tracking.server import JsonLog, ServeOptions, create_app
from senders.tracking.transactional import message_id_for, transactional_routes
from senders.tracking.transactional_journal import run_id
from senders.tracking.transactional_specs import parse_message_type
from senders.tracking.webhooks import webhook_routes
from tests.conftest import make_scratch_project
from tests.fakes.base import Reply
from tests.fakes.sendgrid import MAIL_SEND, FakeSendGrid
from tests.tracking.serving import LINK_SECRET, ROOT, Served, request, running

pytestmark = pytest.mark.slow

TOKEN = "api-token-for-tests"
SG_KEY = "SG.transactional-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
ORDER = {
    "order_id": "A-1001",
    "order_date": "2026-11-29",
    "currency": "EUR",
    "total": 59.9,
    "items": [{"name": "Scarf", "quantity": 2, "unit_price": 19.95}, {"name": "Hat", "quantity": 1, "unit_price": 20}],
    "delivery_estimate": "2 December",
}
BACK_IN_STOCK = """
channel: email
template: back_in_stock
sender: {from_name: Herald Shop, from_email: news@shop.example}
consent: required
topic: back_in_stock
payload:
  product_name: string
"""


class HoldingSendGrid(FakeSendGrid):
    """The fake SendGrid, able to hold its answer after recording a message (a sender killed meanwhile)."""

    hold = 0.0

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        reply = super().handle(method, path, headers, body)
        if self.hold and path.startswith(MAIL_SEND):
            time.sleep(self.hold)
        return reply


@dataclass(frozen=True)
class World:
    project: Project
    fake: HoldingSendGrid
    env: dict[str, str]
    port: int
    log: io.StringIO

    def post(self, event: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, raw = request(self.port, "POST", f"/messages/{event}", data, AUTH if headers is None else headers)
        return status, json.loads(raw) if raw else {}

    def mail_sends(self) -> int:
        return sum(1 for r in self.fake.request_log if r.path.startswith(MAIL_SEND) and r.status == 202)


def publish_small_warehouse(project: Project) -> None:
    """A published warehouse with just what the endpoint reads."""
    project.published_dir.mkdir(parents=True, exist_ok=True)
    path = project.published_dir / "small.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema herald_meta")
        con.execute("create table herald_meta.build_info as select '' as batch_cutoff")
        con.execute(
            "create table profiles as select * from (values"
            " ('p1', 'ann@example.com', '+33600000001', 'Ann', 'Lee', 'en'),"
            " ('p2', 'bob@example.com', null, 'Bob', null, 'en'),"
            " ('p3', 'cat@example.com', null, 'Cat', null, 'fr'),"
            " ('p4', 'dan@example.com', null, 'Dan', null, 'en'),"
            " ('p5', 'eve@example.com', null, 'Eve', null, 'en'))"
            " t(profile_id, email, phone, first_name, last_name, language_code)"
        )
        con.execute(
            "create table profile_identities as select profile_id, 'crm-' || profile_id as external_key, email,"
            " true as is_survivor from profiles"
        )
        con.execute(
            "create table profile_consents as select profile_id, 'email' as channel, 'back_in_stock' as topic,"
            " true as is_opted_in, timestamp '2026-01-01' as status_since, timestamp '2026-01-01' as last_changed_at"
            " from profiles where profile_id in ('p2', 'p4', 'p5')"
        )
        con.execute(
            "create table address_quarantines as select 'quarantined@example.com' as address, 'email' as channel,"
            " true as is_quarantined"
        )
        con.execute(
            "create table push_devices as select 'p1' as profile_id, 'd1' as device_id, 'tok1' as token,"
            " true as is_active, timestamp '2026-01-01' as registered_at"
        )
    finally:
        con.close()
    project.current_pointer.write_text("small.duckdb", encoding="utf-8")


def env_of(project: Project, fake: FakeSendGrid, **extra: str) -> dict[str, str]:
    return {
        "HERALD_LINK_SECRET": LINK_SECRET,
        "HERALD_PUBLIC_URL": "https://hooks.shop.example",
        "HERALD_HOME": str(project.root),
        "HERALD_WAREHOUSE_DIR": str(project.warehouse_dir),
        "HERALD_API_TOKEN": TOKEN,
        "SENDGRID_API_KEY": SG_KEY,
        "HERALD_SENDGRID_HOST": fake.url,
        **extra,
    }


def app_for(project: Project, env: dict[str, str], log: JsonLog | None = None) -> Any:
    ctx = ServeContext.from_env(project, env)
    options = ServeOptions(insecure_unsigned_webhook=True, compact_every=None)
    return create_app(ctx, options, route_factories=(webhook_routes, transactional_routes), log=log)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    project = make_scratch_project(tmp_path_factory.mktemp("transactional"))
    (project.specs_dir / "transactional" / "back_in_stock.yml").write_text(BACK_IN_STOCK, encoding="utf-8")
    folder = project.specs_dir / "templates" / "back_in_stock"
    folder.mkdir()
    (folder / "template.yml").write_text(
        "channel: email\nsubject: '{{ product_name }} is back'\n"
        "text: 'Good news, {{ first_name }}: {{ product_name }} is back. Unsubscribe: {{ unsubscribe_url }}'\n",
        encoding="utf-8",
    )
    (project.specs_dir / "transactional" / "order_shipped.yml").write_text(
        "channel: in_app\ntemplate: order_shipped\npayload: {order_id: string}\n", encoding="utf-8"
    )
    folder = project.specs_dir / "templates" / "order_shipped"
    folder.mkdir()
    (folder / "template.yml").write_text(
        "channel: in_app\ntitle: 'Order {{ order_id }} shipped'\ntext: 'On its way, {{ first_name }}.'\n",
        encoding="utf-8",
    )
    publish_small_warehouse(project)
    log = io.StringIO()
    fake = HoldingSendGrid(api_key=SG_KEY)
    with fake:
        env = env_of(project, fake)
        with running(app_for(project, env, JsonLog(log))) as port:
            yield World(project, fake, env, port, log)


def today_run(event: str) -> str:
    return run_id(event, clock.now().date())


def states(project: Project, run: str, mid: str) -> list[str]:
    return [e.state for e in ledger.read_history(project, run) if e.message_id == mid]


# ---------------------------------------------------------------------------------------------------- requests


def test_a_token_is_required_and_an_unconfigured_server_stays_closed(world: World) -> None:
    body = {"recipient": {"profile_id": "p1"}, "payload": ORDER}
    assert world.post("order_confirmation", body, headers={"Content-Type": "application/json"})[0] == 401
    status, answer = world.post("order_confirmation", body, headers={**AUTH, "Authorization": "Bearer wrong"})
    assert status == 401 and "token" in answer["error"]
    assert world.post("order_confirmation", body, headers={**AUTH, "Authorization": f"Basic {TOKEN}"})[0] == 401
    unconfigured = {k: v for k, v in world.env.items() if k != "HERALD_API_TOKEN"}
    with running(app_for(world.project, unconfigured)) as port:
        status, raw = request(port, "POST", "/messages/order_confirmation", json.dumps(body).encode(), AUTH)
    assert status == 503 and "HERALD_API_TOKEN" in json.loads(raw)["error"]
    assert world.mail_sends() == 0


def test_the_payload_is_checked_against_the_spec_naming_the_field(world: World) -> None:
    status, answer = world.post(
        "order_confirmation", {"recipient": {"profile_id": "p1"}, "payload": {**ORDER, "total": "59.90", "colour": 1}}
    )
    assert status == 422
    assert answer["fields"]["payload.total"] == "must be a number, not a string"
    assert "unknown field" in answer["fields"]["payload.colour"]
    status, answer = world.post("order_confirmation", {"recipient": {"profile_id": "p1"}, "payload": {"order_id": "x"}})
    assert status == 422 and "payload.items" in answer["fields"]
    status, answer = world.post("order_confirmation", {"recipient": {"profile_id": "nobody"}, "payload": ORDER})
    assert status == 422 and "recipient.profile_id" in answer["fields"]
    status, answer = world.post("order_confirmation", {"recipient": {}, "payload": ORDER})
    assert status == 422 and "recipient" in answer["fields"]
    # an item without a name: the template, which needs it, says so; nothing is claimed
    broken = {**ORDER, "items": [{"quantity": 1}], "order_id": "broken"}
    status, answer = world.post("order_confirmation", {"recipient": {"profile_id": "p1"}, "payload": broken})
    assert status == 422 and "order_confirmation" in answer["error"] and "name" in answer["error"]
    assert world.post("order_confirmation", b"not json")[0] == 400
    assert world.post("no_such_event", {"recipient": {"profile_id": "p1"}, "payload": {}})[0] == 404
    assert world.mail_sends() == 0


def test_spec_errors_name_the_file_and_the_field() -> None:
    source = "specs/transactional/refund.yml"
    with pytest.raises(TrackingError, match=r"refund.yml: payload.amount.type: 'money' must be one of"):
        parse_message_type(
            {
                "channel": "email",
                "template": "t",
                "sender": {"from_email": "a@b.example"},
                "payload": {"amount": "money"},
            },
            event="refund",
            source=source,
        )
    with pytest.raises(TrackingError, match=r"refund.yml: topic: consent is required"):
        parse_message_type({"channel": "sms", "template": "t", "consent": "required"}, event="refund", source=source)
    with pytest.raises(TrackingError, match=r"refund.yml: sender.from_email"):
        parse_message_type({"channel": "email", "template": "t", "sender": {}}, event="refund", source=source)


def test_a_message_is_rendered_by_the_shared_renderer_and_journaled_claim_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[float, str]] = []  # (time, file) of every fsync
    fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        fsync(fd)
        synced.append((time.time(), os.readlink(f"/proc/self/fd/{fd}")))

    monkeypatch.setattr(os, "fsync", recording_fsync)
    started = clock.now().isoformat(timespec="microseconds")
    body = {"recipient": {"external_key": "crm-p1"}, "payload": ORDER, "idempotency_key": "order-A-1001"}
    status, answer = world.post("order_confirmation", body)
    assert status == 202, answer
    mid = answer["message_id"]
    assert mid == message_id_for("order_confirmation", "order-A-1001", {}, {})
    assert answer["state"] == "accepted" and answer["replay"] is False and answer["provider_id"]
    assert answer["run_id"] == today_run("order_confirmation") and answer["timing_ms"]["total"] > 0

    [sent] = world.fake.messages[mid]
    renderer = Renderer(world.project.specs_dir / "templates")
    context = {"message_id": mid, "event": "order_confirmation"}
    expected = renderer.render(
        "order_confirmation", {"first_name": "Ann", "last_name": "Lee", "language_code": "en", **ORDER}, context
    )
    assert sent.to == ("ann@example.com",) and sent.from_email == "orders@shop.example"
    assert sent.subject == expected.subject == "Your order A-1001 is confirmed"
    assert sent.text == expected.text and "2 x Scarf: 39.90 EUR" in sent.text
    assert sent.html == with_preheader(expected.html, str(escape(expected.preheader)))
    assert "List-Unsubscribe" not in sent.headers  # a receipt has nothing to unsubscribe from
    assert sent.custom_args["run_id"] == answer["run_id"] and sent.custom_args["delivery_id"] == "tx_order_confirmation"

    entries = [e for e in ledger.read_history(world.project, answer["run_id"]) if e.message_id == mid]
    assert [e.state for e in entries] == ["claimed", "accepted"]
    claim, accepted = entries
    assert started <= claim.at < accepted.at
    assert claim.at < dt.datetime.fromtimestamp(sent.received_at, dt.UTC).isoformat(timespec="microseconds")
    shard_syncs = [at for at, path in synced if "/ledger/tx-order_confirmation-" in path and path.endswith(".jsonl")]
    assert shard_syncs and shard_syncs[0] < sent.received_at  # the claim was on disk before SendGrid had it
    assert (claim.profile_id, claim.recipient_id, claim.channel) == ("p1", "p1", "email")
    assert claim.content_hash == renderer.load("order_confirmation").content_hash
    assert accepted.provider_id == answer["provider_id"]
    plan = json.loads((world.project.ledger_dir / answer["run_id"] / "plan.json").read_text())
    assert plan["shards"] >= 1


def test_the_same_key_three_times_sends_once(world: World) -> None:
    before = world.mail_sends()
    body = {"recipient": {"address": "guest@example.com"}, "payload": {**ORDER, "order_id": "G-1"}}
    answers = [world.post("order_confirmation", {**body, "idempotency_key": "G-1"}) for _ in range(3)]
    assert [s for s, _ in answers] == [202, 200, 200]
    assert len({a["message_id"] for _, a in answers}) == 1
    assert [a["replay"] for _, a in answers] == [False, True, True]
    assert {a["state"] for _, a in answers} == {"accepted"}
    assert world.fake.deliveries(answers[0][1]["message_id"]) == 1

    # a double click: three at once with one key (here as the Idempotency-Key header)
    headers = {**AUTH, "Idempotency-Key": "G-2"}
    with ThreadPoolExecutor(3) as pool:
        burst = list(pool.map(lambda _: world.post("order_confirmation", body, headers), range(3)))
    assert sorted(s for s, _ in burst) == [200, 200, 202]
    assert world.fake.deliveries(burst[0][1]["message_id"]) == 1

    # no key: the same recipient and payload are the same message
    first = world.post("order_confirmation", body)
    again = world.post("order_confirmation", body)
    assert (first[0], again[0]) == (202, 200) and first[1]["message_id"] == again[1]["message_id"]
    assert world.mail_sends() == before + 3


def test_requests_share_a_connection_and_are_logged_without_personal_data(world: World) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", world.port, timeout=30)
    try:
        for i in range(3):
            body = {"recipient": {"address": "keepalive@example.com"}, "payload": {**ORDER, "order_id": f"KA-{i}"}}
            conn.request("POST", "/messages/order_confirmation", json.dumps(body).encode(), AUTH)
            reply = conn.getresponse()
            assert reply.status == 202 and json.loads(reply.read())["state"] == "accepted"
    finally:
        conn.close()
    lines = [json.loads(line) for line in world.log.getvalue().splitlines()]
    logged = [x for x in lines if x["event"] == "request" and x["route"] == "/messages/{event}"]
    assert {"message_type": "order_confirmation", "outcome": "accepted", "status": 202}.items() <= logged[-1].items()
    assert "@" not in world.log.getvalue()


def test_provider_faults_answer_clearly_and_a_retry_sends_once(world: World) -> None:
    body = {"recipient": {"profile_id": "p1"}, "payload": {**ORDER, "order_id": "F-1"}, "idempotency_key": "F-1"}
    world.fake.inject("500", "503", "500")  # every attempt of the request fails
    status, answer = world.post("order_confirmation", body)
    assert status == 502 and answer["state"] == "failed" and "retryable" in answer["reason"]
    mid = answer["message_id"]
    assert world.fake.deliveries(mid) == 0
    assert states(world.project, answer["run_id"], mid) == ["claimed", "failed"]
    status, answer = world.post("order_confirmation", body)
    assert status == 202 and answer["state"] == "accepted"
    assert world.fake.deliveries(mid) == 1
    assert states(world.project, answer["run_id"], mid) == ["claimed", "failed", "claimed", "accepted"]

    # 429: not waited out while a caller waits; 503 with the provider's Retry-After
    body = {**body, "idempotency_key": "F-2"}
    world.fake.inject("429")
    status, raw = request(world.port, "POST", "/messages/order_confirmation", json.dumps(body).encode(), AUTH)
    assert status == 503 and json.loads(raw)["state"] == "failed"
    assert world.post("order_confirmation", body)[0] == 202

    # accepted, then the connection dropped: looked up, found, not sent again
    body = {**body, "idempotency_key": "F-3"}
    world.fake.inject("accept_drop")
    status, answer = world.post("order_confirmation", body)
    assert status == 202 and answer["provider_id"] == "lookup"
    assert world.fake.deliveries(answer["message_id"]) == 1


def test_an_answer_lost_with_no_way_to_look_it_up_stays_unknown_and_is_never_sent_again(world: World) -> None:
    body = {"recipient": {"profile_id": "p1"}, "payload": {**ORDER, "order_id": "U-1"}, "idempotency_key": "U-1"}
    blind = {**world.env, "HERALD_SENDGRID_LOOKUP": "off"}  # no Email Activity add-on
    with running(app_for(world.project, blind)) as port:
        world.fake.inject("accept_drop")
        for _ in range(2):
            status, raw = request(port, "POST", "/messages/order_confirmation", json.dumps(body).encode(), AUTH)
            answer = json.loads(raw)
            assert (status, answer["state"]) == (504, "unknown") and "idempotency key" in answer["error"]
    assert world.fake.deliveries(answer["message_id"]) == 1
    assert states(world.project, answer["run_id"], answer["message_id"]) == ["claimed", "unknown"]
    # with the lookup back, the same key settles it
    status, answer = world.post("order_confirmation", body)
    assert (status, answer["state"], answer["replay"]) == (200, "accepted", True)
    assert world.fake.deliveries(answer["message_id"]) == 1


def test_consent_is_checked_for_types_that_require_it(world: World) -> None:
    def post(profile: str, key: str) -> tuple[int, dict[str, Any]]:
        payload = {"product_name": "Blue scarf"}
        return world.post(
            "back_in_stock", {"recipient": {"profile_id": profile}, "payload": payload, "idempotency_key": key}
        )

    status, answer = post("p2", "bis-1")
    assert status == 202, answer
    assert "List-Unsubscribe" in world.fake.messages[answer["message_id"]][0].headers
    # never subscribed to the topic
    status, answer = post("p3", "bis-2")
    assert (status, answer["state"], answer["reason"]) == (200, "suppressed", "no_consent")
    # unsubscribed a moment ago: the opt-out is only in the landing zone
    land_events(
        world.project,
        [
            ConsentEvent(
                "hc-test-1",
                "crm-p2",
                "email",
                "back_in_stock",
                "opt_out",
                "preference_center",
                "test",
                None,
                clock.now().replace(tzinfo=None),
            )
        ],
        source_file="test",
    )
    status, answer = post("p2", "bis-3")
    assert (status, answer["state"]) == (200, "suppressed") and answer["reason"].startswith("opted_out")
    assert states(world.project, answer["run_id"], answer["message_id"]) == ["skipped"]
    # unsubscribed through the provider a moment ago: the event is only in the webhook's spool
    unsubscribe = [
        {
            "email": "dan@example.com",
            "event": "unsubscribe",
            "timestamp": int(time.time()),
            "sg_event_id": "unsub-dan",
            "sg_message_id": "x.filter",
        }
    ]
    assert request(world.port, "POST", "/webhooks/sendgrid", json.dumps(unsubscribe).encode(), AUTH)[0] == 200
    status, answer = post("p4", "bis-4")
    assert (status, answer["state"]) == (200, "suppressed") and answer["reason"].startswith("opted_out")
    # the same opt-out does not stop a receipt; a quarantined address stops everything
    order = {**ORDER, "order_id": "D-1"}
    assert world.post("order_confirmation", {"recipient": {"profile_id": "p4"}, "payload": order})[0] == 202
    status, answer = world.post(
        "order_confirmation", {"recipient": {"address": "Quarantined@example.com"}, "payload": order}
    )
    assert (status, answer["state"], answer["reason"]) == (200, "suppressed", "quarantined")
    # a type that requires consent needs a profile
    status, answer = world.post(
        "back_in_stock", {"recipient": {"address": "eve@example.com"}, "payload": {"product_name": "Hat"}}
    )
    assert status == 422 and "profile" in answer["fields"]["recipient"]


def test_a_server_killed_after_the_provider_call_never_sends_twice(world: World) -> None:
    key = "K-1"
    body = {"recipient": {"profile_id": "p1"}, "payload": {**ORDER, "order_id": key}, "idempotency_key": key}
    mid = message_id_for("order_confirmation", key, {}, {})
    served = Served(world.env, "--insecure-unsigned-webhook", "--compact-every", "0")
    world.fake.hold = 30.0  # SendGrid has the message; its answer is on the way
    try:
        caller = threading.Thread(
            target=lambda: _ignore_errors(
                request, served.port, "POST", "/messages/order_confirmation", json.dumps(body).encode(), AUTH
            ),
            daemon=True,
        )
        caller.start()
        deadline = time.monotonic() + 20
        while world.fake.deliveries(mid) == 0:
            assert time.monotonic() < deadline, "the message never reached the provider"
            time.sleep(0.01)
        served.kill()  # after the provider call, before the answer
    finally:
        world.fake.hold = 0.0
    assert states(world.project, today_run("order_confirmation"), mid) == ["claimed"]

    restarted = Served(world.env, "--insecure-unsigned-webhook", "--compact-every", "0")
    try:
        status, raw = request(restarted.port, "POST", "/messages/order_confirmation", json.dumps(body).encode(), AUTH)
        answer = json.loads(raw)
        assert (status, answer["state"], answer["replay"], answer["provider_id"]) == (200, "accepted", True, "lookup")
        assert world.post("order_confirmation", body)[0] == 200
    finally:
        restarted.stop()
    assert world.fake.deliveries(mid) == 1
    assert states(world.project, today_run("order_confirmation"), mid) == ["claimed", "accepted"]


def _ignore_errors(fn: Any, *args: Any) -> None:
    with contextlib.suppress(OSError):  # the server is killed under it
        fn(*args)


def test_an_in_app_message_goes_to_the_profiles_inbox_once(world: World) -> None:
    body = {"recipient": {"profile_id": "p1"}, "payload": {"order_id": "S-1"}, "idempotency_key": "S-1"}
    first, again = world.post("order_shipped", body), world.post("order_shipped", body)
    assert (first[0], again[0]) == (202, 200) and first[1]["message_id"] == again[1]["message_id"]
    [message] = [m for m in Inbox(world.project).messages("p1") if m.message_id == first[1]["message_id"]]
    assert (message.title, message.text) == ("Order S-1 shipped", "On its way, Ann.")
    status, answer = world.post("order_shipped", {"recipient": {"address": "p1"}, "payload": {"order_id": "S-2"}})
    assert status == 422 and "profile" in answer["fields"]["recipient"]


def test_the_small_warehouse_has_the_marts_columns(world: World) -> None:
    """Every column the small warehouse gives is one the real marts document (it must not drift from them)."""
    models = yaml.safe_load((ROOT / "dbt_project/models/marts/profiles/_profiles__models.yml").read_text())["models"]
    documented = {m["name"]: {c["name"] for c in m.get("columns", [])} for m in models}
    con = duckdb.connect(str(world.project.published_dir / "small.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "select table_name, list(column_name) from information_schema.columns where table_schema = 'main'"
            " group by all"
        ).fetchall()
    finally:
        con.close()
    for table, columns in tables:
        assert set(columns) <= documented[table], (table, set(columns) - documented[table])


def test_the_ledger_lines_are_what_the_dbt_source_reads(world: World) -> None:
    """The transactional runs are read by the same glob and columns as the bulk runs."""
    body = {"recipient": {"profile_id": "p1"}, "payload": {**ORDER, "order_id": "L-1"}, "idempotency_key": "L-1"}
    assert world.post("order_confirmation", body)[0] in (200, 202)
    con = duckdb.connect()
    try:
        rows = con.execute(
            "select run_id, count(*) from read_json(?, format='newline_delimited', columns={message_id: 'varchar',"
            " state: 'varchar', attempt: 'bigint', run_id: 'varchar', recipient_id: 'varchar', profile_id: 'varchar',"
            " channel: 'varchar', delivery_id: 'varchar', content_hash: 'varchar', provider_id: 'varchar',"
            " reason: 'varchar', \"at\": 'varchar', writer: 'varchar'}) group by all",
            [ledger.ledger_glob(world.project)],
        ).fetchall()
    finally:
        con.close()
    runs = dict(rows)
    assert runs[today_run("order_confirmation")] >= 2
