"""A local stand-in for a provider's HTTP API: a real threaded HTTP/1.1 server with keep-alive, added latency,
and faults injected on demand. Each provider fake (SendGrid, Twilio, FCM) subclasses ``FakeProvider`` and
implements ``handle``; the fakes are strict, so a request the real provider would refuse is refused. The fakes
of one-message-per-request APIs (Twilio, FCM) subclass ``RecordingFake``: it keeps what they accepted and refused,
answers the questions tests ask of it, and serves the provider's own canned errors (``fail_next``).

Faults are queued (``inject``) or drawn at a rate (``fault_rate``):

    "429"            answer 429 with Retry-After (nothing is recorded)
    "500", "503"     answer that status (nothing is recorded)
    "timeout"        hold the request longer than the client waits, then drop it (nothing is recorded)
    "accept_drop"    record the request as accepted, then close the connection without an answer
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar

FAULTS = ("429", "500", "503", "timeout", "accept_drop")


@dataclass
class Reply:
    status: int
    body: Any = None  # JSON-serialisable, or bytes, or None
    headers: dict[str, str] = field(default_factory=dict)


class FakeProvider:
    """Subclass and implement ``handle(method, path, headers, body) -> Reply``; call ``accept_drop`` aware code
    through ``commit`` so an accepted-then-dropped request is recorded exactly like an accepted one."""

    def __init__(self, *, latency: float = 0.0, timeout_hold: float = 5.0, seed: int = 0) -> None:
        self.latency = latency
        self.timeout_hold = timeout_hold  # how long a "timeout" fault holds the request
        self.fault_rate = 0.0
        self.fault_kinds: tuple[str, ...] = ()
        self.retry_after = 1
        self._queue: deque[str] = deque()
        self._random = random.Random(seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.incomplete_requests = 0
        self.faults_served: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ faults

    def inject(self, *faults: str) -> None:
        """Serve these faults to the next requests, in order."""
        for f in faults:
            if f not in FAULTS:
                raise ValueError(f"unknown fault {f!r}; known: {', '.join(FAULTS)}")
        with self.lock:
            self._queue.extend(faults)

    def storm(self, rate: float, kinds: tuple[str, ...] = FAULTS) -> None:
        """Serve a random fault from ``kinds`` to a share ``rate`` of requests from now on (0 stops)."""
        with self.lock:
            self.fault_rate, self.fault_kinds = rate, kinds

    def _next_fault(self) -> str | None:
        with self.lock:
            if self._queue:
                return self._queue.popleft()
            if self.fault_rate and self._random.random() < self.fault_rate:
                return self._random.choice(self.fault_kinds)
        return None

    # ------------------------------------------------------------------ to implement

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    # ------------------------------------------------------------------ serving

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self, port: int = 0) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go in two writes: don't wait for the client's ACK

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if len(body) < length:  # the client died mid-request: a real server drops it unprocessed
                    with fake.lock:
                        fake.incomplete_requests += 1
                    self.close_connection = True
                    return
                with fake.lock:
                    fake.requests += 1
                if fake.latency:
                    time.sleep(fake.latency)
                fault = fake._next_fault()
                if fault:
                    with fake.lock:
                        fake.faults_served[fault] = fake.faults_served.get(fault, 0) + 1
                if fault == "timeout":
                    time.sleep(fake.timeout_hold)
                    self.close_connection = True
                    _hard_close(self.connection)
                    return
                if fault in ("429", "500", "503"):
                    status = int(fault)
                    extra = {"Retry-After": str(fake.retry_after)} if status == 429 else {}
                    if status == 429:
                        extra["X-RateLimit-Reset"] = str(int(time.time()) + fake.retry_after)
                    self._reply(Reply(status, {"errors": [{"message": f"injected {status}"}]}, extra))
                    return
                reply = fake.handle(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
                if fault == "accept_drop" and 200 <= reply.status < 300:
                    self.close_connection = True
                    _hard_close(self.connection)
                    return
                self._reply(reply)

            def _reply(self, reply: Reply) -> None:
                if reply.body is None:
                    data = b""
                elif isinstance(reply.body, bytes):
                    data = reply.body
                else:
                    data = json.dumps(reply.body).encode()
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if data and "Content-Type" not in reply.headers:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 128

            def handle_error(self, request: Any, client_address: Any) -> None:
                # Clients that die mid-answer (killed senders, timeouts) are expected here, not news.
                if not isinstance(sys.exc_info()[1], ConnectionError):
                    super().handle_error(request, client_address)

        self._server = Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


MessageT = TypeVar("MessageT")
RefusalT = TypeVar("RefusalT")
CodeT = TypeVar("CodeT", int, str)  # a provider error code: Twilio numbers them, FCM names them


class RecordingFake(FakeProvider, Generic[MessageT, RefusalT, CodeT]):
    """A fake that records each accepted message under its Herald message id (``messages``; every one, in order,
    in ``sent``) and each request refused for its content (``refusals``). Subclasses record through these and
    answer ``next_canned()`` first: the provider errors ``fail_next`` queued, among the ``canned`` it knows."""

    def __init__(self, *, canned: Collection[CodeT], **kw: Any) -> None:
        super().__init__(**kw)
        self.messages: dict[str, list[MessageT]] = {}
        self.sent: list[MessageT] = []
        self.refusals: list[RefusalT] = []
        self.unauthorized = 0
        self.missing_message_id = 0
        self._known_canned: Collection[CodeT] = canned
        self._canned: deque[CodeT] = deque()

    # ------------------------------------------------------------------ canned provider errors

    def fail_next(self, *codes: CodeT) -> None:
        """Answer the next requests with these provider errors (see the fake's module notes), in order."""
        for code in codes:
            if code not in self._known_canned:
                raise ValueError(f"no canned answer for {code}; known: {sorted(self._known_canned)}")
        with self.lock:
            self._canned.extend(codes)

    def next_canned(self) -> CodeT | None:
        """The next queued provider error, if any (taken off the queue)."""
        with self.lock:
            return self._canned.popleft() if self._canned else None

    # ------------------------------------------------------------------ questions tests ask

    def deliveries(self, message_id: str) -> int:
        with self.lock:
            return len(self.messages.get(message_id, ()))

    def accepted_ids(self) -> set[str]:
        with self.lock:
            return set(self.messages)

    def duplicates(self) -> dict[str, int]:
        """Ids accepted more than once, with their counts."""
        with self.lock:
            return {mid: len(got) for mid, got in self.messages.items() if len(got) > 1}

    def invalid_requests(self) -> list[RefusalT]:
        with self.lock:
            return list(self.refusals)

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "messages": len(self.sent),
                "distinct_message_ids": len(self.messages),
                "duplicates": sum(1 for got in self.messages.values() if len(got) > 1),
                "missing_message_id": self.missing_message_id,
                "invalid_requests": len(self.refusals),
                "unauthorized": self.unauthorized,
                "faults_served": dict(self.faults_served),
            }


def _hard_close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
