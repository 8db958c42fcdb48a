"""Helpers for the tracking tests: a key pair that signs like SendGrid, real servers, plain HTTP."""

from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette

from herald.landing import table_dir
from herald.project import Project
from herald.raw_schema import ESP_EVENTS

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "contracts" / "sendgrid"
LINK_SECRET = "link-secret-for-tests"
CALLBACK_TOKEN = "callback-token-for-tests"
TWILIO_TOKEN = "twilio-token-for-tests"


@dataclass(frozen=True)
class Signer:
    """An ECDSA P-256 key pair that signs webhook bodies the way SendGrid does."""

    private: ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls) -> Signer:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @property
    def public_b64(self) -> str:
        der = self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        sig = self.private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(sig).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": ts,
            "Content-Type": "application/json",
        }


def env_for(project: Project, signer: Signer | None, **extra: str) -> dict[str, str]:
    env = {
        "HERALD_LINK_SECRET": LINK_SECRET,
        "HERALD_PUBLIC_URL": "https://hooks.shop.example",
        "HERALD_CALLBACK_TOKEN": CALLBACK_TOKEN,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "HERALD_HOME": str(project.root),
        "HERALD_WAREHOUSE_DIR": str(project.warehouse_dir),
    }
    if signer is not None:
        env["HERALD_SENDGRID_WEBHOOK_KEY"] = signer.public_b64
    env.update(extra)
    return env


def events(n: int, prefix: str = "e", **fields: Any) -> list[dict[str, Any]]:
    return [
        {
            "email": f"user{i}@example.com",
            "timestamp": 1764000000 + i,
            "event": "delivered",
            "sg_event_id": f"{prefix}{i:06d}",
            "sg_message_id": f"sgm{i}.filter",
            "message_id": f"m{i:06d}",
            "run_id": "r1",
            "category": ["herald"],
            "response": "250 OK",
            **fields,
        }
        for i in range(n)
    ]


def body_of(batch: list[dict[str, Any]]) -> bytes:
    return json.dumps(batch).encode() + b"\r\n"


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def free_port() -> int:
    with free_socket() as s:
        return int(s.getsockname()[1])


@contextmanager
def running(app: Starlette) -> Iterator[int]:
    """Serve ``app`` with uvicorn in a thread; yields the port; stops it (lifespan shutdown included)."""
    sock = free_socket()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Served:
    """A server as a separate process (so it can be killed with SIGKILL): ``herald serve`` itself, or with
    ``only_tracking`` the same server with the routes of this package only (see ``main`` below)."""

    def __init__(self, env: Mapping[str, str], *args: str, only_tracking: bool = False) -> None:
        self.port = free_port()
        command = ["tests.tracking.serving"] if only_tracking else ["herald.cli", "serve"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *command, "--port", str(self.port), *args],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                if request(self.port, "GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"herald serve did not start: {err[-2000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return err.decode()


def landed_events(project: Project) -> list[tuple[Any, ...]]:
    """Every landed esp_events row (raw columns only), in a stable order."""
    cols = ", ".join(ESP_EVENTS.column_names)
    con = duckdb.connect()
    try:
        return con.execute(
            f"select {cols} from read_parquet(?, union_by_name=true) order by all",
            [str(table_dir(project, ESP_EVENTS) / "*.parquet")],
        ).fetchall()
    finally:
        con.close()


def main() -> None:
    """``herald serve`` with the webhook and callback routes only (the consent pages have their own tests)."""
    import argparse

    from herald.project import find_project
    from senders.tracking.callbacks import callback_routes
    from senders.tracking.context import ServeContext
    from senders.tracking.server import JsonLog, ServeOptions, create_app
    from senders.tracking.webhooks import webhook_routes

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--compact-every", type=float, default=5.0)
    parser.add_argument("--no-group-commit", action="store_true")
    args = parser.parse_args()
    options = ServeOptions(compact_every=args.compact_every or None, group_commit=not args.no_group_commit)
    ctx = ServeContext.from_env(find_project())
    log = JsonLog()
    app = create_app(ctx, options, route_factories=(webhook_routes, callback_routes), log=log)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
