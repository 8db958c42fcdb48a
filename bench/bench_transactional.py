"""Benchmark: transactional messages (``POST /messages/{event}`` on ``herald serve``) against the fake SendGrid.

    .venv/bin/python bench/bench_transactional.py [--latency 0.02] [--sequential 300] [--concurrent 600]
        [--clients 8] [--warehouse PATH]

What is measured: the request latency a shop's backend sees, from the first byte of its request to the answer
read, over a keep-alive connection per client thread, for

* ``herald serve`` — ``order_confirmation`` to a profile of the published warehouse (looked up, consent and
  quarantine checked, rendered, claim fsynced, sent, outcome journaled), a new idempotency key each time:
  ``--sequential`` requests one after the other, then ``--concurrent`` requests from ``--clients`` threads;
* replays — the sequential requests again with the same keys (answered from the ledger, nothing sent);
* baseline ``official client`` — the same email sent straight from ``sendgrid.SendGridAPIClient`` to the same fake
  (a new connection per request, as that client does): the floor Herald's overhead adds to;
* baseline ``Herald's SendGrid provider`` — ``SendGridProvider.send`` of an already rendered message over
  Herald's keep-alive transport: the provider call alone.

The fake SendGrid runs as its own process (``python -m tests.fakes.sendgrid --lean``) with ``--latency`` added to
every request (20 ms by default: a fast real Mail Send answer). ``--warehouse`` names a built warehouse folder
(e.g. the demo's, ``make demo``) whose published file is used read-only; without it a small published warehouse of
1,000 profiles is made. At the end the script checks that the fake recorded exactly one message per accepted
request and no duplicate; otherwise it fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

API_TOKEN = "bench-api-token"
SG_KEY = "SG.bench-transactional"
ORDER = {
    "order_date": "2026-11-29",
    "currency": "EUR",
    "total": 59.9,
    "items": [{"name": "Scarf", "quantity": 2, "unit_price": 19.95}, {"name": "Hat", "quantity": 1, "unit_price": 20}],
    "delivery_estimate": "2 December",
}


@dataclass
class Result:
    name: str
    clients: int
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0

    def pct(self, q: float) -> float:
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else float("nan")

    def row(self) -> str:
        rate = len(self.latencies_ms) / self.seconds if self.seconds else float("nan")
        codes = ", ".join(f"{k}×{v}" for k, v in sorted(self.statuses.items()))
        return (
            f"| {self.name} | {self.clients} | {len(self.latencies_ms)} | {self.pct(0.5):.1f} ms"
            f" | {self.pct(0.99):.1f} ms | {max(self.latencies_ms):.1f} ms | {rate:.0f}/s | {codes} |"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_fake(latency: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.sendgrid",
            "--port",
            "0",
            "--latency",
            str(latency),
            "--api-key",
            SG_KEY,
            "--lean",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        raise RuntimeError(f"the fake SendGrid did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def small_warehouse(warehouse: Path, profiles: int = 1000) -> None:
    published = warehouse / "published"
    published.mkdir(parents=True)
    con = duckdb.connect(str(published / "small.duckdb"))
    try:
        con.execute("create schema herald_meta")
        con.execute("create table herald_meta.build_info as select '' as batch_cutoff")
        con.execute(
            "create table profiles as select 'p' || i as profile_id, 'user' || i || '@example.com' as email,"
            " null::varchar as phone, 'Name' || i as first_name, null::varchar as last_name, 'en' as language_code"
            f" from range({profiles}) t(i)"
        )
        con.execute(
            "create table profile_identities as select profile_id, 'crm-' || profile_id as external_key, email,"
            " true as is_survivor from profiles"
        )
        con.execute(
            "create table profile_consents (profile_id varchar, channel varchar, topic varchar, is_opted_in boolean,"
            " status_since timestamp, last_changed_at timestamp)"
        )
        con.execute("create table address_quarantines (address varchar, channel varchar, is_quarantined boolean)")
        con.execute(
            "create table push_devices (profile_id varchar, device_id varchar, token varchar, is_active boolean,"
            " registered_at timestamp)"
        )
    finally:
        con.close()
    (warehouse / "CURRENT").write_text("small.duckdb", encoding="utf-8")


def linked_warehouse(warehouse: Path, source: Path) -> None:
    """A fresh warehouse folder (empty ledger, landing and spool) over ``source``'s published file, read-only."""
    name = (source / "CURRENT").read_text(encoding="utf-8").strip()
    (warehouse / "published").mkdir(parents=True)
    (warehouse / "published" / name).symlink_to((source / "published" / name).resolve())
    (warehouse / "CURRENT").write_text(name, encoding="utf-8")


def recipients(warehouse: Path, n: int) -> list[str]:
    name = (warehouse / "CURRENT").read_text(encoding="utf-8").strip()
    con = duckdb.connect(str(warehouse / "published" / name), read_only=True)
    try:
        rows = con.execute(
            "select profile_id from profiles where email is not null and email not in"
            " (select address from address_quarantines where channel = 'email' and is_quarantined)"
            " order by profile_id limit ?",
            [n],
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


class Client:
    """One keep-alive connection; ``post`` returns (status, seconds)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, float]:
        began = time.perf_counter()
        self.conn.request("POST", path, body=body, headers=headers)
        r = self.conn.getresponse()
        r.read()
        return r.status, time.perf_counter() - began


def run(
    name: str, clients: int, work: Sequence[Any], one: Callable[[Any, Any], int], make: Callable[[], Any]
) -> Result:
    """Run ``one(state, item)`` for every item of ``work`` from ``clients`` threads, each with its own ``make()``."""
    result = Result(name, clients)
    lock = threading.Lock()
    items = iter(work)

    def worker() -> None:
        state = make()
        while True:
            with lock:
                item = next(items, None)
            if item is None:
                return
            began = time.perf_counter()
            status = one(state, item)
            elapsed = (time.perf_counter() - began) * 1000
            with lock:
                result.latencies_ms.append(elapsed)
                result.statuses[status] = result.statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - began
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the fake SendGrid adds to every request")
    parser.add_argument("--sequential", type=int, default=300)
    parser.add_argument("--concurrent", type=int, default=600)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--warehouse", type=Path, help="a built warehouse folder whose published file to read")
    args = parser.parse_args()

    from sendgrid import SendGridAPIClient

    from herald.campaigns.plans import Sender
    from senders.providers.base import OutgoingMessage
    from senders.providers.sendgrid import SendGridProvider, SendGridSettings

    tmp = Path(tempfile.mkdtemp(prefix="bench-tx-"))
    fake, fake_url = start_fake(args.latency)
    server: subprocess.Popen[bytes] | None = None
    try:
        warehouse = tmp / "warehouse"
        if args.warehouse:
            linked_warehouse(warehouse, args.warehouse.resolve())
        else:
            small_warehouse(warehouse)
        people = recipients(warehouse, 1000)
        port = free_port()
        env = {
            **os.environ,
            "HERALD_HOME": str(ROOT),
            "HERALD_WAREHOUSE_DIR": str(warehouse),
            "HERALD_API_TOKEN": API_TOKEN,
            "SENDGRID_API_KEY": SG_KEY,
            "HERALD_SENDGRID_HOST": fake_url,
            "HERALD_LINK_SECRET": "bench-link-secret",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "herald.cli",
                "serve",
                "--port",
                str(port),
                "--insecure-unsigned-webhook",
                "--compact-every",
                "0",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("herald serve did not start") from None
                time.sleep(0.1)

        headers = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}

        def body(i: int) -> bytes:
            return json.dumps(
                {
                    "recipient": {"profile_id": people[i % len(people)]},
                    "payload": {**ORDER, "order_id": f"B-{i}"},
                    "idempotency_key": f"bench-{i}",
                }
            ).encode()

        def herald(client: Client, i: int) -> int:
            return client.post("/messages/order_confirmation", body(i), headers)[0]

        def make_client() -> Client:
            return Client(port)

        results: list[Result] = []
        run("warm-up", 1, range(10**6, 10**6 + 30), herald, make_client)
        results.append(run("`herald serve`, sequential", 1, range(args.sequential), herald, make_client))
        first = args.sequential
        concurrent = range(first, first + args.concurrent)
        results.append(run("`herald serve`, concurrent", args.clients, concurrent, herald, make_client))
        results.append(run("`herald serve`, replays (same keys)", 1, range(args.sequential), herald, make_client))

        # Baselines: the same email, straight to the fake.
        sender = Sender("Herald Shop", "orders@shop.example", "help@shop.example")
        provider_for_body = SendGridProvider(
            SendGridSettings(SG_KEY, host=fake_url), sender=sender, run_id="bench", delivery_id="bench"
        )

        def message(i: int) -> OutgoingMessage:
            return OutgoingMessage(
                message_id=f"b{i:031x}",
                run_id="bench",
                recipient_id=str(i),
                channel="email",
                address=f"user{i}@example.com",
                subject=f"Your order B-{i} is confirmed",
                text="Thank you for your order. " * 20,
                html="<p>Thank you for your order.</p>" * 20,
            )

        def official(client: Any, i: int) -> int:
            return int(client.send(provider_for_body.body([message(i)])).status_code)

        def make_official() -> Any:
            return SendGridAPIClient(SG_KEY, host=fake_url)

        def provider_send(provider: SendGridProvider, i: int) -> int:
            provider.send([message(i)])
            return 202

        def make_provider() -> SendGridProvider:
            return SendGridProvider(
                SendGridSettings(SG_KEY, host=fake_url), sender=sender, run_id="bench", delivery_id="bench"
            )

        baselines: list[tuple[str, int, int, Callable[[Any, int], int], Callable[[], Any]]] = [
            ("official client, sequential", 1, args.sequential, official, make_official),
            ("official client, concurrent", args.clients, args.concurrent, official, make_official),
            ("Herald's SendGrid provider, sequential", 1, args.sequential, provider_send, make_provider),
            ("Herald's SendGrid provider, concurrent", args.clients, args.concurrent, provider_send, make_provider),
        ]
        base = 2 * 10**6  # every case sends message ids of its own
        for name, clients, count, one, make in baselines:
            results.append(run(name, clients, range(base, base + count), one, make))
            base += count

        with urllib.request.urlopen(f"{fake_url}/_fake/stats") as r:
            stats = json.loads(r.read())
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        shown = args.warehouse or "small (1,000 profiles)"
        print(f"fake SendGrid latency {args.latency * 1000:.0f} ms; warehouse {shown}")
        print(f"load average {load}; {os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
        print("| case | clients | requests | p50 | p99 | max | requests/s | answers |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results:
            print(r.row())
        accepted = sum(r.statuses.get(202, 0) for r in results)
        herald_accepted = sum(r.statuses.get(202, 0) for r in results[:3])
        print(f"fake: {stats['messages']} messages, {stats['duplicates']} duplicated ids; 202 answers: {accepted}")
        print(
            f"herald serve overhead at p50 (sequential, over the provider call): "
            f"{results[0].pct(0.5) - results[5].pct(0.5):.1f} ms"
        )
        ok = (
            stats["duplicates"] == 0
            and stats["messages"] == accepted + 30
            and herald_accepted == args.sequential + args.concurrent
        )
        if not ok:
            print("FAILED: the fake's messages do not match the accepted requests", file=sys.stderr)
            return 1
        return 0
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        fake.send_signal(signal.SIGTERM)
        fake.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
