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
Activity API, which needs SendGrid's add-on; default ``on``).
"""

from __future__ import annotations

import email.message
import io
import json
import logging
import urllib.error
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import python_http_client
from python_http_client.client import Response
from python_http_client.exceptions import HTTPError, handle_error
from sendgrid import SendGridAPIClient

from herald.campaigns.plans import Sender
from senders.errors import ProviderConfigError
from senders.http import HttpResponse, KeepAlive, raise_for_status
from senders.providers.base import Outcome, OutgoingMessage

# python_http_client logs request headers (the API key) and bodies (personal data) at DEBUG: never let it.
logging.getLogger("python_http_client").setLevel(logging.WARNING)

DEFAULT_HOST = "https://api.sendgrid.com"
MAX_PERSONALIZATIONS = 1000
LOOKUP_CHUNK = 100  # ids per Email Activity query


@dataclass(frozen=True, slots=True)
class SendGridSettings:
    api_key: str = field(repr=False)
    host: str = DEFAULT_HOST
    timeout: float = 30.0
    asm_group: int | None = None
    lookup: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SendGridSettings:
        key = env.get("SENDGRID_API_KEY", "")
        if not key:
            raise ProviderConfigError("SENDGRID_API_KEY is not set (the email provider needs an API key)")
        try:
            timeout = float(env.get("HERALD_SENDGRID_TIMEOUT", "30"))
            group = env.get("HERALD_SENDGRID_ASM_GROUP")
            asm = int(group) if group else None
        except ValueError as exc:
            raise ProviderConfigError(
                "HERALD_SENDGRID_TIMEOUT must be seconds and HERALD_SENDGRID_ASM_GROUP an integer"
            ) from exc
        return cls(
            api_key=key,
            host=env.get("HERALD_SENDGRID_HOST", DEFAULT_HOST).rstrip("/"),
            timeout=timeout,
            asm_group=asm,
            lookup=env.get("HERALD_SENDGRID_LOOKUP", "on").lower() not in ("off", "0", "false", "no"),
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


class SendGridProvider:
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
        self._transport = KeepAlive(settings.host, timeout=settings.timeout)
        self._sg = SendGridAPIClient(settings.api_key, host=settings.host)
        self._sg.client = _KeepAliveClient(
            host=settings.host,
            request_headers=self._sg._default_headers,
            version=3,
            timeout=settings.timeout,
            transport=self._transport,
        )

    def __repr__(self) -> str:
        return f"SendGridProvider({self._transport!r}, run={self.run_id})"

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

    def lookup(self, message_ids: Sequence[str]) -> Mapping[str, bool | None]:
        """Ask the Email Activity API which messages SendGrid has. Activity lags: callers decide how soon to
        trust an absence (senders.dispatch treats it as final; see docs/senders.md for production)."""
        if not self.settings.lookup:
            return {m: None for m in message_ids}
        found: dict[str, bool | None] = {}
        for start in range(0, len(message_ids), LOOKUP_CHUNK):
            chunk = list(message_ids[start : start + LOOKUP_CHUNK])
            ids = ", ".join(f'"{m}"' for m in chunk)  # message ids are hex: nothing to escape
            query = f"unique_args['message_id'] IN ({ids})"
            path = f"/v3/messages?limit=1000&query={quote(query)}"
            r = self._transport.request(
                "GET", path, headers={"Authorization": f"Bearer {self.settings.api_key}", "Accept": "application/json"}
            )
            raise_for_status(r, provider="SendGrid")
            have = {
                str((row.get("unique_args") or {}).get("message_id")) for row in (r.json() or {}).get("messages", [])
            }
            found.update({m: m in have for m in chunk})
        return found

    def close(self) -> None:
        self._transport.close()


def _plain(mapping: Mapping[str, str]) -> dict[str, str]:
    # What json.dumps takes; the composer's mappings are plain dicts already, and nothing here changes them.
    return mapping if type(mapping) is dict else dict(mapping)


def _as_response(exc: HTTPError) -> HttpResponse:
    headers = {str(k).lower(): str(v) for k, v in (exc.headers.items() if exc.headers else [])}
    body = exc.body if isinstance(exc.body, bytes) else str(exc.body or "").encode()
    return HttpResponse(int(exc.status_code), headers, body)
