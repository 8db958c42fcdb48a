"""Status callbacks of the SMS and push providers, and the in-app inbox's read / dismiss endpoints.

    POST /callbacks/twilio                 Twilio status callback (form-encoded), X-Twilio-Signature checked
    POST /callbacks/push                   {message_id, event, occurred_at} or a list, bearer HERALD_CALLBACK_TOKEN
    GET  /inbox/{token}                    the profile's in-app messages (token: links.scoped_token("inbox", pid))
    POST /inbox/{token}/{message_id}/{read|dismissed|opened_link}

Callbacks become ``CHANNEL_EVENTS`` rows at once (they are small) and go through the same durable spool as the
Event Webhook: answered 2xx only once synced. A callback carries no id of its own, so ``event_id`` is a hash of
its natural key (provider, provider's message id, status, error code / time): a callback the provider posts again
gets the same ``event_id`` and the warehouse keeps one.

Push events are mapped to the channel vocabulary: ``received`` → ``delivered``; ``opened`` and ``dismissed`` keep
their names.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from herald.raw_schema import CHANNEL_EVENTS
from senders.inbox import Inbox, InboxError
from senders.providers.twilio import CALLBACK_PARAM
from senders.tracking.context import ServeContext
from senders.tracking.normalize import iso_time, unix_time
from senders.tracking.spool import Spool, SpoolError, json_line
from senders.tracking.webhooks import read_body

MAX_CALLBACK_BYTES = 256 << 10
MAX_PUSH_EVENTS = 1000
TWILIO_SIGNATURE_HEADER = "X-Twilio-Signature"
PUSH_EVENTS: Mapping[str, str] = {"received": "delivered", "opened": "opened", "dismissed": "dismissed"}


def twilio_signature(url: str, params: Sequence[tuple[str, str]], auth_token: str) -> str:
    """Twilio's request signature: base64 HMAC-SHA1, keyed by the auth token, of the full URL followed by every
    POST parameter's name and value, sorted by name (then value)."""
    payload = url + "".join(k + v for k, v in sorted(params))
    mac = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode("ascii")


def event_id(*parts: str) -> str:
    """A stable id from a callback's natural key (the same callback posted again gets the same id)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def twilio_row(params: Mapping[str, str], message_id: str | None, received_at: dt.datetime) -> dict[str, Any] | str:
    """The CHANNEL_EVENTS row of one Twilio status callback, or what is missing."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    if not sid or not status:
        return "MessageSid and MessageStatus are required"
    error_code = params.get("ErrorCode") or None
    return {
        "event_id": event_id("twilio", sid, status, error_code or ""),
        "provider": "twilio",
        "channel": "sms",
        "provider_message_id": sid,
        "message_id": message_id or None,
        "event": status,
        "error_code": error_code,
        "detail": params.get("ErrorMessage") or None,
        "occurred_at": _stamp(received_at),  # Twilio's callbacks carry no time of their own
    }


def push_row(item: Any) -> dict[str, Any] | str:
    """The CHANNEL_EVENTS row of one push callback item, or what is wrong with it."""
    if not isinstance(item, Mapping):
        return "each event must be a JSON object"
    message_id, kind, occurred = item.get("message_id"), item.get("event"), item.get("occurred_at")
    if not isinstance(message_id, str) or not message_id.strip():
        return "message_id is required"
    if kind not in PUSH_EVENTS:
        return f"event must be one of {', '.join(PUSH_EVENTS)}"
    if isinstance(occurred, str) and not occurred.strip().isdigit():
        try:
            at = iso_time(occurred)
        except ValueError:
            return "occurred_at must be an ISO 8601 time or unix seconds"
    else:
        parsed = unix_time(occurred)
        if parsed is None:
            return "occurred_at must be an ISO 8601 time or unix seconds"
        at = parsed
    stamp = _stamp(at)
    return {
        "event_id": event_id("fcm", message_id, str(kind), stamp),
        "provider": "fcm",
        "channel": "push",
        "provider_message_id": None,
        "message_id": message_id,
        "event": PUSH_EVENTS[str(kind)],
        "error_code": None,
        "detail": None,
        "occurred_at": stamp,
    }


def callback_routes(ctx: ServeContext) -> list[BaseRoute]:
    """The SMS and push callbacks and the inbox endpoints (they share the server's spool and inbox)."""

    async def twilio(request: Request) -> Response:
        log: dict[str, Any] = request.scope.setdefault("herald.log", {})
        if not ctx.twilio_auth_token:
            log["outcome"] = "not_configured"
            return _problem(503, "TWILIO_AUTH_TOKEN is not set")
        body = await _callback_body(request)
        if isinstance(body, Response):
            return body
        params = parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        query = request.scope.get("query_string", b"").decode("latin-1")
        # Twilio signs the URL it was given; behind a proxy that is the public URL, not what reached us.
        url = ctx.links.public_url + request.url.path + (f"?{query}" if query else "")
        expected = twilio_signature(url, params, ctx.twilio_auth_token)
        if not hmac.compare_digest(expected, request.headers.get(TWILIO_SIGNATURE_HEADER, "")):
            log["outcome"] = "bad_signature"
            return _problem(403, "bad signature")
        args = parse_qs(query)
        message_id = (args.get(CALLBACK_PARAM) or args.get("m") or [""])[0]
        row = twilio_row(dict(params), message_id, _now(ctx))
        if isinstance(row, str):
            log["outcome"] = "bad_body"
            return _problem(400, row)
        return await _spool(request, log, [row])

    async def push(request: Request) -> Response:
        log: dict[str, Any] = request.scope.setdefault("herald.log", {})
        if not ctx.callback_token:
            log["outcome"] = "not_configured"
            return _problem(503, "HERALD_CALLBACK_TOKEN is not set")
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), ctx.callback_token.encode()):
            log["outcome"] = "bad_token"
            return _problem(401, "bearer token required")
        body = await _callback_body(request)
        if isinstance(body, Response):
            return body
        try:
            payload = json.loads(body)
        except ValueError:
            return _problem(400, "body is not JSON")
        items = payload if isinstance(payload, list) else [payload]
        if not items or len(items) > MAX_PUSH_EVENTS:
            return _problem(400, f"between 1 and {MAX_PUSH_EVENTS} events per request")
        rows = []
        for index, item in enumerate(items):
            row = push_row(item)
            if isinstance(row, str):
                log["outcome"] = "bad_body"
                return _problem(400, f"event {index}: {row}")
            rows.append(row)
        return await _spool(request, log, rows)

    async def inbox_list(request: Request) -> Response:
        profile_id = ctx.links.verify_scoped("inbox", request.path_params["token"])
        if profile_id is None:
            return _problem(404, "no such inbox")
        inbox: Inbox = request.app.state.inbox
        messages = await run_in_threadpool(inbox.messages, profile_id, limit=200)
        return JSONResponse(
            [
                {
                    "message_id": m.message_id,
                    "title": m.title,
                    "text": m.text,
                    "html": m.html,
                    "data": dict(m.data),
                    "created_at": _iso(m.created_at),
                    "expires_at": _iso(m.expires_at) if m.expires_at else None,
                    "read": m.read,
                    "dismissed": m.dismissed,
                }
                for m in messages
            ]
        )

    async def inbox_event(request: Request) -> Response:
        profile_id = ctx.links.verify_scoped("inbox", request.path_params["token"])
        if profile_id is None:
            return _problem(404, "no such inbox")
        inbox: Inbox = request.app.state.inbox
        try:
            await run_in_threadpool(
                inbox.record, profile_id, request.path_params["message_id"], request.path_params["event"]
            )
        except InboxError:
            # One answer for "unknown" and "another profile's": nobody can probe other inboxes.
            return _problem(404, "no such message in this inbox")
        return Response(status_code=204)

    return [
        Route("/callbacks/twilio", twilio, methods=["POST"]),
        Route("/callbacks/push", push, methods=["POST"]),
        Route("/inbox/{token}", inbox_list, methods=["GET"]),
        Route("/inbox/{token}/{message_id}/{event}", inbox_event, methods=["POST"]),
    ]


async def _callback_body(request: Request) -> bytes | Response:
    """The whole body, or the answer when it cannot be had: the caller left, or it is over the limit."""
    try:
        body = await read_body(request, MAX_CALLBACK_BYTES)
    except ClientDisconnect:
        return Response(status_code=400)
    if body is None:
        return _problem(413, "callback too large")
    return body


async def _spool(request: Request, log: dict[str, Any], rows: list[dict[str, Any]]) -> Response:
    spool: Spool = request.app.state.spool
    try:
        await spool.append(CHANNEL_EVENTS, json_line(rows))
    except SpoolError:
        log["outcome"] = "spool_failed"
        return _problem(503, "events could not be stored; retry later")
    log["outcome"] = "spooled"
    log["events"] = len(rows)
    return Response(status_code=204)


def _now(ctx: ServeContext) -> dt.datetime:
    return dt.datetime.fromtimestamp(ctx.clock(), dt.UTC).replace(tzinfo=None)


def _stamp(at: dt.datetime) -> str:
    return at.isoformat(timespec="microseconds")


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status)
