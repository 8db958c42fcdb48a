"""A strict local Firebase Cloud Messaging HTTP v1 API, for tests and benchmarks.

``FakeFcm`` answers ``POST /v1/projects/{project}/messages:send`` with FCM's JSON shapes and refuses what FCM
refuses, with Google's error body ``{"error": {"code", "message", "status", "details": [...]}}``:

    401 UNAUTHENTICATED       no ``Authorization: Bearer <access token>``, or another token
    403 PERMISSION_DENIED     another project than the one the token is for
    400 INVALID_ARGUMENT      body not JSON, unknown fields, wrong types (``google.rpc.BadRequest`` details with the
                              field), data values that are not strings, a reserved data key (``from``, ``gcm``,
                              ``message_type``, ``google…``); with an ``FcmError`` ``INVALID_ARGUMENT`` detail: a
                              malformed token, or a payload (data keys and values, notification title and body)
                              over 4,096 bytes
    404 UNREGISTERED          a token in ``unregistered``
    403 SENDER_ID_MISMATCH    a token in ``foreign_tokens`` (registered to another project)

Stricter than FCM: only ``token`` targets (no ``topic`` / ``condition``), and a ``notification`` holds only
``title``, ``body`` and ``image``.

An accepted message is answered 200 ``{"name": "projects/<p>/messages/<id>"}`` and recorded under the
``herald_message_id`` of its data (a message without one is recorded under its name and counted in
``missing_message_id``); ``validate_only`` requests are checked, answered, and not recorded. Recording happens
before the answer, so the base class's ``accept_drop`` fault records it and then drops the connection.
``fail_next(code, ...)`` answers the next requests with FCM's own error for ``QUOTA_EXCEEDED`` (429, with
``Retry-After`` when ``quota_retry_after`` is set), ``UNAVAILABLE`` (503), ``INTERNAL`` (500) or
``THIRD_PARTY_AUTH_ERROR`` (401).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.base import RecordingFake, Reply

MAX_PAYLOAD_BYTES = 4096
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
SEND = re.compile(r"/v1/projects/([^/]+)/messages:send")
TOKEN = re.compile(r"[A-Za-z0-9_:\-]{16,4096}")
MESSAGE_FIELDS = frozenset(
    {"name", "data", "notification", "android", "webpush", "apns", "fcm_options", "token", "topic", "condition"}
)
NOTIFICATION_FIELDS = frozenset({"title", "body", "image"})
RESERVED_DATA_KEYS = frozenset({"from", "gcm", "message_type", "notification"})
CANNED: dict[str, tuple[int, str, str]] = {
    "QUOTA_EXCEEDED": (429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests'."),
    "UNAVAILABLE": (503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": (500, "INTERNAL", "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": (401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
}


@dataclass(frozen=True, slots=True)
class Push:
    """One accepted message."""

    message_id: str  # data["herald_message_id"], else the name
    name: str
    token: str
    title: str
    body: str
    data: Mapping[str, str] = field(hash=False)
    seq: int = 0
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Refusal:
    """One request refused for its content (400, or a token FCM refuses)."""

    status: int
    error_status: str
    error_code: str  # the FcmError errorCode, "" for a BadRequest
    message: str
    field: str  # the offending field for a BadRequest, else ""


class FakeFcm(RecordingFake[Push, Refusal, str]):
    """``with FakeFcm(project_id="p", access_token="t", unregistered={"tok…"}) as fake: ... fake.url ...``"""

    def __init__(
        self,
        *,
        project_id: str,
        access_token: str,
        unregistered: Iterable[str] = (),
        foreign_tokens: Iterable[str] = (),
        quota_retry_after: int | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(canned=CANNED, **kw)
        self.project_id = project_id
        self.access_token = access_token
        self.unregistered = set(unregistered)
        self.foreign_tokens = set(foreign_tokens)
        self.quota_retry_after = quota_retry_after
        self.validated = 0

    def stats(self) -> dict[str, Any]:
        stats = super().stats()
        with self.lock:
            stats["validated"] = self.validated
        return stats

    # ------------------------------------------------------------------ serving

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        canned = self.next_canned()
        if canned is not None:
            status, google_status, text = CANNED[canned]
            reply = _error(status, google_status, text, fcm_code=canned)
            if canned == "QUOTA_EXCEEDED" and self.quota_retry_after is not None:
                reply.headers["Retry-After"] = str(self.quota_retry_after)
            return reply
        route = urlsplit(path).path
        match = SEND.fullmatch(route)
        if match is None:
            return _error(404, "NOT_FOUND", f"The requested URL {route} was not found on this server.")
        if method != "POST":
            return _error(405, "UNIMPLEMENTED", f"Method {method} is not allowed for {route}")
        if _header(headers, "authorization") != f"Bearer {self.access_token}":
            with self.lock:
                self.unauthorized += 1
            return _error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                "other valid authentication credential.",
            )
        if match.group(1) != self.project_id:
            return _error(
                403,
                "PERMISSION_DENIED",
                f"Permission 'cloudmessaging.messages.create' denied on resource "
                f"'//cloudresourcemanager.googleapis.com/projects/{match.group(1)}' (or it may not exist).",
            )
        return self._send(headers, body)

    def _send(self, headers: Mapping[str, str], raw: bytes) -> Reply:
        content_type = (_header(headers, "content-type") or "").split(";")[0].strip().lower()
        try:
            if content_type != "application/json":
                raise ValueError
            request = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return self._refuse(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", bad_field="")
        problem = _shape_problem(request)
        if problem is not None:
            message, bad_field = problem
            return self._refuse(400, "INVALID_ARGUMENT", message, bad_field=bad_field)
        message = request["message"]
        token = message["token"]
        notification = message.get("notification", {})
        data = message.get("data", {})
        if not TOKEN.fullmatch(token):
            return self._refuse(
                400,
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
                fcm_code="INVALID_ARGUMENT",
            )
        size = sum(len(k.encode()) + len(v.encode()) for k, v in data.items())
        size += sum(len(notification.get(k, "").encode()) for k in ("title", "body"))
        if size > MAX_PAYLOAD_BYTES:
            return self._refuse(
                400,
                "INVALID_ARGUMENT",
                f"Message is too big: its payload is {size} bytes, the limit is {MAX_PAYLOAD_BYTES}.",
                fcm_code="INVALID_ARGUMENT",
            )
        if token in self.unregistered:
            return self._refuse(404, "NOT_FOUND", "Requested entity was not found.", fcm_code="UNREGISTERED")
        if token in self.foreign_tokens:
            return self._refuse(403, "PERMISSION_DENIED", "SenderId mismatch", fcm_code="SENDER_ID_MISMATCH")
        if request.get("validate_only"):
            with self.lock:
                self.validated += 1
            return Reply(200, {"name": f"projects/{self.project_id}/messages/fake_message_id"})
        name = f"projects/{self.project_id}/messages/0:{int(time.time() * 1000)}%{secrets.token_hex(8)}"
        herald_id = data.get("herald_message_id", "")
        with self.lock:
            if not herald_id:
                self.missing_message_id += 1
            push = Push(
                message_id=herald_id or name,
                name=name,
                token=token,
                title=notification.get("title", ""),
                body=notification.get("body", ""),
                data=dict(data),
                seq=len(self.sent),
                received_at=time.time(),
            )
            self.sent.append(push)
            self.messages.setdefault(push.message_id, []).append(push)
        return Reply(200, {"name": name})

    def _refuse(
        self, status: int, google_status: str, message: str, *, fcm_code: str = "", bad_field: str | None = None
    ) -> Reply:
        with self.lock:
            self.refusals.append(Refusal(status, google_status, fcm_code, message, bad_field or ""))
        return _error(status, google_status, message, fcm_code=fcm_code, bad_field=bad_field)


def _shape_problem(request: Any) -> tuple[str, str] | None:
    """The first way ``request`` is not a send request for one token: (message, field), else None."""
    if not isinstance(request, dict):
        return "Invalid JSON payload received. Expected an object.", ""
    for key in request:
        if key not in ("message", "validate_only"):
            return f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.', key
    if not isinstance(request.get("validate_only", False), bool):
        return "Invalid value at 'validate_only' (TYPE_BOOL)", "validate_only"
    message = request.get("message")
    if not isinstance(message, dict):
        return "Request contains an invalid argument: 'message' is required.", "message"
    for key in message:
        if key not in MESSAGE_FIELDS:
            return f"Invalid JSON payload received. Unknown name \"{key}\" at 'message': Cannot find field.", (
                f"message.{key}"
            )
    if "topic" in message or "condition" in message:
        return "The fake addresses device tokens only (no topic or condition).", "message"
    if not isinstance(message.get("token"), str):
        return "Invalid value at 'message.token' (TYPE_STRING)", "message.token"
    notification = message.get("notification", {})
    if not isinstance(notification, dict):
        return "Invalid value at 'message.notification' (type.googleapis.com/google.firebase.fcm.v1.Notification)", (
            "message.notification"
        )
    for key, value in notification.items():
        if key not in NOTIFICATION_FIELDS:
            return (
                f"Invalid JSON payload received. Unknown name \"{key}\" at 'message.notification': Cannot find field.",
                f"message.notification.{key}",
            )
        if not isinstance(value, str):
            return f"Invalid value at 'message.notification.{key}' (TYPE_STRING), {value}", (
                f"message.notification.{key}"
            )
    data = message.get("data", {})
    if not isinstance(data, dict):
        return "Invalid value at 'message.data' (type.googleapis.com/google.protobuf.Struct)", "message.data"
    for index, (key, value) in enumerate(data.items()):
        if not isinstance(value, str):
            return f"Invalid value at 'message.data[{index}].value' (TYPE_STRING), {json.dumps(value)}", (
                f"message.data[{index}].value"
            )
        if key.lower() in RESERVED_DATA_KEYS or key.lower().startswith("google"):
            return f"Invalid data payload key: {key}", f"message.data[{index}].key"
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _error(status: int, google_status: str, message: str, *, fcm_code: str = "", bad_field: str | None = None) -> Reply:
    details: list[dict[str, Any]] = []
    if fcm_code:
        details.append({"@type": FCM_ERROR, "errorCode": fcm_code})
    if bad_field is not None:
        details.append({"@type": BAD_REQUEST, "fieldViolations": [{"field": bad_field, "description": message}]})
    error: dict[str, Any] = {"code": status, "message": message, "status": google_status}
    if details:
        error["details"] = details
    return Reply(status, {"error": error})
