"""A strict local SendGrid: v3 Mail Send and the Email Activity lookup, for tests and benchmarks.

``FakeSendGrid`` answers ``POST /v3/mail/send`` the way the live API does for the rules it documents, and refuses
what the live API refuses. A request body is checked against the official JSON Schema
(``shared/contracts/sendgrid/mail_send.schema.json``) and against every limit the docs state only in prose
(``mail_send.limits.md``); a refusal is a 400 listing every problem, each with the dotted path of its field::

    {"errors": [{"message": "...", "field": "personalizations.3.to.0.email", "help": "..."}]}

``field`` is ``null`` only for a problem with the body as a whole (not JSON, not an object, too large).

Limits enforced in code (a schema cannot say them), besides the schema's own:

- at most 1,000 recipients (to + cc + bcc) over all personalizations; one address (case-insensitive) once per request;
- ``custom_args``: the message-level object merged with each personalization's (the personalization wins) must
  serialise (compact JSON, UTF-8) to fewer than 10,000 bytes, and every value must be a string; the message-level
  ``custom_args`` must be an object;
- ``substitutions``: at most 10,000 bytes (compact JSON, UTF-8) per personalization, and none with a dynamic
  template (``template_id`` starting ``d-``);
- ``send_at`` (message or personalization) at most 72 hours ahead;
- ``categories``: at most 10, each at most 255 characters, no repeats;
- ``reply_to`` and ``reply_to_list`` not both;
- no ``;`` or ``,`` in a to/cc/bcc ``name``; only ASCII in ``from`` (email and name, message or personalization);
- ``headers`` (message or personalization) hold string values and may not set x-sg-id, x-sg-eid, received,
  dkim-signature, Content-Type, Content-Transfer-Encoding, To, From, Subject, Reply-To, CC or BCC (any case);
- a subject unless a ``template_id`` is given or every personalization has one; ``content`` unless a
  ``template_id`` is given; ``text/plain`` content first, then ``text/html``, then any other type;
- the whole body under 30,000,000 bytes (else 413).

An accepted request is answered 202 with an empty body and an ``X-Message-Id`` header, and each personalization is
recorded as one ``SentMessage`` under its ``custom_args["message_id"]`` (message-level and personalization-level
custom args merged): ``deliveries(id)``, ``duplicates()`` and ``accepted_ids()`` tell a test whether anything was
sent twice. Recording happens before the answer, so the base class's ``accept_drop`` fault records the messages and
then drops the connection, exactly as a send whose answer was lost. ``mail_settings.sandbox_mode.enable`` requests
are validated in full, answered 200, counted, and record nothing.

``GET /v3/messages?query=...&limit=N`` answers from the recorded messages in SendGrid's Email Activity query
language, one row per ``to`` address, most recent first, e.g.::

    unique_args['run_id']="r-1" AND unique_args['message_id'] IN ("m-1", "m-2")

Fields: ``msg_id``, ``from_email``, ``to_email``, ``subject``, ``status``, ``categories`` and
``unique_args['<name>']`` (the custom args); operators ``=``, ``!=``, ``IN (...)``, ``NOT IN (...)``, ``AND``,
``OR``, ``NOT`` and parentheses; strings in double quotes with ``\\`` escapes. ``query`` is required and ``limit``
is 1 to 1,000 (as the contract says); anything else is a 400 ``{"errors": [{"message": "invalid syntax: ..."}]}``
(the documented error shape). Rows have exactly the documented shape of the list (``from_email, msg_id, subject,
to_email, status, opens_count, clicks_count, last_event_time``): the custom args can be filtered on, never read
back, as on the live API. ``activity_lag`` (seconds) hides a message from the Activity API for that long after it
was recorded, as the live feed lags the send.

Driving a separate process: ``GET /_fake/stats`` and ``POST /_fake/faults`` (``{"inject": [...], "storm": {"rate":
0.2, "kinds": [...]}, "latency": 0.1}``) bypass latency and faults and need no key::

    python -m tests.fakes.sendgrid --port 0 --latency 0.1 --api-key KEY   # prints "listening on http://127.0.0.1:PORT"

Speed: the schema is checked first by a closure tree compiled from it that can only say "valid" when the
``jsonschema`` validator would (it answers "not sure" for anything it does not model exactly); only then, or for an
invalid body, does the ``jsonschema`` validator run, so a refusal still lists every schema problem.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import re
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from tests.fakes.base import FAULTS, FakeProvider, Reply

DEFAULT_SCHEMA = Path(__file__).resolve().parents[2].parent / "shared/contracts/sendgrid/mail_send.schema.json"

MAIL_SEND = "/v3/mail/send"
MESSAGES = "/v3/messages"
CONTROL = "/_fake/"

MAX_BODY_BYTES = 30_000_000
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000  # strictly fewer
MAX_SUBSTITUTIONS_BYTES = 10_000  # at most
MAX_SCHEDULE_AHEAD = 72 * 3600
MAX_CATEGORIES = 10
MAX_CATEGORY_CHARS = 255
FORBIDDEN_HEADERS = frozenset(
    h.lower()
    for h in (
        "x-sg-id",
        "x-sg-eid",
        "received",
        "dkim-signature",
        "Content-Type",
        "Content-Transfer-Encoding",
        "To",
        "From",
        "Subject",
        "Reply-To",
        "CC",
        "BCC",
    )
)
ERRORS_HELP = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors"
ACTIVITY_MAX_LIMIT = 1000


# ---------------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class SentMessage:
    """One personalization of an accepted request: what the recipients would receive."""

    message_id: str  # custom_args["message_id"], or a generated id when absent
    msg_id: str  # the Email Activity id of this message
    x_message_id: str  # the X-Message-Id of the request that carried it
    seq: int  # order of recording, from 0
    from_email: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    subject: str | None  # after substitutions
    text: str | None  # text/plain content after substitutions (None if absent or content not kept)
    html: str | None  # text/html content after substitutions
    headers: Mapping[str, str] = field(hash=False)
    categories: tuple[str, ...] = ()
    custom_args: Mapping[str, str] = field(default_factory=dict, hash=False)
    send_at: int | None = None
    received_at: float = 0.0


@dataclass(frozen=True)
class RequestRecord:
    """One request that reached the API (faults served by the base class never do)."""

    method: str
    path: str
    status: int
    problems: tuple[dict[str, Any], ...]  # the errors answered for a refused body, else ()
    body: Any  # the parsed JSON body, or None (not JSON, no body, or not kept)
    at: float


# ---------------------------------------------------------------------------------------------------- the fake


class FakeSendGrid(FakeProvider):
    """A strict SendGrid v3 server: ``with FakeSendGrid(api_key="k") as fake: ... fake.url ...``.

    ``keep_content=False`` records no text/html bodies and ``log_bodies=False`` keeps the parsed body only of
    refused requests: both keep the memory flat when millions of messages go through it."""

    def __init__(
        self,
        *,
        api_key: str,
        latency: float = 0.0,
        schema_path: Path | None = None,
        keep_content: bool = True,
        log_bodies: bool = True,
        activity_lag: float = 0.0,
        **kw: Any,
    ) -> None:
        super().__init__(latency=latency, **kw)
        self.api_key = api_key
        self.activity_lag = activity_lag  # seconds before a recorded message shows in Email Activity
        self.keep_content = keep_content
        self.log_bodies = log_bodies
        self.schema_path = Path(schema_path).resolve() if schema_path is not None else DEFAULT_SCHEMA
        self.schema, self.validator, self._quick_valid = _validators(self.schema_path)
        self.messages: dict[str, list[SentMessage]] = {}
        self.sent: list[SentMessage] = []  # every recorded message, in order
        self.request_log: list[RequestRecord] = []
        self.accepted_requests = 0
        self.sandbox_requests = 0
        self.missing_message_id = 0
        self.duplicate_deliveries = 0  # deliveries beyond the first, over all ids
        self._duplicate_ids: set[str] = set()
        self._substituters: dict[tuple[str, ...], re.Pattern[str]] = {}

    # ------------------------------------------------------------------ questions tests ask

    def deliveries(self, message_id: str) -> int:
        """How many times a message with this id was accepted (0 if never)."""
        with self.lock:
            return len(self.messages.get(message_id, ()))

    def duplicates(self) -> dict[str, int]:
        """Ids accepted more than once, with their delivery counts."""
        with self.lock:
            return {mid: len(self.messages[mid]) for mid in self._duplicate_ids}

    def accepted_ids(self) -> set[str]:
        with self.lock:
            return set(self.messages)

    def invalid_requests(self) -> list[RequestRecord]:
        """Requests refused for their body (400 or 413), in order."""
        with self.lock:
            return [r for r in self.request_log if r.problems]

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "accepted_requests": self.accepted_requests,
                "sandbox_requests": self.sandbox_requests,
                "messages": len(self.sent),
                "distinct_message_ids": len(self.messages),
                "duplicates": len(self._duplicate_ids),
                "duplicate_deliveries": self.duplicate_deliveries,
                "missing_message_id": self.missing_message_id,
                "invalid_requests": sum(1 for r in self.request_log if r.problems),
                "faults_served": dict(self.faults_served),
            }

    # ------------------------------------------------------------------ validation

    def validate(self, body: Any) -> list[dict[str, Any]]:
        """Every problem with a parsed request body, as SendGrid error objects; [] when it would be accepted."""
        problems = [] if self._quick_valid(body) else self._schema_problems(body)
        seen = {p["field"] for p in problems}
        problems.extend(p for p in _rule_problems(body, time.time()) if p["field"] not in seen)
        return problems

    def _schema_problems(self, body: Any) -> list[dict[str, Any]]:
        return [_schema_problem(e) for e in self.validator.iter_errors(body)]

    # ------------------------------------------------------------------ serving

    def start(self, port: int = 0) -> Self:
        """Start serving; requests under ``/_fake/`` skip latency, faults and the request counter."""
        super().start(port)
        assert self._server is not None
        fake = self
        provider_handler: Any = self._server.RequestHandlerClass

        def serve(handler: Any) -> None:
            if not handler.path.startswith(CONTROL):
                provider_handler._serve(handler)
                return
            length = int(handler.headers.get("Content-Length") or 0)
            body = handler.rfile.read(length) if length else b""
            handler._reply(fake.handle(handler.command, handler.path, dict(handler.headers.items()), body))

        methods = {f"do_{m}": serve for m in ("GET", "POST", "PUT", "PATCH", "DELETE")}
        self._server.RequestHandlerClass = type("FakeSendGridHandler", (provider_handler,), methods)
        return self

    def stop(self) -> None:
        """Stop serving, without waiting out the serving loop's half-second poll: connections poke it awake."""
        server = self._server
        if server is None:
            return
        host, port = server.server_address[:2]
        stopper = threading.Thread(target=server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError), socket.create_connection((str(host), int(port)), timeout=0.5):
                pass
            stopper.join(0.02)
        server.server_close()
        self._server = None

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        route = urlsplit(path).path.rstrip("/") or "/"
        if path.startswith(CONTROL):
            return self._control(method, route, body)
        if route == MAIL_SEND:
            if method != "POST":
                return self._log(method, path, Reply(405, _errors(None, "method not allowed")))
            if not self._authorized(headers):
                return self._log(method, path, self._unauthorized(headers))
            return self._mail_send(method, path, body)
        if route == MESSAGES:
            if method != "GET":
                return self._log(method, path, Reply(405, _errors(None, "method not allowed")))
            if not self._authorized(headers):
                return self._log(method, path, self._unauthorized(headers))
            return self._log(method, path, self._activity(path))
        return self._log(method, path, Reply(404, _errors(None, "resource not found")))

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        return _header(headers, "authorization") == f"Bearer {self.api_key}"

    @staticmethod
    def _unauthorized(headers: Mapping[str, str]) -> Reply:
        if _header(headers, "authorization") is None:
            return Reply(401, _errors(None, "authorization required"))
        return Reply(401, _errors(None, "The provided authorization grant is invalid, expired, or revoked"))

    def _log(
        self, method: str, path: str, reply: Reply, problems: Iterable[dict[str, Any]] = (), parsed: Any = None
    ) -> Reply:
        record = RequestRecord(method, path, reply.status, tuple(problems), parsed, time.time())
        with self.lock:
            self.request_log.append(record)
        return reply

    def _mail_send(self, method: str, path: str, raw: bytes) -> Reply:
        if len(raw) >= MAX_BODY_BYTES:
            problems = [_problem(None, f"The request body is {len(raw)} bytes; it must be under 30 MB.")]
            return self._log(method, path, Reply(413, {"errors": problems}), problems)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            problems = [_problem(None, "Bad Request: the request body is not valid JSON.")]
            return self._log(method, path, Reply(400, {"errors": problems}), problems)
        problems = self.validate(body)
        if problems:
            return self._log(method, path, Reply(400, {"errors": problems}), problems, body)
        kept = body if self.log_bodies else None
        if ((body.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable") is True:
            with self.lock:
                self.sandbox_requests += 1
            return self._log(method, path, Reply(200), (), kept)
        x_message_id = secrets.token_urlsafe(16)  # 22 characters, like SendGrid's
        self._record(body, x_message_id)
        return self._log(method, path, Reply(202, None, {"X-Message-Id": x_message_id}), (), kept)

    # ------------------------------------------------------------------ recording

    def _record(self, body: dict[str, Any], x_message_id: str) -> None:
        now = time.time()
        top_ca: dict[str, str] = body.get("custom_args") or {}
        top_headers: Mapping[str, str] = MappingProxyType(dict(body.get("headers") or {}))
        top_subject: str | None = body.get("subject")
        top_send_at: int | None = body.get("send_at")
        top_from: str = body["from"]["email"]
        parts = [(c["type"], c["value"]) for c in body.get("content") or ()] if self.keep_content else []
        plain = next((v for t, v in parts if t == "text/plain"), None)
        rich = next((v for t, v in parts if t == "text/html"), None)
        categories = tuple(body.get("categories") or ())
        built: list[SentMessage] = []
        generated = 0
        for i, p in enumerate(body["personalizations"]):
            own_ca = p.get("custom_args")
            custom_args = {**top_ca, **own_ca} if own_ca else dict(top_ca)
            message_id = custom_args.get("message_id")
            if message_id is None:
                message_id = f"generated-{secrets.token_hex(8)}"
                generated += 1
            subject = p.get("subject", top_subject)
            text, html = plain, rich
            subs = p.get("substitutions")
            if subs:
                replace = self._substituter(subs)
                subject = None if subject is None else replace(subject)
                text = None if text is None else replace(text)
                html = None if html is None else replace(html)
            own_headers = p.get("headers")
            sender = p.get("from")
            built.append(
                SentMessage(
                    message_id=message_id,
                    msg_id=f"{x_message_id}.filter{i:04d}.0",
                    x_message_id=x_message_id,
                    seq=-1,
                    from_email=sender["email"] if sender else top_from,
                    to=tuple([r["email"] for r in p["to"]]),
                    cc=tuple([r["email"] for r in p["cc"]]) if "cc" in p else (),
                    bcc=tuple([r["email"] for r in p["bcc"]]) if "bcc" in p else (),
                    subject=subject,
                    text=text,
                    html=html,
                    headers=MappingProxyType({**top_headers, **own_headers}) if own_headers else top_headers,
                    categories=categories,
                    custom_args=custom_args,
                    send_at=p.get("send_at", top_send_at),
                    received_at=now,
                )
            )
        with self.lock:
            for message in built:
                object.__setattr__(message, "seq", len(self.sent))  # numbered in the order recorded
                self.sent.append(message)
                got = self.messages.get(message.message_id)
                if got is None:
                    self.messages[message.message_id] = [message]
                else:
                    got.append(message)
                    self.duplicate_deliveries += 1
                    self._duplicate_ids.add(message.message_id)
            self.missing_message_id += generated
            self.accepted_requests += 1

    def _substituter(self, subs: Mapping[str, str]) -> Callable[[str], str]:
        """Replace every substitution key by its value, in one pass (longest key first where keys overlap)."""
        if not subs:
            return _same
        keys = tuple(subs)
        pattern = self._substituters.get(keys)
        if pattern is None:
            pattern = re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))
            if len(self._substituters) > 1024:
                self._substituters.clear()
            self._substituters[keys] = pattern

        def replace(value: str) -> str:
            return pattern.sub(lambda m: subs[m[0]], value)

        return replace

    # ------------------------------------------------------------------ Email Activity

    def _activity(self, path: str) -> Reply:
        params = parse_qs(urlsplit(path).query, keep_blank_values=True)
        raw_limit = (params.get("limit") or ["10"])[0]
        try:
            limit = int(raw_limit)
        except ValueError:
            limit = 0
        if not 0 < limit <= ACTIVITY_MAX_LIMIT:
            return Reply(400, _activity_error(f"limit must be an integer from 1 to {ACTIVITY_MAX_LIMIT}"))
        query = (params.get("query") or [""])[0]
        if not query.strip():
            return Reply(400, _activity_error("invalid syntax: a query is required"))
        try:
            node = _parse_query(query)
        except QueryError as exc:
            return Reply(400, _activity_error(f"invalid syntax: {exc}"))
        predicate = _compile_query(node)
        wanted = _candidate_message_ids(node)
        visible_before = time.time() - self.activity_lag
        with self.lock:
            if wanted is None:
                pool: Iterable[SentMessage] = reversed(self.sent)
            else:
                found = [m for mid in wanted for m in self.messages.get(mid, ())]
                pool = sorted(found, key=lambda m: m.seq, reverse=True)
            rows = []
            for message in pool:
                if message.received_at > visible_before:
                    continue
                for view, row in _activity_rows(message):
                    if predicate(view):
                        rows.append(row)
                        if len(rows) >= limit:
                            break
                if len(rows) >= limit:
                    break
        return Reply(200, {"messages": rows})

    # ------------------------------------------------------------------ control plane

    def _control(self, method: str, route: str, raw: bytes) -> Reply:
        if route == "/_fake/stats" and method == "GET":
            return Reply(200, self.stats())
        if route == "/_fake/faults" and method == "POST":
            try:
                spec = json.loads(raw or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("expected a JSON object")
                latency = float(spec["latency"]) if "latency" in spec else None
                lag = float(spec["activity_lag"]) if "activity_lag" in spec else None
                storm = spec.get("storm")
                storm_rate = float(storm.get("rate", 0.0)) if storm else None
                storm_kinds = tuple(storm.get("kinds") or FAULTS) if storm else ()
                inject = list(spec.get("inject") or ())
                unknown = [k for k in (*storm_kinds, *inject) if k not in FAULTS]
                if unknown:
                    raise ValueError(f"unknown fault(s) {unknown}; known: {', '.join(FAULTS)}")
            except (ValueError, TypeError, AttributeError) as exc:
                return Reply(400, _errors(None, str(exc)))
            if latency is not None:
                self.latency = latency
            if lag is not None:
                self.activity_lag = lag
            if storm is not None:
                self.storm(storm_rate or 0.0, storm_kinds)
            if inject:
                self.inject(*inject)
            with self.lock:
                queued = list(self._queue)
            return Reply(
                200,
                {
                    "queued": queued,
                    "storm": {"rate": self.fault_rate, "kinds": list(self.fault_kinds)},
                    "latency": self.latency,
                    "activity_lag": self.activity_lag,
                },
            )
        return Reply(404, _errors(None, "resource not found"))


@functools.cache
def _validators(schema_path: Path) -> tuple[dict[str, Any], Draft202012Validator, Callable[[Any], bool]]:
    """The schema, its validator (formats enforced) and its quick check: built once per schema file."""
    schema = json.loads(schema_path.read_text())
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return schema, validator, _compile(schema, validator)


# ---------------------------------------------------------------------------------------------------- errors


def _problem(field_path: str | None, message: str) -> dict[str, Any]:
    anchor = field_path.split(".", 1)[0] if field_path else None
    return {"message": message, "field": field_path, "help": f"{ERRORS_HELP}#{anchor}" if anchor else None}


def _errors(field_path: str | None, message: str) -> dict[str, Any]:
    return {"errors": [_problem(field_path, message)]}


def _activity_error(message: str) -> dict[str, Any]:
    # The Email Activity API's documented 400: a list of errors, each only a message.
    return {"errors": [{"message": message}]}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for k, v in headers.items():
        if k.lower() == name:
            return v
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _schema_problem(error: ValidationError) -> dict[str, Any]:
    path = [str(p) for p in error.absolute_path]
    keyword = error.validator
    if keyword == "required":
        missing = [r for r in error.validator_value if isinstance(error.instance, dict) and r not in error.instance]
        name = next((r for r in missing if repr(r) in error.message), missing[0] if missing else "")
        return _problem(".".join([*path, name]), f"The {name} field is required.")
    if keyword == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        message = f"Invalid type. Expected: {expected}, given: {_json_type(error.instance)}."
    elif keyword == "not" and isinstance(error.validator_value, dict) and error.validator_value.get("required"):
        names = list(error.validator_value["required"])
        return _problem(".".join([*path, names[-1]]), f"{' and '.join(names)} may not be used together.")
    elif keyword in ("maxItems", "minItems"):
        size = len(error.instance) if isinstance(error.instance, list) else "?"
        bound = "at most" if keyword == "maxItems" else "at least"
        message = f"must have {bound} {error.validator_value} items; it has {size}."
        if path == ["personalizations"] and keyword == "maxItems":
            message = (
                "The personalization block is limited to 1000 personalizations per API request. "
                f"You have provided {size} personalizations."
            )
    elif keyword == "maxProperties":
        message = f"must have at most {error.validator_value} properties."
    else:
        message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
    return _problem(".".join(path) or None, message)


# ---------------------------------------------------------------------------------------------------- prose rules


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _size(value: Any) -> int:
    """Bytes of ``value`` as compact UTF-8 JSON."""
    return len(_COMPACT(value).encode())


def _surely_under(pairs: Mapping[str, Any], limit: int) -> bool:
    """True when a dict of strings certainly serialises under ``limit`` bytes (each character takes at most 6
    bytes, escaped), so most bodies skip the exact measure."""
    n = 2
    for k, v in pairs.items():
        if not isinstance(v, str):
            return False
        n += 6 * (len(k) + len(v)) + 6
    return n < limit


def _rule_problems(body: Any, now: float) -> Iterator[dict[str, Any]]:
    """The documented limits a JSON Schema cannot express (and a few it can, so a looser schema still holds)."""
    if not isinstance(body, dict):
        yield _problem(None, f"Invalid type. Expected: object, given: {_json_type(body)}.")
        return
    template_id = body.get("template_id")
    has_template = isinstance(template_id, str) and bool(template_id)
    dynamic = isinstance(template_id, str) and template_id.startswith("d-")
    latest = now + MAX_SCHEDULE_AHEAD

    top_ca = body.get("custom_args")
    if "custom_args" in body and not isinstance(top_ca, dict):
        yield _problem("custom_args", f"Invalid type. Expected: object, given: {_json_type(top_ca)}.")
    if not isinstance(top_ca, dict):
        top_ca = {}
    for key, value in top_ca.items():
        if not isinstance(value, str):
            yield _problem(f"custom_args.{key}", f"Invalid type. Expected: string, given: {_json_type(value)}.")
    top_ca_size = 0 if _surely_under(top_ca, MAX_CUSTOM_ARGS_BYTES) else _size(top_ca)
    if top_ca_size >= MAX_CUSTOM_ARGS_BYTES:
        yield _problem("custom_args", f"custom_args must total less than 10,000 bytes; these take {top_ca_size}.")

    yield from _from_problems("from", body.get("from"))
    yield from _header_problems("headers", body.get("headers"))
    yield from _send_at_problems("send_at", body.get("send_at"), latest)

    if "reply_to" in body and "reply_to_list" in body:
        yield _problem("reply_to_list", "reply_to and reply_to_list may not be used together.")

    categories = body.get("categories")
    if isinstance(categories, list):
        if len(categories) > MAX_CATEGORIES:
            yield _problem("categories", f"A message may have at most 10 categories; it has {len(categories)}.")
        seen_categories: set[str] = set()
        for k, category in enumerate(categories):
            if not isinstance(category, str):
                yield _problem(f"categories.{k}", f"Invalid type. Expected: string, given: {_json_type(category)}.")
            elif len(category) > MAX_CATEGORY_CHARS:
                yield _problem(f"categories.{k}", f"A category may be at most 255 characters; it has {len(category)}.")
            elif category in seen_categories:
                yield _problem(f"categories.{k}", f"The category {category!r} is repeated; categories must be unique.")
            else:
                seen_categories.add(category)

    content = body.get("content")
    if isinstance(content, list) and content:
        types = [c.get("type") if isinstance(c, dict) else None for c in content]
        for k, kind in enumerate(types):
            if kind == "text/plain" and k != 0:
                yield _problem(f"content.{k}.type", "text/plain content must come first, before any other content.")
            elif kind == "text/html" and k != (1 if types[0] == "text/plain" else 0):
                yield _problem(
                    f"content.{k}.type", "text/html content must come first, or right after text/plain content."
                )
    elif not has_template and not content:
        yield _problem(
            "content",
            "Unless a valid template_id is provided, the content parameter is required. There must be at least one "
            "defined content block.",
        )

    personalizations = body.get("personalizations")
    if not isinstance(personalizations, list):
        return
    recipients = 0
    first_seen: dict[str, str] = {}
    every_subject = True
    for i, p in enumerate(personalizations):
        if not isinstance(p, dict):
            continue
        at = f"personalizations.{i}"
        if not p.get("subject"):
            every_subject = False
        for kind in ("to", "cc", "bcc"):
            people = p.get(kind)
            if not isinstance(people, list):
                continue
            recipients += len(people)
            for j, person in enumerate(people):
                if not isinstance(person, dict):
                    continue
                email = person.get("email")
                if isinstance(email, str):
                    folded = email.lower()
                    first = first_seen.get(folded)
                    if first is None:
                        first_seen[folded] = f"{at}.{kind}"
                    else:
                        yield _problem(
                            f"{at}.{kind}.{j}.email",
                            "Each email address in the personalization block should be unique between to, cc, and "
                            f"bcc. We found the first duplicate instance of [{email}] in the {at}.{kind} field "
                            f"(first seen in {first}).",
                        )
                name = person.get("name")
                if isinstance(name, str) and (";" in name or "," in name):
                    yield _problem(f"{at}.{kind}.{j}.name", "A recipient name may not contain ';' or ','.")
        if "from" in p:
            yield from _from_problems(f"{at}.from", p.get("from"))
        if "headers" in p:
            yield from _header_problems(f"{at}.headers", p.get("headers"))
        if "send_at" in p:
            yield from _send_at_problems(f"{at}.send_at", p.get("send_at"), latest)
        ca = p.get("custom_args")
        if isinstance(ca, dict) and ca:
            for key, value in ca.items():
                if not isinstance(value, str):
                    yield _problem(
                        f"{at}.custom_args.{key}", f"Invalid type. Expected: string, given: {_json_type(value)}."
                    )
            merged = {**top_ca, **ca}
            merged_size = 0 if _surely_under(merged, MAX_CUSTOM_ARGS_BYTES) else _size(merged)
            if merged_size >= MAX_CUSTOM_ARGS_BYTES:
                yield _problem(
                    f"{at}.custom_args",
                    "custom_args (message level merged with this personalization's) must total less than 10,000 "
                    f"bytes; these take {merged_size}.",
                )
        subs = p.get("substitutions")
        if isinstance(subs, dict) and subs:
            if dynamic:
                yield _problem(f"{at}.substitutions", "Substitutions may not be used with dynamic templating.")
            subs_size = 0 if _surely_under(subs, MAX_SUBSTITUTIONS_BYTES + 1) else _size(subs)
            if subs_size > MAX_SUBSTITUTIONS_BYTES:
                yield _problem(
                    f"{at}.substitutions",
                    f"substitutions may total at most 10,000 bytes per personalization; these take {subs_size}.",
                )
    if recipients > MAX_RECIPIENTS:
        yield _problem(
            "personalizations",
            f"There is a limit of 1000 total recipients (to + cc + bcc) per request. You have provided {recipients}.",
        )
    if not has_template and not every_subject and not body.get("subject"):
        yield _problem(
            "subject",
            "The subject is required. You can get around this requirement if you use a template with a subject "
            "defined or if every personalization has a subject defined.",
        )


def _from_problems(at: str, sender: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(sender, dict):
        return
    for key in ("email", "name"):
        value = sender.get(key)
        if isinstance(value, str) and not value.isascii():
            yield _problem(f"{at}.{key}", "Unicode is not supported in the from field.")


def _header_problems(at: str, headers: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(headers, dict):
        return
    for name, value in headers.items():
        if name.lower() in FORBIDDEN_HEADERS:
            yield _problem(f"{at}.{name}", f"The header {name!r} is reserved and may not be set.")
        elif not isinstance(value, str):
            yield _problem(f"{at}.{name}", f"Invalid type. Expected: string, given: {_json_type(value)}.")


def _send_at_problems(at: str, send_at: Any, latest: float) -> Iterator[dict[str, Any]]:
    if isinstance(send_at, int) and not isinstance(send_at, bool) and send_at > latest:
        yield _problem(at, "A send cannot be scheduled more than 72 hours in advance.")


# ---------------------------------------------------------------------------------------------------- quick check


Check = Callable[[Any], bool]

# Keywords modelled exactly below; any other jsonschema keyword makes its whole subschema go to jsonschema itself.
_MODELLED = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minProperties",
        "maxProperties",
        "enum",
        "const",
        "not",
    }
)

_TYPES: dict[str, Check] = {
    "object": lambda x: isinstance(x, dict),
    "array": lambda x: isinstance(x, list),
    "string": lambda x: isinstance(x, str),
    "boolean": lambda x: isinstance(x, bool),
    "null": lambda x: x is None,
    # exact for JSON-parsed values; an integral float (1.0) answers "not sure" and goes to jsonschema
    "integer": lambda x: isinstance(x, int) and not isinstance(x, bool),
    "number": lambda x: isinstance(x, (int, float)) and not isinstance(x, bool),
}


def _compile(schema: Any, root: Draft202012Validator) -> Check:
    """A closure tree from ``schema`` that returns True only if ``root`` finds no error in the instance; False
    means "invalid or not sure" (the caller then runs ``root``). Exact for the keywords in ``_MODELLED``."""
    if schema is True:
        return _always
    if schema is False or not isinstance(schema, dict):
        return _never
    known = root.VALIDATORS
    if any(k in known and k not in _MODELLED for k in schema):
        exact: Check = root.evolve(schema=schema).is_valid
        return exact
    kind = schema.get("type")
    type_test: Check | None = None
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not all(k in _TYPES for k in kinds):
            return _never
        tests = [_TYPES[k] for k in kinds]
        type_test = tests[0] if len(tests) == 1 else (lambda x: any(t(x) for t in tests))
    general: list[Check] = []
    if "enum" in schema or "const" in schema:
        allowed = [a for a in (schema["enum"] if "enum" in schema else [schema["const"]]) if not _is_container(a)]
        general.append(lambda x: any(type(a) is type(x) and a == x for a in allowed))
    if "not" in schema:
        inner = root.evolve(schema=schema["not"])  # exact: a "not sure" inside would flip to a wrong "valid"
        general.append(lambda x: not inner.is_valid(x))
    if "format" in schema and root.format_checker is not None:
        conforms, fmt = root.format_checker.conforms, schema["format"]
        general.append(lambda x: conforms(x, fmt))
    on_str = tuple(_string_checks(schema))
    on_list = tuple(_array_checks(schema, root))
    on_dict = tuple(_object_checks(schema, root))
    every = tuple(general)

    def check(x: Any) -> bool:
        if type_test is not None and not type_test(x):
            return False
        if isinstance(x, dict):
            for c in on_dict:
                if not c(x):
                    return False
        elif isinstance(x, str):
            for c in on_str:
                if not c(x):
                    return False
        elif isinstance(x, list):
            for c in on_list:
                if not c(x):
                    return False
        for c in every:  # noqa: SIM110 - a plain loop is the fastest form here
            if not c(x):
                return False
        return True

    if not (on_dict or on_str or on_list or every):
        return type_test or _always
    return check


def _is_container(value: Any) -> bool:
    return isinstance(value, dict | list)


def _string_checks(schema: dict[str, Any]) -> Iterator[Check]:
    """Checks on a string instance."""
    if "minLength" in schema:
        low = schema["minLength"]
        yield lambda x: len(x) >= low
    if "maxLength" in schema:
        high = schema["maxLength"]
        yield lambda x: len(x) <= high
    if "pattern" in schema:
        search = re.compile(schema["pattern"]).search
        yield lambda x: search(x) is not None


def _array_checks(schema: dict[str, Any], root: Draft202012Validator) -> Iterator[Check]:
    """Checks on a list instance."""
    if "minItems" in schema:
        low = schema["minItems"]
        yield lambda x: len(x) >= low
    if "maxItems" in schema:
        high = schema["maxItems"]
        yield lambda x: len(x) <= high
    if schema.get("uniqueItems") is True:
        yield lambda x: all(isinstance(i, str) for i in x) and len(set(x)) == len(x)
    if "items" in schema:
        item = _compile(schema["items"], root)
        if item is not _always:

            def each(x: list[Any]) -> bool:
                for i in x:  # noqa: SIM110 - a plain loop is the fastest form here
                    if not item(i):
                        return False
                return True

            yield each


def _object_checks(schema: dict[str, Any], root: Draft202012Validator) -> Iterator[Check]:
    """Checks on a dict instance."""
    if "required" in schema:
        needed = tuple(schema["required"])

        def has_all(x: dict[str, Any]) -> bool:
            for k in needed:  # noqa: SIM110 - a plain loop is the fastest form here
                if k not in x:
                    return False
            return True

        yield has_all
    if "minProperties" in schema:
        low = schema["minProperties"]
        yield lambda x: len(x) >= low
    if "maxProperties" in schema:
        high = schema["maxProperties"]
        yield lambda x: len(x) <= high
    props = {k: _compile(s, root) for k, s in (schema.get("properties") or {}).items()}
    pairs = tuple((k, c) for k, c in props.items() if c is not _always)
    if pairs:

        def properties(x: dict[str, Any]) -> bool:
            for k, c in pairs:  # noqa: SIM110 - a plain loop is the fastest form here
                if k in x and not c(x[k]):
                    return False
            return True

        yield properties
    if "additionalProperties" in schema:
        extra = _compile(schema["additionalProperties"], root)
        named = frozenset(props)
        if extra is not _always:

            def others(x: dict[str, Any]) -> bool:
                for k, v in x.items():  # noqa: SIM110 - a plain loop is the fastest form here
                    if k not in named and not extra(v):
                        return False
                return True

            yield others


def _always(_: Any) -> bool:
    return True


def _never(_: Any) -> bool:
    return False


def _same(value: str) -> str:
    return value


# ---------------------------------------------------------------------------------------------------- activity query


class QueryError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<key>\[\s*(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")\s*\])
      | (?P<op>!=|=)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_FIELDS = frozenset({"msg_id", "from_email", "to_email", "subject", "status", "categories"})


def _unquote(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1])


def _tokens(query: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos, end = 0, len(query.rstrip())
    while pos < end:
        m = _TOKEN.match(query, pos)
        if m is None or m.end() == pos:
            raise QueryError(f"unexpected text at {pos}: {query[pos : pos + 20]!r}")
        kind = m.lastgroup or ""
        text = m.group(kind)
        if kind == "word" and text.upper() in ("AND", "OR", "NOT", "IN"):
            out.append((text.upper(), text))
        elif kind == "key":
            out.append(("key", _unquote(text.strip("[] \t"))))
        elif kind == "string":
            out.append(("string", _unquote(text)))
        else:
            out.append((text if kind in ("op", "punct") else kind, text))
        pos = m.end()
    return out


def _parse_query(query: str) -> tuple[Any, ...]:
    """Parse an Email Activity query into a tree: ("or"|"and", [nodes]), ("not", node), ("cmp", field, key,
    op, values) with op "=", "!=", "in" or "not in"."""
    tokens = _tokens(query)
    pos = 0

    def peek() -> str | None:
        return tokens[pos][0] if pos < len(tokens) else None

    def take(kind: str) -> str:
        nonlocal pos
        if peek() != kind:
            got = tokens[pos][1] if pos < len(tokens) else "the end"
            raise QueryError(f"expected {kind} but found {got!r}")
        pos += 1
        return tokens[pos - 1][1]

    def disjunction() -> tuple[Any, ...]:
        nodes = [conjunction()]
        while peek() == "OR":
            take("OR")
            nodes.append(conjunction())
        return nodes[0] if len(nodes) == 1 else ("or", nodes)

    def conjunction() -> tuple[Any, ...]:
        nodes = [unary()]
        while peek() == "AND":
            take("AND")
            nodes.append(unary())
        return nodes[0] if len(nodes) == 1 else ("and", nodes)

    def unary() -> tuple[Any, ...]:
        if peek() == "NOT":
            take("NOT")
            return ("not", unary())
        if peek() == "(":
            take("(")
            node = disjunction()
            take(")")
            return node
        return comparison()

    def comparison() -> tuple[Any, ...]:
        name = take("word")
        key = None
        if name == "unique_args":
            if peek() != "key":
                raise QueryError("unique_args needs a name: unique_args['name']=\"value\"")
            key = take("key")
        elif name not in _FIELDS:
            raise QueryError(f"unsupported field {name!r}")
        if peek() in ("=", "!="):
            op = take(peek() or "")
            return ("cmp", name, key, op, (take("string"),))
        negated = peek() == "NOT"
        if negated:
            take("NOT")
        take("IN")
        take("(")
        values = [take("string")]
        while peek() == ",":
            take(",")
            values.append(take("string"))
        take(")")
        return ("cmp", name, key, "not in" if negated else "in", tuple(values))

    node = disjunction()
    if pos != len(tokens):
        raise QueryError(f"unexpected {tokens[pos][1]!r}")
    return node


def _compile_query(node: tuple[Any, ...]) -> Callable[[dict[str, Any]], bool]:
    tag = node[0]
    if tag in ("or", "and"):
        parts = [_compile_query(n) for n in node[1]]
        return (lambda row: any(p(row) for p in parts)) if tag == "or" else (lambda row: all(p(row) for p in parts))
    if tag == "not":
        inner = _compile_query(node[1])
        return lambda row: not inner(row)
    _, name, key, op, values = node
    wanted = frozenset(values)

    def value_of(row: dict[str, Any]) -> list[Any]:
        if key is not None:
            got = row["unique_args"].get(key)
            return [] if got is None else [got]
        got = row.get(name)
        return list(got) if isinstance(got, list) else [got]

    if op in ("=", "in"):
        return lambda row: any(v in wanted for v in value_of(row))
    return lambda row: not any(v in wanted for v in value_of(row))


def _candidate_message_ids(node: tuple[Any, ...]) -> set[str] | None:
    """The ``unique_args['message_id']`` values a match must have, when the query pins them (None: scan all)."""
    tag = node[0]
    if tag == "cmp":
        _, name, key, op, values = node
        return set(values) if name == "unique_args" and key == "message_id" and op in ("=", "in") else None
    if tag == "or":
        out: set[str] = set()
        for n in node[1]:
            got = _candidate_message_ids(n)
            if got is None:
                return None
            out |= got
        return out
    if tag == "and":
        pinned = [got for n in node[1] if (got := _candidate_message_ids(n)) is not None]
        return set.intersection(*pinned) if pinned else None
    return None


ACTIVITY_ROW_FIELDS = (
    "from_email",
    "msg_id",
    "subject",
    "to_email",
    "status",
    "opens_count",
    "clicks_count",
    "last_event_time",
)


def _activity_rows(message: SentMessage) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Per ``to`` address: what a query may filter on (the row plus categories and custom args), and the row as
    the API returns it (exactly the documented fields)."""
    when = datetime.fromtimestamp(message.received_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for to_email in message.to:
        row = {
            "from_email": message.from_email,
            "msg_id": message.msg_id,
            "subject": message.subject or "",
            "to_email": to_email,
            "status": "delivered",
            "opens_count": 0,
            "clicks_count": 0,
            "last_event_time": when,
        }
        yield {**row, "categories": list(message.categories), "unique_args": dict(message.custom_args)}, row


# ---------------------------------------------------------------------------------------------------- process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.sendgrid", description="A strict local SendGrid.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--schema", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lean", action="store_true", help="keep no message content and no accepted bodies")
    parser.add_argument("--activity-lag", type=float, default=0.0, help="seconds before Email Activity shows a send")
    args = parser.parse_args(argv)
    fake = FakeSendGrid(
        api_key=args.api_key,
        latency=args.latency,
        schema_path=args.schema,
        seed=args.seed,
        keep_content=not args.lean,
        log_bodies=not args.lean,
        activity_lag=args.activity_lag,
    ).start(args.port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    print(f"listening on {fake.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
