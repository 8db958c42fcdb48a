"""Email through the official ``sendgrid`` client (v3 Mail Send), over Herald's keep-alive transport.

``SendGridAPIClient`` builds and sends every request; only its last step, opening the HTTP connection, goes
through ``senders.http.KeepAlive`` so many requests share one connection per worker and a timeout after the
request left is told apart from a request that never left (SendGrid has no idempotency key).

A call carries up to 1,000 messages when they share their body (per-recipient values travel as
``substitutions``), or one message. Each personalization carries the message id in ``custom_args`` (it comes
back on every webhook event), its own subject and the RFC 8058 unsubscribe headers; the request carries the
run and delivery ids as custom args and categories. Never personal data, never the API key.

Settings (environment): ``SENDGRID_API_KEY`` (required, secret), ``HERALD_SENDGRID_HOST`` (default
https://api.sendgrid.com), ``HERALD_SENDGRID_TIMEOUT`` (seconds, default 30), ``HERALD_SENDGRID_ASM_GROUP``
(unsubscribe group id, optional), ``HERALD_SENDGRID_LOOKUP`` (``on``: settle ambiguous sends through the Email
Activity API, which needs SendGrid's add-on; default ``on``), ``HERALD_SENDGRID_LOOKUP_SETTLE`` (seconds a message
must have been in doubt before the Activity API's "not there" may release it to be sent again; default 1800).

Looking up (``lookup``): the Activity API's list rows carry ``msg_id``, ``to_email``, subject, status and counts,
never custom args, though its query language filters on them. So a message is looked up only by queries that pin
the run's and the message's custom args, and a row is matched to a message by what the row itself carries:

- one query per chunk of messages (``unique_args['run_id']="R" AND unique_args['message_id'] IN (...)``): no row
  at all means none of them is there; a row whose ``to_email`` is the address of exactly one message of the chunk
  is that message; a message whose address no row shows is not there (when every row is explained and the answer
  was not cut at its limit);
- whatever that leaves open (an address shared within the chunk, a row the chunk cannot explain, a cut answer) is
  asked one message at a time (``... AND unique_args['message_id']="M"``): a row is that message.

The ``X-Message-Id`` of a request is recorded only with its answer, so a message in doubt has none to look up by.
Activity lags the send by minutes: "not there" releases a message only once it has been in doubt longer than the
settling time; before that, and whenever a row cannot be matched with certainty, the answer is "cannot tell".
"""

from __future__ import annotations

import datetime as dt
import email.message
import io
import json
import logging
import re
import urllib.error
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import python_http_client
from python_http_client.client import Response
from python_http_client.exceptions import HTTPError, handle_error
from sendgrid import SendGridAPIClient

from herald import clock
from herald.campaigns.plans import Sender
from senders.errors import ProviderConfigError
from senders.http import HttpResponse, KeepAlive, KeepAliveProvider, json_object, raise_for_status
from senders.providers.base import AmbiguousFault, Doubt, Outcome, OutgoingMessage

# python_http_client logs request headers (the API key) and bodies (personal data) at DEBUG: never let it.
logging.getLogger("python_http_client").setLevel(logging.WARNING)

DEFAULT_HOST = "https://api.sendgrid.com"
MAX_PERSONALIZATIONS = 1000
LOOKUP_CHUNK = 100  # ids per Email Activity query
ACTIVITY_LIMIT = 1000  # the most rows one Email Activity query returns
DEFAULT_SETTLE = 1800.0  # seconds; the documented Activity lag is minutes
# What may go between double quotes in a query without escaping (the query reference documents none).
_QUOTABLE = re.compile(r"[A-Za-z0-9._:@+-]+")


@dataclass(frozen=True, slots=True)
class SendGridSettings:
    api_key: str = field(repr=False)
    host: str = DEFAULT_HOST
    timeout: float = 30.0
    asm_group: int | None = None
    lookup: bool = True
    lookup_settle: float = DEFAULT_SETTLE  # seconds in doubt before an absence from Email Activity is believed

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SendGridSettings:
        key = env.get("SENDGRID_API_KEY", "")
        if not key:
            raise ProviderConfigError("SENDGRID_API_KEY is not set (the email provider needs an API key)")
        try:
            timeout = float(env.get("HERALD_SENDGRID_TIMEOUT", "30"))
            group = env.get("HERALD_SENDGRID_ASM_GROUP")
            asm = int(group) if group else None
            settle = float(env.get("HERALD_SENDGRID_LOOKUP_SETTLE") or DEFAULT_SETTLE)
        except ValueError as exc:
            raise ProviderConfigError(
                "HERALD_SENDGRID_TIMEOUT and HERALD_SENDGRID_LOOKUP_SETTLE must be seconds and"
                " HERALD_SENDGRID_ASM_GROUP an integer"
            ) from exc
        if not settle >= 0:
            raise ProviderConfigError("HERALD_SENDGRID_LOOKUP_SETTLE must be zero or more seconds")
        return cls(
            api_key=key,
            host=env.get("HERALD_SENDGRID_HOST", DEFAULT_HOST).rstrip("/"),
            timeout=timeout,
            asm_group=asm,
            lookup=env.get("HERALD_SENDGRID_LOOKUP", "on").lower() not in ("off", "0", "false", "no"),
            lookup_settle=settle,
        )


class _Headers(dict[str, str]):
    """An answer's headers (names lower-cased by the transport), looked up by name in any case, as urllib's
    ``info()`` allows."""

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name.lower() if isinstance(name, str) else name)


class _Response:
    """What Response reads from a urllib response."""

    __slots__ = ("_r",)

    def __init__(self, r: HttpResponse) -> None:
        self._r = r

    def getcode(self) -> int:
        return self._r.status

    def read(self) -> bytes:
        return self._r.body

    def info(self) -> _Headers:
        return _Headers(self._r.headers)


class _KeepAliveClient(python_http_client.Client):  # type: ignore[misc]
    """The official client, with the request itself made over one keep-alive connection.

    The client's method chain (``client.mail.send.post(request_body=...)``), URL building, default headers and
    JSON encoding are the library's; only the last step differs. python_http_client builds a
    ``urllib.request.build_opener()`` for every request (ten handlers and a scan of the environment for proxy
    settings: about half the CPU of a call) and hands it to ``_make_request``; the keep-alive transport never
    used it, so the verbs here go straight to the transport. The chain's intermediate clients are kept, so a
    request builds none. Nothing is logged: headers carry the API key and bodies personal data."""

    def __init__(self, *args: Any, transport: KeepAlive, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._transport = transport
        self._children: dict[str, _KeepAliveClient] = {}

    def _build_client(self, name: str | None = None) -> _KeepAliveClient:
        child = self._children.get(name) if name else None
        if child is not None:
            return child
        url_path = [*self._url_path, name] if name else self._url_path
        child = _KeepAliveClient(
            host=self.host,
            version=self._version,
            request_headers=self.request_headers,
            url_path=url_path,
            append_slash=self.append_slash,
            timeout=self.timeout,
            transport=self._transport,
        )
        if name:
            self._children[name] = child
        return child

    def __getattr__(self, name: str) -> Any:
        if name in self.methods:
            method = name.upper()

            def http_request(
                request_body: Any = None,
                query_params: Mapping[str, Any] | None = None,
                request_headers: Mapping[str, str] | None = None,
                timeout: float | None = None,
                **_: Any,
            ) -> Response:
                return self._request(method, request_body, query_params, request_headers)

            return http_request
        return super().__getattr__(name)

    def _request(
        self,
        method: str,
        request_body: Any,
        query_params: Mapping[str, Any] | None,
        request_headers: Mapping[str, str] | None,
    ) -> Response:
        # As python_http_client's own http_request: merge headers, encode a JSON body unless told otherwise.
        if request_headers:
            self._update_headers(request_headers)
        data: bytes | None
        if request_body is None:
            data = None
        elif self.request_headers.get("Content-Type", "application/json") != "application/json":
            data = request_body.encode("utf-8")
        else:
            self.request_headers.setdefault("Content-Type", "application/json")
            data = json.dumps(request_body).encode("utf-8")
        url: str = self._build_url(query_params)
        path = url[len(self.host) :] if url.startswith(self.host) else urlsplit(url).path
        r = self._transport.request(method, path, body=data, headers=self.request_headers)
        if r.status >= 400:
            hdrs = email.message.Message()
            for k, v in r.headers.items():
                hdrs[k] = v
            err = urllib.error.HTTPError(urlsplit(url).path, r.status, "", hdrs, io.BytesIO(r.body))
            exc = handle_error(err)
            exc.__cause__ = None
            raise exc
        return Response(_Response(r))


class SendGridProvider(KeepAliveProvider):
    channel = "email"
    max_batch = MAX_PERSONALIZATIONS
    one_body_per_call = True  # a request's content is shared: only messages with one shared body batch together

    def __init__(
        self,
        settings: SendGridSettings,
        *,
        sender: Sender,
        run_id: str,
        delivery_id: str,
        campaign_id: str = "",
        sandbox: bool = False,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.run_id = run_id
        self.delivery_id = delivery_id
        self.campaign_id = campaign_id
        self.sandbox = sandbox
        self._http = KeepAlive(settings.host, timeout=settings.timeout)
        self._sg = SendGridAPIClient(settings.api_key, host=settings.host)
        self._sg.client = _KeepAliveClient(
            host=settings.host,
            request_headers=self._sg._default_headers,
            version=3,
            timeout=settings.timeout,
            transport=self._http,
        )

    def __repr__(self) -> str:
        return f"SendGridProvider({self._http!r}, run={self.run_id})"

    # ------------------------------------------------------------------ sending

    def body(self, messages: Sequence[OutgoingMessage]) -> dict[str, Any]:
        """The Mail Send request for ``messages`` (which share their content)."""
        first = messages[0]
        content = [{"type": "text/plain", "value": first.text}] if first.text else []
        if first.html:
            content.append({"type": "text/html", "value": first.html})
        personalizations = []
        for m in messages:
            p: dict[str, Any] = {
                "to": [{"email": m.address}],
                "subject": m.subject,
                "custom_args": {"message_id": m.message_id},
            }
            if m.substitutions:
                p["substitutions"] = _plain(m.substitutions)
            if m.headers:
                p["headers"] = _plain(m.headers)
            personalizations.append(p)
        body: dict[str, Any] = {
            "from": {"email": self.sender.from_email, "name": self.sender.from_name},
            "subject": first.subject,
            "content": content,
            "personalizations": personalizations,
            "custom_args": {"run_id": self.run_id, "delivery_id": self.delivery_id},
            "categories": [c for c in ("herald", self.delivery_id, self.campaign_id) if c],
        }
        if self.sender.reply_to:
            body["reply_to"] = {"email": self.sender.reply_to}
        if self.settings.asm_group is not None:
            body["asm"] = {"group_id": self.settings.asm_group}
        if self.sandbox:
            body["mail_settings"] = {"sandbox_mode": {"enable": True}}
        return body

    def send(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        try:
            response = self._sg.send(self.body(messages))
        except HTTPError as exc:
            raise_for_status(_as_response(exc), provider="SendGrid")
            raise  # raise_for_status always raises for >= 400
        request_id = str(response.headers.get("X-Message-Id") or "")
        return [Outcome(m.message_id, "accepted", request_id) for m in messages]

    # ------------------------------------------------------------------ settling ambiguous sends

    def lookup(
        self, message_ids: Sequence[str], *, doubts: Mapping[str, Doubt] | None = None
    ) -> Mapping[str, bool | None]:
        """Which messages SendGrid has (True), surely has not (False: in doubt longer than the settling time and
        not in Email Activity) or cannot tell (None), matched only by what the documented rows carry (see the
        module notes). Eager: one query per chunk, plus one per message a chunk leaves open."""
        if not self.settings.lookup:
            return dict.fromkeys(message_ids)
        doubts = doubts or {}
        seen: dict[str, bool | None] = {}
        for start in range(0, len(message_ids), LOOKUP_CHUNK):
            seen.update(self._seen(list(message_ids[start : start + LOOKUP_CHUNK]), doubts))
        now = clock.now()
        return {m: settled(seen.get(m), doubts.get(m), now, self.settings.lookup_settle) for m in message_ids}

    def _seen(self, chunk: list[str], doubts: Mapping[str, Doubt]) -> dict[str, bool | None]:
        """Whether Email Activity shows each message of ``chunk`` now (True / False), or None if it cannot be told."""
        if not _QUOTABLE.fullmatch(self.run_id):
            return dict.fromkeys(chunk)
        askable = [m for m in chunk if _QUOTABLE.fullmatch(m)]
        out: dict[str, bool | None] = dict.fromkeys(chunk)
        if not askable:
            return out
        ids = ", ".join(f'"{m}"' for m in askable)
        rows = self._rows(f"{self._run_filter()} AND unique_args['message_id'] IN ({ids})", ACTIVITY_LIMIT)
        out.update(match_rows(askable, {m: d.address for m, d in doubts.items()}, rows, ACTIVITY_LIMIT))
        for m in askable:
            if out[m] is None:  # one message per query: any row is that message
                out[m] = bool(self._rows(f"{self._run_filter()} AND unique_args['message_id']=\"{m}\"", 1))
        return out

    def _run_filter(self) -> str:
        return f"unique_args['run_id']=\"{self.run_id}\""

    def _rows(self, query: str, limit: int) -> list[Any]:
        path = f"/v3/messages?limit={limit}&query={quote(query)}"
        r = self._http.request(
            "GET", path, headers={"Authorization": f"Bearer {self.settings.api_key}", "Accept": "application/json"}
        )
        raise_for_status(r, provider="SendGrid")
        rows = json_object(r).get("messages")
        if not isinstance(rows, list):
            # An answer without the documented list proves nothing either way.
            raise AmbiguousFault("SendGrid Email Activity answered without a list of messages")
        return rows


def match_rows(
    message_ids: Sequence[str], addresses: Mapping[str, str], rows: Sequence[Any], limit: int
) -> dict[str, bool | None]:
    """Match the rows of a query that pinned ``message_ids`` (and the run) to them by ``to_email`` alone: True
    (a row is this message), False (no row is), None (cannot be told from the rows). ``addresses``: each
    message's recipient address as sent; a message without one can only be told absent when there is no row."""
    if not rows:
        return dict.fromkeys(message_ids, False)
    cut = len(rows) >= limit  # there may be rows beyond the limit: no absence can be told
    owners: dict[str, list[str]] = {}
    for m in message_ids:
        address = addresses.get(m, "").strip().lower()
        if address:
            owners.setdefault(address, []).append(m)
    shown: set[str] = set()
    unexplained = False
    for row in rows:
        to_email = row.get("to_email") if isinstance(row, dict) else None
        if not isinstance(to_email, str) or to_email.strip().lower() not in owners:
            unexplained = True  # a row of a message whose address is not known here (or a malformed row)
            continue
        shown.add(to_email.strip().lower())
    out: dict[str, bool | None] = {}
    for m in message_ids:
        address = addresses.get(m, "").strip().lower()
        if not address:
            out[m] = None
        elif address in shown:
            out[m] = True if len(owners[address]) == 1 else None  # one of several messages to it: which one?
        else:
            out[m] = None if cut or unexplained else False
    return out


def settled(seen: bool | None, doubt: Doubt | None, now: dt.datetime, settle: float) -> bool | None:
    """What a lookup may answer for a message Email Activity shows (True), does not show (False) or cannot tell
    (None): an absence is believed only once the message has been in doubt for ``settle`` seconds, since
    Activity lags the send; with no known doubt time it is never believed."""
    if seen is not False:
        return seen
    if doubt is None or doubt.since is None:
        return None
    return False if (now - doubt.since).total_seconds() >= settle else None


def _plain(mapping: Mapping[str, str]) -> dict[str, str]:
    # What json.dumps takes; the composer's mappings are plain dicts already, and nothing here changes them.
    return mapping if type(mapping) is dict else dict(mapping)


def _as_response(exc: HTTPError) -> HttpResponse:
    headers = {str(k).lower(): str(v) for k, v in (exc.headers.items() if exc.headers else [])}
    body = exc.body if isinstance(exc.body, bytes) else str(exc.body or "").encode()
    return HttpResponse(int(exc.status_code), headers, body)
