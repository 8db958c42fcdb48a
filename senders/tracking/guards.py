"""What stands between the public consent pages and robots, forgers and floods.

* ``Stamps``: signed, timed form stamps. A preference form carries one bound to its message (CSRF: only a page
  we served can post, and only for a while); a subscription form carries one that also proves a minimum time
  between serving and posting (robots post at once).
* ``RateLimiter``: a token bucket per key (form and client IP), answered with a 429 and ``Retry-After``.
* ``read_form``: the request body, capped, as urlencoded or multipart fields (no files).
* ``bearer_refusal``: why a request to an API endpoint is not authorized (``HERALD_API_TOKEN``), if it is not.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request

from senders.links import Links

MAX_BODY = 32 * 1024  # a form of a dozen short fields; anything bigger is not one of ours


class BodyTooLarge(Exception):
    """The request body is over ``MAX_BODY``."""


class BadForm(Exception):
    """The request body is not a form we can read."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """A verified stamp: what it was issued for and its age in seconds."""

    subject: str
    age: float


class Stamps:
    """Issue and check signed stamps ``<subject>-<issued>`` for one purpose (e.g. ``preferences``)."""

    def __init__(self, links: Links, purpose: str, *, max_age: float, clock: Callable[[], float]) -> None:
        self.links = links
        self.purpose = purpose
        self.max_age = max_age
        self.clock = clock

    def issue(self, subject: str) -> str:
        return self.links.scoped_token(self.purpose, f"{subject}-{int(self.clock())}")

    def check(self, token: str, subject: str) -> Stamp | None:
        """The stamp if it is ours, for ``subject``, and younger than ``max_age``; else None."""
        value = self.links.verify_scoped(self.purpose, token) if token else None
        if value is None:
            return None
        stamped, _, issued = value.rpartition("-")
        if stamped != subject or not issued.isdigit():
            return None
        age = self.clock() - int(issued)
        return Stamp(subject, age) if -5 <= age <= self.max_age else None


class RateLimiter:
    """Token buckets per key: ``burst`` at once, refilled at ``per_second``; thread-safe, bounded memory."""

    def __init__(self, *, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, stamp)
        self._lock = threading.Lock()

    def take(self, key: str, *, burst: int, per_second: float) -> float:
        """0 when the request may go ahead (a token is taken), else the seconds until a token is there."""
        now = self.clock()
        with self._lock:
            tokens, stamp = self._buckets.pop(key, (float(burst), now))
            tokens = min(float(burst), tokens + (now - stamp) * per_second)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                wait = 0.0
            else:
                self._buckets[key] = (tokens, now)
                wait = (1 - tokens) / per_second
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)  # the longest idle: a full bucket again by now, or nearly
        return wait


def client_ip(request: Request) -> str:
    """The peer's address. Behind a proxy, run uvicorn with proxy headers so this is the visitor's."""
    return request.client.host if request.client else ""


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


async def read_form(request: Request) -> dict[str, str]:
    """The posted fields (the first value of each name). Raises BodyTooLarge or BadForm."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise BodyTooLarge
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return await _multipart(request, bytes(body))
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise BadForm(f"not a form: {kind}")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadForm(str(exc)) from exc
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


async def _multipart(request: Request, body: bytes) -> dict[str, str]:
    async def stream() -> AsyncGenerator[bytes, None]:
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=0, max_fields=100).parse()
    except MultiPartException as exc:
        raise BadForm(exc.message) from exc
    fields: dict[str, str] = {}
    for name, value in form.multi_items():
        if not isinstance(value, UploadFile):
            fields.setdefault(name, value)
    return fields


def bearer_refusal(request: Request, token: str, feature: str) -> tuple[int, str, dict[str, str]] | None:
    """(status, error, headers) when ``request`` does not carry ``Authorization: Bearer <token>``; None when it
    does. Without a configured token the feature is off (503): an API is never open by default."""
    if not token:
        return 503, f"HERALD_API_TOKEN is not set: {feature} disabled", {}
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return 401, "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}
    return None
