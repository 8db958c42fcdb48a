"""Push through Firebase Cloud Messaging, HTTP v1 API (``POST /v1/projects/{project}/messages:send``).

One message per request (``max_batch = 1``): HTTP v1 has no batch send. The body is::

    {"message": {"token": <device token>, "notification": {"title": ..., "body": ...},
                 "data": {<the message's data>, "herald_message_id": <id>}}}

The access token is an OAuth2 bearer token obtained outside Herald (it lasts about an hour: a longer job stops
with ``AccountRejected`` when it expires, and resumes with a fresh one).

What an answer means, by the ``FcmError`` code in the error's ``details`` (else the HTTP status):

- 200: accepted; ``provider_id`` is the message ``name`` (``projects/<p>/messages/<id>``).
- ``UNREGISTERED``, ``INVALID_ARGUMENT`` (bad token, payload over 4096 bytes, ...) and ``SENDER_ID_MISMATCH``
  (the token belongs to another Firebase project): about this token or this message only, so the message fails,
  with the code in its reason (``"FCM UNREGISTERED: ..."``) for the token to be retired.
- ``QUOTA_EXCEEDED`` / 429 → ``RateLimited``: after ``Retry-After``, else a ``RetryInfo`` delay, else 60 s (the
  per-project quota refills within the minute).
- ``UNAVAILABLE``, ``INTERNAL``, any 5xx → ``TransientFault``.
- ``THIRD_PARTY_AUTH_ERROR`` (the APNs or web push credentials of the project), any other 401 / 403 (access
  token expired or lacking permission) and a 404 without ``UNREGISTERED`` (wrong project or host) →
  ``AccountRejected``: a setup problem that every later message would hit, so the job stops.
- a 400 without an ``FcmError`` code (Google's ``BadRequest`` field violations: the request itself is malformed)
  → ``RequestRejected``.

``FcmProvider(settings, validate_only=True)`` is a dry run: FCM checks every message (token included) and sends
nothing.

``lookup`` cannot tell (``None`` for every id): FCM keeps no queryable record of sent messages. An ambiguous push
stays *unknown*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from senders.errors import ProviderConfigError
from senders.http import (
    HttpResponse,
    KeepAlive,
    KeepAliveProvider,
    error_text,
    fault_for,
    json_object,
    retry_after_seconds,
    timeout_setting,
    url_setting,
)
from senders.providers.base import (
    AccountRejected,
    OneMessagePerRequest,
    Outcome,
    OutgoingMessage,
    RateLimited,
    TransientFault,
)

DEFAULT_HOST = "https://fcm.googleapis.com"
DEFAULT_TIMEOUT = 10.0
QUOTA_WAIT = 60.0
MESSAGE_ID_KEY = "herald_message_id"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"

# Google Cloud project ids: 6-30 lowercase letters, digits and hyphens, starting with a letter.
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")

MESSAGE_FAILURES = frozenset({"UNREGISTERED", "INVALID_ARGUMENT", "SENDER_ID_MISMATCH"})
TRANSIENT = frozenset({"UNAVAILABLE", "INTERNAL"})


@dataclass(frozen=True, slots=True)
class FcmSettings:
    project_id: str
    access_token: str
    host: str = DEFAULT_HOST
    timeout: float = DEFAULT_TIMEOUT

    def __repr__(self) -> str:
        return (
            f"FcmSettings(project_id={self.project_id!r}, access_token=<hidden>, host={self.host!r}, "
            f"timeout={self.timeout})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> FcmSettings:
        """Read ``HERALD_FCM_PROJECT_ID``, ``HERALD_FCM_ACCESS_TOKEN``, and the optional ``HERALD_FCM_HOST`` and
        ``HERALD_FCM_TIMEOUT`` (seconds). A missing or malformed setting raises ``ProviderConfigError`` naming it;
        the token is never quoted back."""
        project = _required(env, "HERALD_FCM_PROJECT_ID")
        if not PROJECT_ID.fullmatch(project):
            raise ProviderConfigError(
                f"HERALD_FCM_PROJECT_ID must be a Firebase project id (6-30 lowercase letters, digits, hyphens), "
                f"not {project!r}"
            )
        token = _required(env, "HERALD_FCM_ACCESS_TOKEN")
        if any(c.isspace() or not c.isprintable() for c in token):
            raise ProviderConfigError("HERALD_FCM_ACCESS_TOKEN holds spaces or control characters")
        return cls(
            project_id=project,
            access_token=token,
            host=url_setting(env, "HERALD_FCM_HOST", DEFAULT_HOST),
            timeout=timeout_setting(env, "HERALD_FCM_TIMEOUT", DEFAULT_TIMEOUT),
        )


@dataclass(frozen=True, slots=True)
class FcmErrorBody:
    """What an FCM error body says: ``{"error": {"code", "message", "status", "details": [...]}}``."""

    status: str  # the Google status, e.g. NOT_FOUND, RESOURCE_EXHAUSTED ("" when absent)
    code: str  # the FcmError errorCode, e.g. UNREGISTERED ("" when absent)
    message: str
    retry_delay: float | None  # from a google.rpc.RetryInfo detail


class FcmProvider(KeepAliveProvider, OneMessagePerRequest):
    """The push provider: one instance per worker thread, holding one keep-alive connection."""

    channel = "push"
    name = "FCM"

    def __init__(self, settings: FcmSettings, *, validate_only: bool = False) -> None:
        self.settings = settings
        self.validate_only = validate_only  # FCM checks each message fully and sends nothing (a dry run)
        self._http = KeepAlive(settings.host, timeout=settings.timeout)
        self._path = f"/v1/projects/{quote(settings.project_id, safe='')}/messages:send"
        self._headers = {
            "Authorization": f"Bearer {settings.access_token}",
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
        }

    def __repr__(self) -> str:
        return f"FcmProvider({self.settings!r}, validate_only={self.validate_only})"

    def send_one(self, message: OutgoingMessage) -> Outcome:
        response = self._http.request(
            "POST", self._path, body=payload(message, validate_only=self.validate_only), headers=self._headers
        )
        if 200 <= response.status < 300:
            name = json_object(response).get("name")
            return Outcome(message.message_id, "accepted", provider_id=name if isinstance(name, str) else "")
        error = parse_error(response)
        detail = f"{error.code or error.status or 'error'}: {error.message}"
        if error.code in MESSAGE_FAILURES:
            return Outcome(message.message_id, "failed", reason=f"FCM {detail}")
        said = f"FCM answered {response.status}: {detail}"
        # The FcmError code outranks the HTTP status, which a proxy in between may have changed.
        if response.status == 429 or error.code == "QUOTA_EXCEEDED":
            default = error.retry_delay if error.retry_delay is not None else QUOTA_WAIT
            wait = retry_after_seconds(response.headers, default=default)
            raise RateLimited(said, retry_after=wait, status=response.status)
        if error.code in TRANSIENT:
            raise TransientFault(said, status=response.status)
        if error.code == "THIRD_PARTY_AUTH_ERROR" or response.status == 404:
            raise AccountRejected(said, status=response.status)
        raise fault_for(response, provider="FCM", detail=detail)


def payload(message: OutgoingMessage, *, validate_only: bool = False) -> bytes:
    """The HTTP v1 request body for ``message``; our id rides in ``data`` so the app can report it back."""
    notification = {k: v for k, v in (("title", message.title), ("body", message.text)) if v}
    body: dict[str, Any] = {"token": message.address}
    if notification:
        body["notification"] = notification
    body["data"] = {**message.data, MESSAGE_ID_KEY: message.message_id}
    request: dict[str, Any] = {"message": body}
    if validate_only:
        request["validate_only"] = True
    return json.dumps(request, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def parse_error(response: HttpResponse) -> FcmErrorBody:
    error = json_object(response).get("error")
    if not isinstance(error, dict):
        return FcmErrorBody("", "", error_text(response), None)
    code = ""
    retry_delay = None
    details = error.get("details")
    for detail in details if isinstance(details, list) else ():
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR_TYPE and isinstance(detail.get("errorCode"), str):
            code = detail["errorCode"]
        elif detail.get("@type") == RETRY_INFO_TYPE:
            retry_delay = _duration(detail.get("retryDelay"))
    status = error.get("status")
    return FcmErrorBody(status if isinstance(status, str) else "", code, error_text(response), retry_delay)


def _duration(value: Any) -> float | None:
    # google.protobuf.Duration in JSON: "3.5s".
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?s", value):
        return float(value[:-1])
    return None


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ProviderConfigError(f"{name} is not set: it is required to send push notifications through FCM")
    return value
