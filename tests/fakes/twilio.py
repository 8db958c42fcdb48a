"""A strict local Twilio Messages API, for tests and benchmarks.

``FakeTwilio`` answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` (form-encoded) and
``GET /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json`` with Twilio's JSON shapes, and refuses what Twilio
refuses, with its error body ``{"code", "message", "more_info", "status"}``:

    401 20003   missing or wrong HTTP basic auth (user = Account SID, password = auth token)
    404 20404   an account in the path other than the authenticated one; an unknown route or message
    405 20004   another method
    400 21604   no ``To``                          400 21211   ``To`` not E.164
    400 21603   neither ``From`` nor ``MessagingServiceSid``
    400 21212   ``From`` not E.164                 400 21660   ``From`` not one of the account's numbers
    400 21705   unknown Messaging Service          400 21266   ``To`` equals ``From``
    400 21602   empty ``Body``                     400 21617   ``Body`` over 1,600 characters
    400 21609   ``StatusCallback`` not an http(s) URL
    400 21610   ``To`` in ``unsubscribed``         400 21614   ``To`` in ``landlines``

Stricter than Twilio, answered 400 with code 20001 so a test notices: both ``From`` and ``MessagingServiceSid``;
a parameter given twice; a parameter Twilio does not know (Twilio ignores it, which hides typos).

An accepted message is answered 201 with the Message resource and recorded under the ``herald_message_id`` in
the query of its ``StatusCallback`` (a message without one is recorded under its SID and counted in
``missing_message_id``). Recording happens before the answer, so the base class's ``accept_drop`` fault records it
and then drops the connection. ``fail_next(code, ...)`` answers the next requests with Twilio's own error for
20429 (429), 20500 (500), 20503 (503) or 20003 (401); the base class's faults work as everywhere.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from tests.fakes.base import RecordingFake, Reply

API = "/2010-04-01/Accounts/"
MAX_BODY_CHARS = 1600
E164 = re.compile(r"\+[1-9]\d{1,14}")
KNOWN_PARAMS = frozenset(
    {
        "To",
        "From",
        "MessagingServiceSid",
        "Body",
        "StatusCallback",
        "ApplicationSid",
        "MaxPrice",
        "ProvideFeedback",
        "Attempt",
        "ValidityPeriod",
        "ForceDelivery",
        "ContentRetention",
        "AddressRetention",
        "SmartEncoded",
        "PersistentAction",
        "ShortenUrls",
        "ScheduleType",
        "SendAt",
        "SendAsMms",
        "ContentSid",
        "ContentVariables",
        "RiskCheck",
        "MediaUrl",
    }
)
CANNED = {
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
    20503: (503, "Service Unavailable"),
    20003: (401, "Authenticate"),
}


@dataclass(frozen=True, slots=True)
class Sms:
    """One accepted message."""

    message_id: str  # herald_message_id from the StatusCallback query, else the SID
    sid: str
    to: str
    from_number: str
    messaging_service_sid: str
    body: str
    status_callback: str
    seq: int
    received_at: float


@dataclass(frozen=True, slots=True)
class Refusal:
    """One request refused for its content (400)."""

    path: str
    code: int
    message: str
    params: Mapping[str, str]


class FakeTwilio(RecordingFake[Sms, Refusal, int]):
    """``with FakeTwilio(account_sid=..., auth_token=..., from_numbers={"+1..."}) as fake: ... fake.url ...``"""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_numbers: Iterable[str] = (),
        messaging_services: Iterable[str] = (),
        unsubscribed: Iterable[str] = (),
        landlines: Iterable[str] = (),
        **kw: Any,
    ) -> None:
        super().__init__(canned=CANNED, **kw)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_numbers = set(from_numbers)
        self.messaging_services = set(messaging_services)
        self.unsubscribed = set(unsubscribed)
        self.landlines = set(landlines)
        self.by_sid: dict[str, Sms] = {}

    # ------------------------------------------------------------------ serving

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        canned = self.next_canned()
        if canned is not None:
            status, text = CANNED[canned]
            return _error(status, canned, text)
        route = urlsplit(path).path
        if not route.startswith(API):
            return _error(404, 20404, f"The requested resource {route} was not found")
        if not self._authorized(headers):
            with self.lock:
                self.unauthorized += 1
            return _error(401, 20003, "Authenticate")
        account, _, rest = route[len(API) :].partition("/")
        if account != self.account_sid:
            return _error(404, 20404, f"The requested resource {route} was not found")
        if rest == "Messages.json":
            if method != "POST":
                return _error(405, 20004, "Method not allowed")
            return self._create(route, headers, body)
        match = re.fullmatch(r"Messages/(SM[0-9a-f]{32})\.json", rest)
        if match and method == "GET":
            with self.lock:
                sms = self.by_sid.get(match.group(1))
            if sms is None:
                return _error(404, 20404, f"The requested resource {route} was not found")
            return Reply(200, self._resource(sms))
        return _error(404, 20404, f"The requested resource {route} was not found")

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, encoded = value.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.account_sid) and secrets.compare_digest(password, self.auth_token)

    def _create(self, route: str, headers: Mapping[str, str], raw: bytes) -> Reply:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        form = content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"
        # Twilio reads parameters from a form body only: anything else arrives as no parameters at all.
        pairs = parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True) if form else []
        params: dict[str, str] = {}
        repeated = sorted({k for k, _ in pairs if sum(1 for k2, _ in pairs if k2 == k) > 1} - {"MediaUrl"})
        for k, v in pairs:
            params.setdefault(k, v)
        problem = self._problem(params, repeated)
        if problem is not None:
            code, message = problem
            with self.lock:
                self.refusals.append(Refusal(route, code, message, params))
            return _error(400, code, message)
        callback = params.get("StatusCallback", "")
        herald_id = (parse_qs(urlsplit(callback).query).get("herald_message_id") or [""])[0]
        sid = "SM" + secrets.token_hex(16)
        with self.lock:
            if not herald_id:
                self.missing_message_id += 1
            sms = Sms(
                message_id=herald_id or sid,
                sid=sid,
                to=params["To"],
                from_number=params.get("From", ""),
                messaging_service_sid=params.get("MessagingServiceSid", ""),
                body=params["Body"],
                status_callback=callback,
                seq=len(self.sent),
                received_at=time.time(),
            )
            self.sent.append(sms)
            self.by_sid[sid] = sms
            self.messages.setdefault(sms.message_id, []).append(sms)
        return Reply(201, self._resource(sms))

    def _problem(self, params: Mapping[str, str], repeated: list[str]) -> tuple[int, str] | None:
        unknown = sorted(set(params) - KNOWN_PARAMS)
        if unknown:
            return 20001, f"Unknown parameters: {', '.join(unknown)} (the fake refuses what Twilio ignores)"
        if repeated:
            return 20001, f"Parameters given more than once: {', '.join(repeated)}"
        to = params.get("To", "")
        sender = params.get("From", "")
        service = params.get("MessagingServiceSid", "")
        body = params.get("Body", "")
        if not to:
            return 21604, "A 'To' phone number is required."
        if sender and service:
            return 20001, "Give one of 'From' and 'MessagingServiceSid', not both (the fake is stricter than Twilio)"
        if not (sender or service):
            return 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message"
        if sender and not E164.fullmatch(sender):
            return (
                21212,
                f"The 'From' number {sender} is not a valid phone number, shortcode, or alphanumeric sender ID.",
            )
        if sender and sender not in self.from_numbers:
            return 21660, f"Mismatch between the 'From' number {sender} and the account {self.account_sid}."
        if service and service not in self.messaging_services:
            return 21705, "The Messaging Service is invalid."
        if not E164.fullmatch(to):
            return 21211, f"The 'To' number {to} is not a valid phone number."
        if to == sender:
            return 21266, "'To' and 'From' number cannot be the same"
        if not body:
            return 21602, "Message body is required."
        if len(body) > MAX_BODY_CHARS:
            return 21617, "The concatenated message body exceeds the 1600 character limit."
        callback = params.get("StatusCallback", "")
        if callback:
            parts = urlsplit(callback)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return 21609, f"The StatusCallback URL {callback} is not a valid URL."
        if to in self.unsubscribed:
            return 21610, "Attempt to send to unsubscribed recipient"
        if to in self.landlines:
            return 21614, f"'To' number {to} is not a valid mobile number"
        return None

    def _resource(self, sms: Sms) -> dict[str, Any]:
        created = formatdate(sms.received_at, usegmt=True)
        uri = f"{API}{self.account_sid}/Messages/{sms.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": sms.body,
            "date_created": created,
            "date_sent": None,
            "date_updated": created,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sms.from_number or None,
            "messaging_service_sid": sms.messaging_service_sid or None,
            "num_media": "0",
            "num_segments": "1" if sms.from_number else "0",
            "price": None,
            "price_unit": "USD",
            "sid": sms.sid,
            "status": "queued" if sms.from_number else "accepted",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": sms.to,
            "uri": f"{uri}.json",
        }


def _error(status: int, code: int, message: str) -> Reply:
    return Reply(
        status,
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
    )
