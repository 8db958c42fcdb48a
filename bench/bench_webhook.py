"""Benchmark: SendGrid Event Webhook ingestion by `herald serve`, beside two baselines.

    .venv/bin/python bench/bench_webhook.py [--seconds 20] [--clients 4 8] [--events 1000]

What is measured: `herald serve` itself (uvicorn, one process, in its own process group) receiving signed posts of
``--events`` SendGrid events (~470 bytes each, like real delivered / open / click events with Herald's custom
args) from ``--clients`` client threads, each over its own keep-alive connection, for ``--seconds``. Every post
is signed like SendGrid's (ECDSA P-256 over timestamp + body, a key made for the run). A post counts when it is
answered 200, which the server sends only once the batch is synced to its spool; its latency is from the first
byte sent to the answer read. The server compacts its spool into landing batches every 5 s in its worker
process during the run, as in production.

Cases, each on a fresh warehouse folder and server:

* ``herald serve`` — group commit: one ``fdatasync`` shared by the requests that arrive while one runs.
* baseline ``--no-group-commit`` — the same server, one ``fdatasync`` per request.
* baseline ``naive`` — the simplest durable design: per request verify, parse, normalize every event and land it
  as its own Parquet batch (``herald.landing.land_batch``, fsynced) before answering; no spool.

After each case the server gets SIGTERM (it seals and compacts what is left) and the script checks that the landing
zone holds exactly as many ``esp_events`` rows as events were acknowledged; otherwise it fails. It prints events/s,
p50 / p99 / max acknowledgement latency, server CPU seconds (the server process and its compaction worker), the
syncs it made, how long the final compaction took, and the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

ROOT = Path(__file__).resolve().parents[1]
GOAL_EVENTS_PER_SECOND = 50_000
GOAL_P99_MS = 250.0


@dataclass
class Result:
    name: str
    clients: int
    posts: int
    events: int
    seconds: float
    latencies_ms: list[float]
    server_cpu: float
    landed: int
    shutdown_seconds: float
    syncs: str
    load: str

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")


def make_events(n: int, batch: int) -> list[dict[str, Any]]:
    kinds = ("delivered", "open", "click", "processed")
    out = []
    for i in range(n):
        kind = kinds[i % 4]
        e: dict[str, Any] = {
            "email": f"customer{batch}x{i}@example.com",
            "timestamp": 1764000000 + i,
            "smtp-id": f"<{batch:08x}{i:06x}@ismtpd-555>",
            "event": kind,
            "category": ["herald", "winter_sale", "d-winter-email"],
            "sg_event_id": base64.urlsafe_b64encode(f"{batch}:{i}:{kind}".encode()).decode(),
            "sg_message_id": f"{batch:08x}{i:06x}.filterdrecv-5645d9c87f-6r4bw-1-63F8C2E5-1.0",
            "message_id": f"m{batch:06d}{i:06d}",
            "run_id": "r20261203T080000-winter_sale_email",
            "delivery_id": "winter_sale_email",
        }
        if kind == "delivered":
            e.update(response="250 2.0.0 OK 1764000000 x12si123456qkb.42 - gsmtp", ip="149.72.123.45", tls=1)
        elif kind in ("open", "click"):
            e.update(useragent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X)", ip="66.249.84.12")
            e["sg_machine_open"] = False
        if kind == "click":
            e.update(url="https://shop.example/winter?utm_source=herald", url_offset={"index": 0, "type": "html"})
        out.append(e)
    return out


class Key:
    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_b64 = base64.b64encode(der).decode()

    def headers(self, body: bytes) -> dict[str, str]:
        ts = str(int(time.time()))
        sig = self.private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(case: str, warehouse: Path, key: Key, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HERALD_HOME": str(ROOT),
        "HERALD_WAREHOUSE_DIR": str(warehouse),
        "HERALD_LINK_SECRET": "bench-link-secret",
        "HERALD_SENDGRID_WEBHOOK_KEY": key.public_b64,
    }
    if case == "naive":
        cmd = [sys.executable, __file__, "--naive-server", "--port", str(port)]
    else:
        cmd = [sys.executable, "-m", "herald.cli", "serve", "--port", str(port)]
        if case == "no-group-commit":
            cmd.append("--no-group-commit")
    log = open(warehouse.parent / f"{case}.log", "wb")  # noqa: SIM115 - the server's lifetime
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            break
    raise SystemExit(f"{case}: the server did not start; see {log.name}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its live children (the compaction worker)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) == pid or int(fields[1]) == pid:
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def landed_rows(warehouse: Path) -> int:
    folder = warehouse / "landing" / "esp_events"
    if not folder.is_dir():
        return 0
    con = duckdb.connect()
    [(n,)] = con.execute("select count(*) from read_parquet(?)", [str(folder / "*.parquet")]).fetchall()
    return int(n)


def run_case(case: str, clients: int, seconds: float, bodies: list[bytes], n_events: int) -> Result:
    work = Path(tempfile.mkdtemp(prefix=f"herald-bench-webhook-{case}-"))
    warehouse = work / "warehouse"
    key = Key()
    port = free_port()
    proc = start(case, warehouse, key, port)
    signed = [(b, key.headers(b)) for b in bodies]  # valid for the 300 s tolerance: the run is shorter
    latencies: list[list[float]] = [[] for _ in range(clients)]
    stop = threading.Event()
    failures: list[str] = []
    cpu_before = cpu_seconds(proc.pid)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        while not stop.is_set():
            body, headers = signed[i % len(signed)]
            t0 = time.perf_counter()
            conn.request("POST", "/webhooks/sendgrid", body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            elapsed = (time.perf_counter() - t0) * 1000
            if resp.status != 200:
                failures.append(f"{resp.status}")
                return
            latencies[k].append(elapsed)
            i += clients
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    cpu = cpu_seconds(proc.pid) - cpu_before
    load_end = os.getloadavg()[0]
    t0 = time.perf_counter()
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=600)
    shutdown = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"{case}: refused posts: {failures[:5]}")
    lat = [x for per in latencies for x in per]
    posts = len(lat)
    landed = landed_rows(warehouse)
    syncs = "-"
    for line in (work / f"{case}.log").read_text().splitlines():
        if '"serve_stopped"' in line:
            stats = json.loads(line)["spool"].get("esp_events", {})
            syncs = f"{stats.get('syncs', 0):,} for {stats.get('lines', 0):,} posts"
    result = Result(
        case,
        clients,
        posts,
        posts * n_events,
        wall,
        lat,
        cpu,
        landed,
        shutdown,
        syncs,
        f"{load_start:.1f}-{load_end:.1f}",
    )
    if landed != result.events:
        raise SystemExit(f"{case}: {result.events:,} events acknowledged but {landed:,} landed")
    shutil.rmtree(work)
    return result


def naive_server(port: int) -> None:
    """The naive baseline: verify, parse, normalize and land each request as its own Parquet batch."""
    import pyarrow as pa
    import uvicorn
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from herald.landing import arrow_schema, ensure_initialized, land_batch
    from herald.project import find_project
    from herald.raw_schema import ESP_EVENTS
    from senders.tracking.context import ServeContext
    from senders.tracking.normalize import Reject, sendgrid_row
    from senders.tracking.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_batch, verifier_for

    ctx = ServeContext.from_env(find_project())
    ensure_initialized(ctx.project)  # once, before requests land batches from several threads
    verifier = verifier_for(ctx)
    assert verifier is not None
    schema = arrow_schema(ESP_EVENTS, with_batch_columns=False)

    def land(events: list[dict[str, Any]]) -> None:
        rows = [r for r in (sendgrid_row(e) for e in events) if not isinstance(r, Reject)]
        data = pa.Table.from_pylist(rows, schema=schema)
        land_batch(ctx.project, ESP_EVENTS, data, source_file="webhook")

    async def hook(request: Request) -> Response:
        body = await request.body()
        if not verifier.check(request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER), body).ok:
            return JSONResponse({"error": "bad signature"}, status_code=403)
        events = parse_batch(body)
        if isinstance(events, str):
            return JSONResponse({"error": events}, status_code=400)
        await run_in_threadpool(land, events)
        return Response(status_code=200)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(routes=[Route("/webhooks/sendgrid", hook, methods=["POST"]), Route("/healthz", health)])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--events", type=int, default=1000, help="events per post")
    parser.add_argument("--cases", nargs="+", default=["herald-serve", "no-group-commit", "naive"])
    parser.add_argument("--naive-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_server:
        naive_server(args.port)
        return
    bodies = [json.dumps(make_events(args.events, b)).encode() + b"\r\n" for b in range(64)]
    size = statistics.mean(len(b) for b in bodies)
    print(
        f"{len(bodies)} distinct posts of {args.events:,} events, {size / 1024:,.0f} KiB each"
        f" ({size / args.events:.0f} B/event)"
    )
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, {args.seconds:.0f} s per case")
    results = []
    for clients in args.clients:
        for case in args.cases:
            r = run_case(case, clients, args.seconds, bodies, args.events)
            results.append(r)
            print(
                f"{r.name:<16} clients {r.clients:>2}: {r.rate:>9,.0f} events/s"
                f"  ({r.posts:,} posts in {r.seconds:.1f} s)"
                f"  ack p50 {r.pct(0.5):6.1f} ms  p99 {r.pct(0.99):6.1f} ms  max {max(r.latencies_ms):6.1f} ms"
                f"  server CPU {r.server_cpu:5.1f} s  syncs {r.syncs}  landed {r.landed:,}"
                f"  shutdown {r.shutdown_seconds:.1f} s  load {r.load}",
                flush=True,
            )
    best = max((r for r in results if r.name == "herald-serve"), key=lambda r: r.rate, default=None)
    if best is not None:
        ok = best.rate >= GOAL_EVENTS_PER_SECOND and best.pct(0.99) <= GOAL_P99_MS
        print(
            f"goal >= {GOAL_EVENTS_PER_SECOND:,} events/s with p99 <= {GOAL_P99_MS:.0f} ms: "
            f"{'met' if ok else 'NOT met'} (best: {best.rate:,.0f} events/s, p99 {best.pct(0.99):.1f} ms, "
            f"{best.clients} clients)"
        )


if __name__ == "__main__":
    main()
