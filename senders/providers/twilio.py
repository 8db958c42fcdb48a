"""SMS through Twilio's Programmable Messaging REST API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

One message per request (``max_batch = 1``): Twilio has no batch send. The request is form-encoded with ``To``,
``From`` or ``MessagingServiceSid``, ``Body`` and ``StatusCallback`` carrying ``herald_message_id=<id>`` in its
query so that status callbacks name the message they are about. The callback goes to
``HERALD_SMS_STATUS_CALLBACK``, else to ``herald serve``'s ``{HERALD_PUBLIC_URL}/callbacks/twilio`` when a public
URL is set (``HERALD_SMS_STATUS_CALLBACK=off``: no callback).

What an answer means:

- 2xx (Twilio answers 201): accepted; ``provider_id`` is the Message SID (``SM…``).
- 400 with a code about this message's recipient or text: the message fails, the job goes on (an ``Outcome``,
  reason ``"Twilio error <code>: <message>"``). See ``MESSAGE_FAILURES``.
- a code about the sender or the account (``SETUP_FAILURES``), 401 / 403, or 404 (no such account or endpoint):
  ``AccountRejected``: every later message would fail the same way, so the job stops instead of failing them.
- 429 → ``RateLimited``; 5xx → ``TransientFault``; any other 4xx → ``RequestRejected``.

``lookup`` cannot tell (``None`` for every id). Twilio takes no idempotency key, and no field of the Message
resource carries anything of ours: not the StatusCallback URL, not a tag. Listing messages filters on ``To``,
``From`` and the day sent only, so "found" would be a guess on recipient and text (a guess that can mark a lost
message as sent), and a recent message may not be listed yet, so "not found" cannot be trusted either. An
ambiguous SMS therefore stays *unknown* until its status callback (with ``herald_message_id`` and ``MessageSid``)
settles it.

Settings come from the environment only; the auth token never appears in a message, a repr or a log.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from senders.errors import ProviderConfigError
from senders.http import (
    HttpResponse,
    KeepAlive,
    KeepAliveProvider,
    error_text,
    fault_for,
    json_object,
    timeout_setting,
    url_setting,
)
from senders.providers.base import AccountRejected, OneMessagePerRequest, Outcome, OutgoingMessage

DEFAULT_HOST = "https://api.twilio.com"
DEFAULT_TIMEOUT = 10.0
CALLBACK_PARAM = "herald_message_id"
CALLBACK_PATH = "/callbacks/twilio"  # herald serve's status callback endpoint (senders.tracking.callbacks)

E164 = re.compile(r"\+[1-9]\d{1,14}")
ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")

# Codes that depend on this message's recipient or text: the message fails, other messages can still go.
MESSAGE_FAILURES: Mapping[int, str] = {
    21211: "invalid 'To' number",
    21265: "'To' is a short code",
    21266: "'To' is the sender itself",
    21408: "no permission to send to the 'To' region",
    21602: "empty body",
    # 21606 / 21659 also name the sender, but a short code can only reach its own country: per destination.
    21606: "sender cannot reach this destination",
    21608: "'To' not verified (trial account)",
    21610: "recipient unsubscribed (STOP)",
    21612: "'To' not reachable by SMS",
    21614: "'To' is not a mobile number",
    21617: "body over 1600 characters",
    21659: "sender cannot reach this destination",
}

# Codes about the sender or the account: every message would fail the same way, so stop the job.
SETUP_FAILURES: Mapping[int, str] = {
    20003: "authentication failed",
    21212: "invalid 'From' number",
    21603: "no 'From' or 'MessagingServiceSid'",
    21660: "'From' number is not in this account",
    21705: "invalid Messaging Service",
}


@dataclass(frozen=True, slots=True)
class TwilioSettings:
    """Where and as whom to send. Exactly one of ``from_number`` and ``messaging_service_sid`` is set."""

    account_sid: str
    auth_token: str
    from_number: str = ""
    messaging_service_sid: str = ""
    host: str = DEFAULT_HOST
    status_callback: str = ""  # our URL for Twilio's status callbacks; herald_message_id is added per message
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:
        sender = f"from_number={self.from_number!r}" if self.from_number else f"service={self.messaging_service_sid!r}"
        return (
            f"TwilioSettings(account_sid={self.account_sid!r}, auth_token=<hidden>, {sender}, host={self.host!r}, "
            f"status_callback={_redacted(self.status_callback)!r}, timeout={self.timeout})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TwilioSettings:
        """Read ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, ``HERALD_SMS_FROM`` or
        ``TWILIO_MESSAGING_SERVICE_SID``, and the optional ``HERALD_TWILIO_HOST``, ``HERALD_SMS_STATUS_CALLBACK``
        and ``HERALD_TWILIO_TIMEOUT`` (seconds). A missing or malformed setting raises ``ProviderConfigError``
        naming it; credential values are never quoted back."""
        sid = _required(env, "TWILIO_ACCOUNT_SID")
        if not ACCOUNT_SID.fullmatch(sid):
            raise ProviderConfigError("TWILIO_ACCOUNT_SID must be an Account SID: AC followed by 32 hex digits")
        token = _required(env, "TWILIO_AUTH_TOKEN")
        if any(c.isspace() or not c.isprintable() for c in token):
            raise ProviderConfigError("TWILIO_AUTH_TOKEN holds spaces or control characters")
        from_number = env.get("HERALD_SMS_FROM", "").strip()
        service = env.get("TWILIO_MESSAGING_SERVICE_SID", "").strip()
        if from_number and service:
            raise ProviderConfigError("set HERALD_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID, not both")
        if not (from_number or service):
            raise ProviderConfigError(
                "HERALD_SMS_FROM (an E.164 number) or TWILIO_MESSAGING_SERVICE_SID is required to send SMS"
            )
        if from_number and not E164.fullmatch(from_number):
            raise ProviderConfigError(f"HERALD_SMS_FROM must be an E.164 number like +14155550100, not {from_number!r}")
        if service and not MESSAGING_SERVICE_SID.fullmatch(service):
            raise ProviderConfigError("TWILIO_MESSAGING_SERVICE_SID must be MG followed by 32 hex digits")
        callback = status_callback_setting(env)
        if callback and CALLBACK_PARAM in dict(parse_qsl(urlsplit(callback).query)):
            raise ProviderConfigError(f"HERALD_SMS_STATUS_CALLBACK must not set {CALLBACK_PARAM}: Herald adds it")
        return cls(
            account_sid=sid,
            auth_token=token,
            from_number=from_number,
            messaging_service_sid=service,
            host=url_setting(env, "HERALD_TWILIO_HOST", DEFAULT_HOST),
            status_callback=callback,
            timeout=timeout_setting(env, "HERALD_TWILIO_TIMEOUT", DEFAULT_TIMEOUT),
        )


class TwilioProvider(KeepAliveProvider, OneMessagePerRequest):
    """The SMS provider: one instance per worker thread, holding one keep-alive connection."""

    channel = "sms"
    name = "Twilio"

    def __init__(self, settings: TwilioSettings) -> None:
        self.settings = settings
        self._http = KeepAlive(settings.host, timeout=settings.timeout)
        self._path = f"/2010-04-01/Accounts/{quote(settings.account_sid, safe='')}/Messages.json"
        basic = base64.b64encode(f"{settings.account_sid}:{settings.auth_token}".encode()).decode("ascii")
        self._headers = {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }

    def __repr__(self) -> str:
        return f"TwilioProvider({self.settings!r})"

    def send_one(self, message: OutgoingMessage) -> Outcome:
        response = self._http.request("POST", self._path, body=self._form(message), headers=self._headers)
        if 200 <= response.status < 300:
            return Outcome(message.message_id, "accepted", provider_id=_sid(response))
        code, text = _error(response)
        detail = f"error {code}: {text}" if code is not None else text
        if response.status == 400 and code in MESSAGE_FAILURES:
            return Outcome(message.message_id, "failed", reason=f"Twilio {detail}")
        if code in SETUP_FAILURES or response.status == 404:
            # 404: the account in the path (TWILIO_ACCOUNT_SID) or the host is wrong for every message.
            raise AccountRejected(f"Twilio answered {response.status}: {detail}", status=response.status)
        raise fault_for(response, provider="Twilio", detail=detail)

    def _form(self, message: OutgoingMessage) -> bytes:
        fields = [("To", message.address)]
        if self.settings.from_number:
            fields.append(("From", self.settings.from_number))
        else:
            fields.append(("MessagingServiceSid", self.settings.messaging_service_sid))
        fields.append(("Body", message.text))
        if self.settings.status_callback:
            fields.append(("StatusCallback", callback_url(self.settings.status_callback, message.message_id)))
        return urlencode(fields).encode("ascii")


def status_callback_setting(env: Mapping[str, str]) -> str:
    """``HERALD_SMS_STATUS_CALLBACK``; unset, ``herald serve``'s endpoint under ``HERALD_PUBLIC_URL`` if set."""
    if env.get("HERALD_SMS_STATUS_CALLBACK", "").strip().lower() == "off":
        return ""
    callback = url_setting(env, "HERALD_SMS_STATUS_CALLBACK")
    if not callback and env.get("HERALD_PUBLIC_URL", "").strip():
        callback = url_setting(env, "HERALD_PUBLIC_URL") + CALLBACK_PATH
    return callback


def callback_url(base: str, message_id: str) -> str:
    """``base`` with ``herald_message_id=<message_id>`` added to its query."""
    parts = urlsplit(base)
    query = [*parse_qsl(parts.query, keep_blank_values=True), (CALLBACK_PARAM, message_id)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _sid(response: HttpResponse) -> str:
    sid = json_object(response).get("sid")
    return sid if isinstance(sid, str) else ""


def _error(response: HttpResponse) -> tuple[int | None, str]:
    """Twilio's error code and message: ``{"code": 21211, "message": "...", "more_info": "...", "status": 400}``."""
    code = json_object(response).get("code")
    return (code if isinstance(code, int) and not isinstance(code, bool) else None), error_text(response)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ProviderConfigError(f"{name} is not set: it is required to send SMS through Twilio")
    return value


def _redacted(url: str) -> str:
    # A callback URL may carry a token in its query; show where it points, not what it carries.
    if not url:
        return ""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "…" if parts.query else "", ""))
