"""``POST /webhooks/sendgrid``: SendGrid's Signed Event Webhook, verified, spooled durably, then acknowledged.

In order, each step before any work of the next:

1. size: ``Content-Length`` or the bytes read beyond ``MAX_BODY_BYTES`` → 413 (the body is not read on);
2. signature: ECDSA P-256 / SHA-256 of ``timestamp header + raw body bytes`` under the configured public key
   (``HERALD_SENDGRID_WEBHOOK_KEY``, base64 DER as SendGrid shows it), and a timestamp within the tolerance
   → 401 when the headers are missing or malformed, 403 when the signature or timestamp is wrong;
3. shape: UTF-8 JSON, an array of objects → else 400;
4. the raw body goes to the spool as one line and is synced (group commit) → 503 if that fails;
5. 200 only then. SendGrid retries anything else for up to 24 h, so no acknowledged event is ever lost and a
   refused batch comes back.

Events are normalized later, when the spool is compacted (``senders.tracking.spool``), by the same function
``herald ingest events`` uses. Events without ``event`` or ``timestamp`` are counted here in the log line and go
to the rejects file then; the rest of their batch is accepted. An event without ``sg_event_id`` (older payloads)
is kept under an id derived from its content.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from herald.raw_schema import ESP_EVENTS
from senders.errors import TrackingError
from senders.tracking.context import ServeContext
from senders.tracking.spool import Spool, SpoolError

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# SendGrid posts a batch every ~30 s or once it reaches ~768 KB; one large event can push a batch past that.
# Five times the threshold leaves room for that and for retried batches, and still bounds memory per request.
MAX_BODY_BYTES = 4 << 20
_ECDSA = ec.ECDSA(hashes.SHA256())


class WebhookKeyError(TrackingError):
    """The configured SendGrid verification key is not a base64 DER P-256 public key."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one signed request: ``status`` 0 when it is genuine, else the HTTP answer."""

    status: int
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass(frozen=True, slots=True)
class SignatureVerifier:
    """Checks SendGrid's signature and timestamp; equal when key, tolerance and clock are equal."""

    public_key: ec.EllipticCurvePublicKey = field(repr=False)
    tolerance_seconds: int = 300
    clock: Callable[[], float] = field(default=lambda: 0.0, repr=False)

    @classmethod
    def from_base64(cls, key: str, *, tolerance_seconds: int, clock: Callable[[], float]) -> SignatureVerifier:
        try:
            loaded = load_der_public_key(base64.b64decode(key.strip(), validate=True))
        except (ValueError, binascii.Error, TypeError) as exc:
            raise WebhookKeyError(
                "HERALD_SENDGRID_WEBHOOK_KEY is not a base64 DER public key (copy it from SendGrid's "
                "Event Webhook settings, 'Verification Key')"
            ) from exc
        if not isinstance(loaded, ec.EllipticCurvePublicKey) or loaded.curve.name != "secp256r1":
            raise WebhookKeyError("HERALD_SENDGRID_WEBHOOK_KEY is not an ECDSA P-256 public key")
        return cls(loaded, tolerance_seconds, clock)

    def check(self, signature: str | None, timestamp: str | None, body: bytes) -> Verdict:
        """Verify the raw body as received (before any parsing), then the timestamp's age."""
        if not signature or not timestamp:
            return Verdict(401, "missing signature headers")
        ts = timestamp.strip()
        if not ts.isascii() or not ts.isdigit():
            return Verdict(401, "malformed timestamp")
        try:
            der = base64.b64decode(signature.strip(), validate=True)
        except (binascii.Error, ValueError):
            return Verdict(401, "malformed signature")
        if not verify_signature(self.public_key, der, ts.encode(), body):
            return Verdict(403, "bad signature")
        if abs(self.clock() - int(ts)) > self.tolerance_seconds:
            return Verdict(403, "stale or future timestamp")
        return Verdict(0)


def verify_signature(key: ec.EllipticCurvePublicKey, signature_der: bytes, timestamp: bytes, body: bytes) -> bool:
    """SendGrid's scheme: ECDSA P-256 / SHA-256 over ``timestamp + body``, signature DER-encoded."""
    try:
        key.verify(signature_der, timestamp + body, _ECDSA)
    except (InvalidSignature, ValueError):
        return False
    return True


def verifier_for(ctx: ServeContext) -> SignatureVerifier | None:
    """The context's verifier, or None when no key is configured (the server then refuses to start unless
    unsigned webhooks were explicitly allowed)."""
    if not ctx.sendgrid_webhook_key.strip():
        return None
    return SignatureVerifier.from_base64(
        ctx.sendgrid_webhook_key, tolerance_seconds=ctx.webhook_tolerance_seconds, clock=ctx.clock
    )


def parse_batch(body: bytes) -> list[dict[str, Any]] | str:
    """The events of a webhook body, or why it is not a JSON array of objects."""
    try:
        body.decode("utf-8")  # orjson would say "str is not valid UTF-8" without saying it is the body
        events = orjson.loads(body)  # a fifth of json.loads's time on a 1,000-event post
    except UnicodeDecodeError:
        return "body is not UTF-8"
    except ValueError as exc:
        return f"body is not JSON ({exc.msg} at {exc.pos})" if isinstance(exc, json.JSONDecodeError) else str(exc)
    if not isinstance(events, list):
        return "body is not a JSON array"
    if not all(isinstance(e, dict) for e in events):
        return "body holds something other than JSON objects"
    return events


def spool_line(body: bytes) -> bytes:
    """The body as one spool line. A raw line break in valid JSON can only be whitespace between tokens (inside
    strings it must be escaped), so replacing it with a space keeps the same JSON value, byte for byte otherwise."""
    line = body.strip()
    return line.replace(b"\r", b" ").replace(b"\n", b" ") if b"\n" in line or b"\r" in line else line


async def read_body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None once it is known to exceed ``limit`` (the rest is not read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def webhook_routes(ctx: ServeContext) -> list[BaseRoute]:
    """``POST /webhooks/sendgrid`` (the server's state holds the spool and whether unsigned posts are allowed)."""
    verifier = verifier_for(ctx)

    async def sendgrid(request: Request) -> Response:
        log: dict[str, Any] = request.scope.setdefault("herald.log", {})
        state = request.app.state
        try:
            body = await read_body(request, state.max_webhook_bytes)
        except ClientDisconnect:
            log["outcome"] = "client_disconnected"
            return Response(status_code=400)  # nobody is listening; nothing was written
        if body is None:
            log["outcome"] = "too_large"
            return _problem(413, f"body over {state.max_webhook_bytes} bytes")
        log["bytes"] = len(body)
        if verifier is not None:
            verdict = verifier.check(request.headers.get(SIGNATURE_HEADER), request.headers.get(TIMESTAMP_HEADER), body)
            if not verdict.ok:
                log["outcome"] = verdict.reason.replace(" ", "_")
                return _problem(verdict.status, verdict.reason)
        elif not state.insecure_unsigned_webhook:  # never reached: create_app refuses to start
            return _problem(503, "no webhook verification key configured")
        events = parse_batch(body)
        if isinstance(events, str):
            log["outcome"] = "bad_body"
            return _problem(400, events)
        log["events"] = len(events)
        incomplete = sum(1 for e in events if not (e.get("event") and e.get("timestamp")))
        if incomplete:
            log["incomplete_events"] = incomplete  # accepted; they go to the rejects file at compaction
        if events:
            spool: Spool = state.spool
            try:
                await spool.append(ESP_EVENTS, spool_line(body))
            except SpoolError:
                log["outcome"] = "spool_failed"
                return _problem(503, "events could not be stored; retry later")
        log["outcome"] = "spooled"
        return Response(status_code=200)

    return [Route("/webhooks/sendgrid", sendgrid, methods=["POST"])]


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)
