"""``herald serve`` over real HTTP: the Event Webhook's answers, idempotence, durability under SIGKILL, cut-off
requests, concurrency, the log."""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pytest
from starlette.routing import BaseRoute

from herald.landing import table_dir
from herald.project import Project
from herald.raw_schema import ESP_EVENTS
from senders.errors import TrackingError
from senders.tracking.callbacks import callback_routes
from senders.tracking.context import ServeContext
from senders.tracking.server import JsonLog, ServeOptions, create_app
from senders.tracking.spool import compact, segments_dir
from senders.tracking.webhooks import webhook_routes
from tests.tracking.serving import (
    Served,
    Signer,
    body_of,
    env_for,
    events,
    landed_events,
    request,
    running,
)

MINE = (webhook_routes, callback_routes)  # the consent pages are tested by their own module


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate()


def _app(project: Project, signer: Signer | None, log: JsonLog | None = None, **options: object):  # type: ignore[no-untyped-def]
    ctx = ServeContext.from_env(project, env_for(project, signer))
    opts = ServeOptions(compact_every=None, compact_in_process=True, **options)  # type: ignore[arg-type]
    return create_app(ctx, opts, route_factories=MINE, log=log or JsonLog(io.StringIO()))


@pytest.fixture
def served(project: Project, signer: Signer) -> Iterator[int]:
    with running(_app(project, signer)) as port:
        yield port


def _post(port: int, body: bytes, headers: dict[str, str]) -> int:
    return request(port, "POST", "/webhooks/sendgrid", body, headers)[0]


def _spooled_lines(project: Project) -> int:
    folder = segments_dir(project, ESP_EVENTS)
    if not folder.is_dir():
        return 0
    return sum(p.read_bytes().count(b"\n") for p in folder.iterdir() if not p.name.startswith("."))


def test_health_and_a_signed_batch_lands(project: Project, signer: Signer, served: int) -> None:
    assert request(served, "GET", "/healthz") == (200, b'{"status":"ok"}')
    body = body_of(events(3))
    assert _post(served, body, signer.headers(body)) == 200
    assert _spooled_lines(project) == 1  # durable before the answer
    compact(project)  # the open segment stays open: nothing lands until it is sealed
    assert not table_dir(project, ESP_EVENTS).exists() or not landed_events(project)


def test_refused_requests_write_nothing(project: Project, signer: Signer, served: int) -> None:
    body = body_of(events(2))
    good = signer.headers(body)
    other = Signer.generate()
    cases = {
        "tampered body": (body.replace(b"delivered", b"delivereD"), good, 403),
        "wrong key": (body, other.headers(body), 403),
        "stale timestamp": (body, signer.headers(body, int(time.time()) - 3600), 403),
        "future timestamp": (body, signer.headers(body, int(time.time()) + 3600), 403),
        "no signature": (body, {"Content-Type": "application/json"}, 401),
        "not an array": (b'{"event":"open"}', signer.headers(b'{"event":"open"}'), 400),
        "not JSON": (b"[{]", signer.headers(b"[{]"), 400),
        "array of numbers": (b"[1,2]", signer.headers(b"[1,2]"), 400),
    }
    for name, (b, h, status) in cases.items():
        assert _post(served, b, h) == status, name
    assert _spooled_lines(project) == 0


def test_too_large_is_413_before_reading_it(project: Project, signer: Signer) -> None:
    with running(_app(project, signer, max_webhook_bytes=10_000)) as port:
        body = body_of(events(100))
        assert len(body) > 10_000
        assert _post(port, body, signer.headers(body)) == 413
        small = body_of(events(5))
        assert _post(port, small, signer.headers(small)) == 200
    assert _spooled_lines(project) == 0  # sealed and compacted at shutdown
    assert len(landed_events(project)) == 5


def test_the_same_batch_three_times_lands_identical_rows(project: Project, signer: Signer) -> None:
    batch = events(20) + [{**e, "event": "open", "sg_event_id": e["sg_event_id"] + "o"} for e in events(5)]
    body = body_of(batch)
    with running(_app(project, signer)) as port:
        for _ in range(3):  # SendGrid retries: each post freshly signed, same events
            assert _post(port, body, signer.headers(body)) == 200
    rows = landed_events(project)
    assert len(rows) == 75
    distinct = sorted(set(rows))
    assert len(distinct) == 25  # three posts, identical rows
    assert all(rows.count(r) == 3 for r in distinct)
    con = duckdb.connect()
    [(n,)] = con.execute(
        "select count(distinct sg_event_id) from read_parquet(?)", [str(table_dir(project, ESP_EVENTS) / "*.parquet")]
    ).fetchall()
    assert n == 25


def test_a_request_cut_off_mid_body_is_not_acknowledged_nor_written(
    project: Project, signer: Signer, served: int
) -> None:
    body = body_of(events(50))
    headers = signer.headers(body)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with socket.create_connection(("127.0.0.1", served), timeout=5) as s:
        s.sendall(
            f"POST /webhooks/sendgrid HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        s.shutdown(socket.SHUT_WR)
        answer = s.recv(1024)
    assert not answer.startswith(b"HTTP/1.1 2")
    time.sleep(0.2)
    assert _spooled_lines(project) == 0
    assert _post(served, body, headers) == 200  # the server is fine afterwards


def test_concurrent_posts_all_land(project: Project, signer: Signer) -> None:
    log = io.StringIO()
    app = _app(project, signer, log=JsonLog(log))
    bodies = [body_of(events(100, prefix=f"c{i}-")) for i in range(40)]
    with running(app) as port, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda b: _post(port, b, signer.headers(b)), bodies))
        stats = app.state.spool.stats()["esp_events"]
    assert statuses == [200] * 40
    assert stats["lines"] == 40 and stats["syncs"] <= 40
    ids = [r[0] for r in landed_events(project)]
    assert len(ids) == len(set(ids)) == 4000
    lines = [json.loads(line) for line in log.getvalue().splitlines()]
    posts = [x for x in lines if x["event"] == "request" and x["route"] == "/webhooks/sendgrid"]
    assert len(posts) == 40 and all(p["status"] == 200 and p["events"] == 100 for p in posts)
    assert {"compacted", "serve_started", "serve_stopped"} <= {x["event"] for x in lines}
    assert "@example.com" not in log.getvalue()  # no personal data in the log


def test_no_key_refuses_to_start_unless_explicitly_insecure(project: Project) -> None:
    with pytest.raises(TrackingError, match="HERALD_SENDGRID_WEBHOOK_KEY is not set"):
        _app(project, None)
    log = io.StringIO()
    with running(_app(project, None, log=JsonLog(log), insecure_unsigned_webhook=True)) as port:
        assert _post(port, body_of(events(1)), {}) == 200
    assert "INSECURE" in log.getvalue()
    bad = ServeContext.from_env(project, {**env_for(project, None), "HERALD_SENDGRID_WEBHOOK_KEY": "bm9wZQ=="})
    with pytest.raises(TrackingError, match="not a base64 DER public key"):
        create_app(bad, route_factories=MINE)


def test_the_consent_pages_are_mounted_by_default(project: Project, signer: Signer) -> None:
    pytest.importorskip("senders.tracking.consent_pages")
    ctx = ServeContext.from_env(project, env_for(project, signer))
    app = create_app(ctx, ServeOptions(compact_every=None), log=JsonLog(io.StringIO()))
    paths = {getattr(r, "path", "") for r in app.routes}
    assert {"/healthz", "/webhooks/sendgrid", "/callbacks/twilio", "/callbacks/push", "/inbox/{token}"} <= paths
    mine = {p for f in MINE for r in f(ctx) for p in [getattr(r, "path", "")]}
    assert len(paths - mine - {"/healthz"}) > 0  # and the consent pages' own routes


def test_no_acknowledged_event_is_lost_to_sigkill(project: Project, signer: Signer) -> None:
    env = env_for(project, signer)
    server = Served(env, "--compact-every", "0.3", only_tracking=True)
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            batch = events(200, prefix=f"k{n}-{i}-")
            body = body_of(batch)
            try:
                status = _post(server.port, body, signer.headers(body))
            except OSError:
                return
            if status == 200:
                with lock:
                    acked.extend(e["sg_event_id"] for e in batch)
            i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.5)  # long enough for background compactions to have landed some segments
    server.kill()  # SIGKILL with requests in flight, some just answered
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 1000  # every 200 the clients saw came before the kill

    # Restart (the dead server's open segment is sealed now: its lock died with it), then stop it cleanly.
    again = Served(env, "--compact-every", "0", only_tracking=True)
    err = again.stop()
    assert '"event": "compacted"' in err
    compact(project)
    landed = {r[0] for r in landed_events(project)}
    assert set(acked) <= landed


def test_route_factories_are_pluggable(project: Project, signer: Signer) -> None:
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request: object) -> PlainTextResponse:
        return PlainTextResponse("hi")

    def extra(ctx: ServeContext) -> list[BaseRoute]:
        return [Route("/hello", hello)]

    ctx = ServeContext.from_env(project, env_for(project, signer))
    app = create_app(ctx, ServeOptions(compact_every=None), route_factories=(extra,), log=JsonLog(io.StringIO()))
    with running(app) as port:
        assert request(port, "GET", "/hello") == (200, b"hi")
        assert request(port, "GET", "/nowhere")[0] == 404


def test_herald_serve_starts_and_stops_cleanly(project: Project, signer: Signer) -> None:
    server = Served(env_for(project, signer), "--compact-every", "0")
    body = body_of(events(10))
    assert _post(server.port, body, signer.headers(body)) == 200
    err = server.stop()
    assert server.proc.returncode in (0, -15), err  # uvicorn re-raises SIGTERM once it has shut down cleanly
    assert len(landed_events(project)) == 10  # sealed and compacted on the way out
    assert '"event": "serve_stopped"' in err
