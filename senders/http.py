"""A small keep-alive HTTP/1.1 client for provider APIs, and the mapping of their answers to provider faults.

One ``KeepAlive`` per worker thread holds one connection to one host and reuses it across requests. What it
raises is chosen for "never send twice":

- the connection could not be opened (refused, DNS, TLS handshake): the request never left → ``TransientFault``;
- anything going wrong once request bytes may have been written (timeout, reset, closed, garbled answer): the
  provider may have acted on it → ``AmbiguousFault``.

After any error the connection is dropped and the next request opens a new one. A connection is reopened
silently only when it is known to be closed *before* anything is sent: the server said ``Connection: close``, or
the idle socket has become readable (end of file), which is how a server's idle timeout shows.

``KeepAliveProvider`` gives a provider that holds one ``KeepAlive`` its ``rate_headers`` and ``close``.

``fault_for`` / ``raise_for_status`` turn an answer's status into the provider fault it means, with the first
error text of its body; ``json_object`` reads a body that should be a JSON object; ``retry_after_seconds`` reads
how long a 429 asks to wait; ``url_setting`` and ``timeout_setting`` read a provider's host and timeout from the
environment.

Exception and log text never contains request headers or bodies: they carry credentials and personal data.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import logging
import math
import re
import select
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from senders.errors import ProviderConfigError
from senders.providers.base import (
    AccountRejected,
    AmbiguousFault,
    ProviderFault,
    RateLimited,
    RequestRejected,
    TransientFault,
)

__all__ = [
    "HttpResponse",
    "KeepAlive",
    "KeepAliveProvider",
    "error_text",
    "fault_for",
    "json_object",
    "raise_for_status",
    "retry_after_seconds",
    "timeout_setting",
    "url_setting",
]

log = logging.getLogger(__name__)

_ERROR_TEXT_LIMIT = 300
_USER_AGENT = "herald-senders"
# X-RateLimit-Reset below this is a number of seconds, not a date: some APIs send a delta (no date is < 1e9).
_EPOCH_FLOOR = 1_000_000_000
_RATE_HEADERS = frozenset(("retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"))


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A complete answer: status, headers (names lower-cased, repeated ones joined by ", ") and the body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (``None`` when empty); raises ``ValueError`` when it is not JSON."""
        if not self.body.strip():
            return None
        return json.loads(self.body)


class KeepAlive:
    """One persistent connection to ``base_url`` (http or https, optionally with a path prefix).

    Not thread-safe: make one per worker thread."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        parts = urlsplit(base_url)
        # Checked before anything echoes the URL, so a password in it never reaches an error message.
        if parts.username is not None or parts.password is not None:
            raise ProviderConfigError("the provider URL must not carry credentials (user:password@host)")
        if parts.scheme not in ("http", "https"):
            raise ProviderConfigError(f"the provider URL must start with http:// or https://, not {base_url!r}")
        if not parts.hostname:
            raise ProviderConfigError(f"the provider URL has no host: {base_url!r}")
        if parts.query or parts.fragment:
            raise ProviderConfigError(f"the provider URL must not have a query or fragment: {base_url!r}")
        if not timeout > 0:
            raise ProviderConfigError(f"the provider timeout must be a positive number of seconds, not {timeout!r}")
        try:
            port = parts.port
        except ValueError as exc:
            raise ProviderConfigError(f"the provider URL has an invalid port: {base_url!r}") from exc
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = float(timeout)
        self.where = f"{self.host}:{self.port}"  # for messages: never the full URL
        self._conn: http.client.HTTPConnection | None = None
        # The last answer's rate-limit headers, for the send's rate governor (senders.governor).
        self.rate_headers: Mapping[str, str] = {}
        self._ssl_context = ssl.create_default_context() if parts.scheme == "https" else None

    def __repr__(self) -> str:
        return f"KeepAlive({self.scheme}://{self.where}{self.prefix}, timeout={self.timeout})"

    # ------------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        """Send one request and read the whole answer, whatever its status (see ``raise_for_status``).

        Raises ``TransientFault`` when the connection cannot be opened (nothing was sent) and ``AmbiguousFault``
        when it fails after sending may have begun."""
        if not path.startswith("/"):
            path = "/" + path
        target = self.prefix + path
        conn = self._ready_connection()
        send_headers = {"User-Agent": _USER_AGENT, **(headers or {})}
        started = time.monotonic()
        try:
            conn.request(method, target, body=body, headers=send_headers)
        except (ValueError, http.client.InvalidURL) as exc:
            # Refused while forming the request (control characters in a header or the path), before any byte
            # went out. The exception text quotes the offending value, which may be a credential: leave it out.
            self._drop()
            raise RequestRejected(
                f"{method} {self.where}: the request could not be formed ({type(exc).__name__}); nothing was sent"
            ) from None
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise self._ambiguous(method, target, exc, started) from exc
        try:
            raw = conn.getresponse()
            data = raw.read()
        except (OSError, http.client.HTTPException) as exc:
            # Timeouts, resets, RemoteDisconnected, IncompleteRead, bad status lines: the request had gone out.
            self._drop()
            raise self._ambiguous(method, target, exc, started) from exc
        response = HttpResponse(raw.status, _lower_headers(raw.getheaders()), data)
        self.rate_headers = {k: v for k, v in response.headers.items() if k in _RATE_HEADERS}
        if raw.will_close:
            # The server ends the connection after this answer (Connection: close, HTTP/1.0): reopen next time.
            self._drop()
        log.debug("%s %s%s -> %d in %.3fs", method, self.where, _path_only(target), response.status, _since(started))
        return response

    def _ambiguous(self, method: str, target: str, exc: BaseException, started: float) -> AmbiguousFault:
        # Writing may have failed half-way, or after the provider read enough to act: either way, unknown.
        what = "timed out" if isinstance(exc, TimeoutError) else f"failed ({_describe(exc)})"
        log.debug("%s %s%s %s after %.3fs", method, self.where, _path_only(target), what, _since(started))
        return AmbiguousFault(
            f"{method} {self.where}{_path_only(target)} {what} after the request was sent; "
            "the provider may have accepted it"
        )

    def close(self) -> None:
        """Close the connection; a later request opens a new one."""
        self._drop()

    def __enter__(self) -> KeepAlive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ connection

    def _ready_connection(self) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and (conn.sock is None or _idle_socket_closed(conn.sock)):
            self._drop()
            conn = None
        if conn is None:
            conn = self._open()
            self._conn = conn
        return conn

    def _open(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._ssl_context is not None:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout, context=self._ssl_context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.connect()  # separately from sending, so a failure here surely sent nothing
        except OSError as exc:  # refused, unreachable, DNS (gaierror), connect timeout, TLS handshake
            conn.close()
            log.debug("connect to %s failed: %s", self.where, _describe(exc))
            raise TransientFault(f"could not connect to {self.where} ({_describe(exc)}); nothing was sent") from exc
        log.debug("connected to %s", self.where)
        return conn

    def _drop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class KeepAliveProvider:
    """The part of a provider that talks to its API over one ``KeepAlive``, kept in ``_http``."""

    _http: KeepAlive

    @property
    def rate_headers(self) -> Mapping[str, str]:
        """The last answer's rate-limit headers (``Retry-After``, ``X-RateLimit-*``), for the send's governor."""
        return self._http.rate_headers

    def close(self) -> None:
        self._http.close()


def _idle_socket_closed(sock: socket.socket) -> bool:
    """Whether an idle keep-alive socket can no longer be used: the peer closed it (readable at end of file) or
    sent something unasked. Nothing has been sent on it yet, so reopening is safe."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _lower_headers(items: list[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _path_only(target: str) -> str:
    # Query strings can carry addresses or callback tokens; messages and logs keep the path only.
    return target.split("?", 1)[0]


def _since(started: float) -> float:
    return time.monotonic() - started


# ---------------------------------------------------------------------- answers


def retry_after_seconds(headers: Mapping[str, str], *, default: float = 1.0, now: float | None = None) -> float:
    """How long to wait before retrying: ``Retry-After`` (seconds or an HTTP date) first, else
    ``X-RateLimit-Reset`` (a unix time), else ``default``. Never negative; unreadable values are skipped."""
    lowered = {k.lower(): v for k, v in headers.items()}
    clock = time.time() if now is None else now
    retry_after = lowered.get("retry-after", "").strip()
    if retry_after:
        seconds = _number(retry_after)
        if seconds is None:
            try:
                seconds = email.utils.parsedate_to_datetime(retry_after).timestamp() - clock
            except (TypeError, ValueError, IndexError, OverflowError):
                seconds = None
        if seconds is not None:
            return max(0.0, seconds)
    reset = _number(lowered.get("x-ratelimit-reset", "").strip())
    if reset is not None:
        return max(0.0, reset - clock if reset >= _EPOCH_FLOOR else reset)
    return max(0.0, default)


_NUMBER = re.compile(r"\d+(\.\d+)?")


def _number(text: str) -> float | None:
    if not _NUMBER.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def error_text(response: HttpResponse, *, limit: int = _ERROR_TEXT_LIMIT) -> str:
    """The first error text of an answer's body, trimmed to ``limit`` characters.

    Knows the usual shapes: ``{"errors": [{"message"}]}`` (SendGrid), ``{"message"}`` (Twilio),
    ``{"error": {"message"}}`` (Google), ``{"error": "..."}`` and ``error_description`` / ``detail``; a body that
    is not JSON is taken as text."""
    try:
        parsed = response.json()
    except ValueError:
        parsed = None
        text = response.body.decode("utf-8", errors="replace")
    else:
        text = _first_error(parsed) or ""
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text or "no error text"


def json_object(response: HttpResponse) -> dict[str, Any]:
    """The answer's body when it is a JSON object; ``{}`` when it is anything else or not JSON."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _first_error(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        for item in value:
            found = _first_error(item)
            if found:
                return found
        return None
    if isinstance(value, dict):
        for key in ("errors", "error", "message", "error_description", "detail", "title"):
            if key in value:
                found = _first_error(value[key])
                if found:
                    return found
    return None


def raise_for_status(response: HttpResponse, *, provider: str) -> None:
    """Return on 2xx; otherwise raise ``fault_for(response, provider=provider)``."""
    if not 200 <= response.status < 300:
        raise fault_for(response, provider=provider)


def fault_for(
    response: HttpResponse, *, provider: str, detail: str | None = None, retry_after: float | None = None
) -> ProviderFault:
    """The fault a non-2xx answer means, by its status alone.

    429 → RateLimited (waiting as the headers say), 408 and 5xx → TransientFault (nothing was accepted),
    401 / 403 → AccountRejected, other 4xx → RequestRejected. Any other status (a redirect: a wrong host or
    scheme) → AccountRejected too, so a setup mistake stops the job instead of failing its messages.

    The message is "<provider> answered <status>: <detail>", ``detail`` defaulting to the body's first error text;
    ``retry_after`` replaces the wait read from the headers."""
    status = response.status
    message = f"{provider} answered {status}: {detail if detail is not None else error_text(response)}"
    if status == 429:
        wait = retry_after if retry_after is not None else retry_after_seconds(response.headers)
        return RateLimited(message, retry_after=max(0.0, wait), status=status)
    if status >= 500 or status == 408:  # 408: the server gave up reading the request, so it did not act on it
        return TransientFault(message, status=status)
    if status in (401, 403):
        return AccountRejected(message, status=status)
    if 400 <= status < 500:
        return RequestRejected(message, status=status)
    return AccountRejected(message, status=status)


# ---------------------------------------------------------------------- settings


def url_setting(env: Mapping[str, str], name: str, default: str = "") -> str:
    """The http(s) URL in ``env[name]`` (or ``default``), without a trailing slash; "" when unset and no default.

    Refuses credentials in the URL, and never quotes the value back (it may hold a secret by mistake)."""
    value = env.get(name, "").strip() or default
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ProviderConfigError(f"{name} must not carry credentials (user:password@host)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ProviderConfigError(f"{name} must be an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise ProviderConfigError(f"{name} has an invalid port") from exc
    return value.rstrip("/")


def timeout_setting(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive number of seconds from ``env[name]``, else ``default``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    seconds = _number(raw)
    if seconds is None or seconds <= 0:
        raise ProviderConfigError(f"{name} must be a positive number of seconds, not {raw!r}")
    return seconds
