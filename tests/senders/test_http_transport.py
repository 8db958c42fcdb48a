"""The keep-alive transport against a real local HTTP server: connection reuse, and which fault each failure is."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest

from senders.errors import ProviderConfigError
from senders.http import HttpResponse, KeepAlive, error_text, raise_for_status, retry_after_seconds
from senders.providers.base import (
    AccountRejected,
    AmbiguousFault,
    ProviderFault,
    RateLimited,
    RequestRejected,
    TransientFault,
)
from tests.fakes.base import FakeProvider, Reply

CANARY = "canary-secret-7f3a9c"


class EchoServer(FakeProvider):
    """Answers ``/status/<code>`` with that status and an error body, ``/close`` with ``Connection: close``, and
    anything else with what it received; counts the TCP connections it accepts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.client_ports: list[int] = []
        self.handled: list[str] = []

    def start(self, port: int = 0) -> EchoServer:
        super().start(port)
        server = self._server
        assert server is not None
        # The base handler writes headers and body separately; with Nagle on, each answer waits ~40 ms for a
        # delayed ACK.
        server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        accept = server.process_request

        def counting(request: Any, client_address: Any) -> None:
            with self.lock:
                self.client_ports.append(client_address[1])
            accept(request, client_address)

        server.process_request = counting  # type: ignore[method-assign]
        return self

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        with self.lock:
            self.handled.append(path)
        if path.startswith("/status/"):
            status = int(path.rsplit("/", 1)[1])
            return Reply(status, {"errors": [{"message": f"refused with {status}", "field": "to"}]})
        if path == "/close":
            return Reply(200, {"ok": True}, {"Connection": "close"})
        return Reply(200, {"method": method, "path": path, "body": body.decode()}, {"X-Request-Path": path})


@pytest.fixture
def server() -> Iterator[EchoServer]:
    fake = EchoServer(timeout_hold=1.0)
    with fake:
        yield fake


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------- connections


def test_keep_alive_reuses_one_connection(server: EchoServer) -> None:
    with KeepAlive(server.url, timeout=5) as http:
        for i in range(40):
            r = http.request("POST", f"/echo/{i}", body=f"n={i}".encode(), headers={"Content-Type": "text/plain"})
            assert r.status == 200
            assert r.json() == {"method": "POST", "path": f"/echo/{i}", "body": f"n={i}"}
            assert r.headers["x-request-path"] == f"/echo/{i}"  # names lower-cased
            assert r.headers["content-type"] == "application/json"
    assert server.requests == 40
    assert len(server.client_ports) == 1


def test_base_path_prefix_is_kept(server: EchoServer) -> None:
    with KeepAlive(server.url + "/api/v3/", timeout=5) as http:
        assert http.request("GET", "/mail/send?x=1").json()["path"] == "/api/v3/mail/send?x=1"
        assert http.request("GET", "relative").json()["path"] == "/api/v3/relative"


def test_connection_close_answer_reconnects_before_the_next_request(server: EchoServer) -> None:
    with KeepAlive(server.url, timeout=5) as http:
        assert http.request("GET", "/close").status == 200
        assert http.request("GET", "/after").status == 200
        assert http.request("GET", "/again").status == 200
    assert len(server.client_ports) == 2


def test_idle_connection_closed_by_the_server_is_reopened_without_a_fault() -> None:
    """A server's idle timeout closes the socket between requests: that is seen before sending, so the next
    request goes out on a new connection instead of failing ambiguously."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    connections = 0
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"

    def serve() -> None:
        nonlocal connections
        for _ in range(2):
            conn, _ = listener.accept()
            connections += 1
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                conn.sendall(reply)  # keep-alive answer, then close as if idle for too long

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    with KeepAlive(f"http://127.0.0.1:{port}", timeout=5) as http:
        assert http.request("GET", "/one").status == 200
        thread.join(0.2)  # let the server close its side
        assert http.request("GET", "/two").status == 200
    thread.join(5)
    listener.close()
    assert connections == 2


def test_refused_connection_is_transient_and_sent_nothing() -> None:
    http = KeepAlive(f"http://127.0.0.1:{_free_port()}", timeout=2)
    with pytest.raises(TransientFault, match="could not connect") as info:
        http.request("POST", "/send", body=b"{}")
    assert not isinstance(info.value, AmbiguousFault)


def test_unknown_host_is_transient() -> None:
    http = KeepAlive("http://no-such-host.invalid", timeout=2)
    with pytest.raises(TransientFault, match="could not connect"):
        http.request("GET", "/")


def test_timeout_after_sending_is_ambiguous_and_the_next_request_reconnects(server: EchoServer) -> None:
    server.inject("timeout")
    with KeepAlive(server.url, timeout=0.3) as http:
        with pytest.raises(AmbiguousFault, match="timed out"):
            http.request("POST", "/send", body=b"{}")
        assert http.request("GET", "/next").status == 200
    assert len(server.client_ports) == 2


def test_accept_then_drop_is_ambiguous(server: EchoServer) -> None:
    server.inject("accept_drop")
    with KeepAlive(server.url, timeout=5) as http:
        with pytest.raises(AmbiguousFault, match="may have accepted"):
            http.request("POST", "/send", body=b"{}")
        assert server.handled == ["/send"]  # it was accepted server-side
        assert http.request("GET", "/next").status == 200


def test_drop_on_a_reused_connection_is_still_ambiguous(server: EchoServer) -> None:
    with KeepAlive(server.url, timeout=5) as http:
        assert http.request("GET", "/first").status == 200
        server.inject("accept_drop")
        with pytest.raises(AmbiguousFault):
            http.request("POST", "/send", body=b"{}")
    assert server.handled == ["/first", "/send"]


# ---------------------------------------------------------------------- statuses


def _fault(http: KeepAlive, path: str, **headers: str) -> ProviderFault:
    response = http.request("POST", path, body=b"{}", headers=headers)
    with pytest.raises(ProviderFault) as info:
        raise_for_status(response, provider="Acme")
    return info.value


def test_statuses_map_to_faults(server: EchoServer) -> None:
    with KeepAlive(server.url, timeout=5) as http:
        raise_for_status(http.request("GET", "/fine"), provider="Acme")  # 2xx passes

        server.retry_after = 7
        server.inject("429")
        limited = _fault(http, "/send")
        assert isinstance(limited, RateLimited)
        assert limited.retry_after == 7.0 and limited.status == 429

        for injected in ("500", "503"):
            server.inject(injected)
            fault = _fault(http, "/send")
            assert type(fault) is TransientFault and fault.status == int(injected)
            assert str(fault) == f"Acme answered {injected}: injected {injected}"

        assert type(_fault(http, "/status/502")) is TransientFault
        assert type(_fault(http, "/status/408")) is TransientFault
        assert type(_fault(http, "/status/401")) is AccountRejected
        assert type(_fault(http, "/status/403")) is AccountRejected

        rejected = _fault(http, "/status/400")
        assert type(rejected) is RequestRejected and rejected.status == 400
        assert str(rejected) == "Acme answered 400: refused with 400"
        assert type(_fault(http, "/status/413")) is RequestRejected
        assert type(_fault(http, "/status/422")) is RequestRejected
        assert type(_fault(http, "/status/301")) is AccountRejected  # a redirect means a wrong host: stop
    assert len(server.client_ports) == 1  # error answers keep the connection


def test_credentials_never_reach_messages_or_logs(server: EchoServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret_headers = {"Authorization": f"Bearer {CANARY}", "X-Api-Key": CANARY}
    texts: list[str] = []
    with KeepAlive(server.url, timeout=0.3) as http:
        for path in ("/status/401", "/status/400", "/status/500"):
            response = http.request("POST", path, body=CANARY.encode(), headers=secret_headers)
            with pytest.raises(ProviderFault) as info:
                raise_for_status(response, provider="Acme")
            texts += [str(info.value), repr(info.value)]
        server.inject("timeout")
        with pytest.raises(AmbiguousFault) as ambiguous:
            http.request("POST", f"/send?token={CANARY}", body=CANARY.encode(), headers=secret_headers)
        texts += [str(ambiguous.value), repr(http)]
    refused = KeepAlive(f"http://127.0.0.1:{_free_port()}", timeout=1)
    with pytest.raises(TransientFault) as transient:
        refused.request("POST", f"/send?token={CANARY}", headers=secret_headers)
    texts.append(str(transient.value))
    texts.append(caplog.text)
    assert caplog.records  # the transport does log at DEBUG
    assert all(CANARY not in text for text in texts)


def test_a_request_that_cannot_be_formed_is_rejected_without_quoting_it(server: EchoServer) -> None:
    with KeepAlive(server.url, timeout=5) as http:
        with pytest.raises(RequestRejected, match="nothing was sent") as info:
            http.request("POST", "/send", headers={"Authorization": f"Bearer {CANARY}\r\nX-Injected: 1"})
        assert CANARY not in str(info.value)
        assert http.request("GET", "/next").status == 200
    assert server.handled == ["/next"]


def test_base_url_is_checked() -> None:
    with pytest.raises(ProviderConfigError, match="credentials") as info:
        KeepAlive(f"https://user:{CANARY}@api.example.com", timeout=5)
    assert CANARY not in str(info.value)
    with pytest.raises(ProviderConfigError, match="http:// or https://"):
        KeepAlive("ftp://api.example.com", timeout=5)
    with pytest.raises(ProviderConfigError, match="timeout"):
        KeepAlive("https://api.example.com", timeout=0)
    assert KeepAlive("https://api.example.com/base/", timeout=5).port == 443


# ---------------------------------------------------------------------- helpers


def test_retry_after_seconds() -> None:
    now = 1_750_000_000.0
    assert retry_after_seconds({"Retry-After": "12"}, now=now) == 12.0
    assert retry_after_seconds({"retry-after": "1.5"}, now=now) == 1.5
    assert retry_after_seconds({"Retry-After": formatdate(now + 30, usegmt=True)}, now=now) == 30.0
    assert retry_after_seconds({"Retry-After": formatdate(now - 30, usegmt=True)}, now=now) == 0.0
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) + 45)}, now=now) == 45.0
    assert retry_after_seconds({"X-RateLimit-Reset": str(int(now) - 45)}, now=now) == 0.0
    assert retry_after_seconds({"X-RateLimit-Reset": "20"}, now=now) == 20.0  # a delta, not a date
    # Retry-After wins over the reset time; unreadable values fall through.
    assert retry_after_seconds({"Retry-After": "3", "X-RateLimit-Reset": str(int(now) + 45)}, now=now) == 3.0
    assert retry_after_seconds({"Retry-After": "soon", "X-RateLimit-Reset": str(int(now) + 9)}, now=now) == 9.0
    assert retry_after_seconds({"Retry-After": "-5"}, default=2.0, now=now) == 2.0
    assert retry_after_seconds({}, now=now) == 1.0
    assert retry_after_seconds({}, default=4.0) == 4.0


def test_error_text_shapes_and_trimming() -> None:
    def text(body: Any, raw: bytes | None = None) -> str:
        return error_text(HttpResponse(400, {}, raw if raw is not None else json.dumps(body).encode()))

    assert text({"errors": [{"field": "to"}, {"message": "second"}]}) == "second"
    assert text({"code": 21211, "message": "The 'To' number is not valid.", "status": 400}) == (
        "The 'To' number is not valid."
    )
    assert text({"error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}}) == (
        "Requested entity was not found."
    )
    assert text({"error": "invalid_grant", "error_description": "Bad token"}) == "invalid_grant"
    html = b"<html>\n  <title>502 Bad Gateway</title></html>"
    assert text(None, html) == "<html> <title>502 Bad Gateway</title></html>"
    assert text(None, b"") == "no error text"
    long = text({"message": "x" * 1000})
    assert len(long) == 300 and long.endswith("…")
