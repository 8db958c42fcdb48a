"""Provider events → raw rows: one pure function per shape, shared by the webhook, the spool and the CLI.

``sendgrid_row`` turns one SendGrid Event Webhook object into the columns of ``herald.raw_schema.ESP_EVENTS``;
``channel_row`` checks one already-shaped SMS / push callback row for ``CHANNEL_EVENTS``. Both return either a
row or a ``Reject`` (never raise on bad input), so a batch is accounted for event by event.

SendGrid's quirks, each handled here and tested in tests/tracking/test_webhooks.py:

- ``deferred.attempt`` is posted as a string ("5");
- bounce and blocked share ``event: "bounce"`` and differ in ``type``;
- ``category`` is a string or an array (kept as a JSON array either way);
- custom args arrive as top-level keys: ``message_id`` and ``run_id`` get their own columns, other keys that are
  not SendGrid's own go to ``custom_args`` (JSON, sorted keys); SendGrid's own keys always win, so a custom arg
  named like one (``email``, ``event``…) can never overwrite it;
- ``timestamp`` is unix seconds, but the docs also show milliseconds and a string: all three are read;
- ``sg_machine_open`` is a JSON boolean → 0 / 1; a deferral's text is in ``response``, not ``reason``.

Nothing is invented: the same event always gives the same row (no per-post ids, no receive time), so a batch
SendGrid posts three times lands three identical rows that the warehouse collapses on ``sg_event_id``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from herald.raw_schema import CHANNEL_EVENTS, ESP_EVENTS

ESP_COLUMNS = ESP_EVENTS.column_names
CHANNEL_COLUMNS = CHANNEL_EVENTS.column_names

# Keys SendGrid itself puts on an event (2021 field table, newer additions, Marketing Campaigns extras): never
# custom args, whatever the sender named its own args.
SENDGRID_KEYS = frozenset(
    {
        "email", "timestamp", "event", "smtp-id", "sg_event_id", "sg_message_id", "category", "asm_group_id",
        "unique_args", "reason", "status", "response", "attempt", "type", "tls", "cert_err", "ip", "useragent",
        "url", "url_offset", "pool", "bounce_classification", "sg_machine_open", "marketing_campaign_id",
        "marketing_campaign_name", "marketing_campaign_version", "marketing_campaign_split_id", "singlesend_id",
        "singlesend_name", "mc_stats", "mc_auto_timing", "phase_id", "send_at", "sg_template_id",
        "sg_template_name", "template_id", "template_version_id", "template_hash", "sg_content_type",
        "sg_user_id", "post_type", "newsletter", "ip_pool_name", "ip_pool_id", "account_status_change",
        "sg_machine_open_reason",
    }
)  # fmt: skip
_MS_THRESHOLD = 100_000_000_000  # a unix time above this (year 5138 in seconds) is in milliseconds
_EPOCH = dt.datetime(1970, 1, 1)

Row = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reject:
    """An event that could not become a row: where it was, why, and the event as posted. Equal field by field."""

    position: str  # e.g. "line 12" or "<segment>:3[17]" (line 3 of a spool segment, event 17 of its batch)
    reason: str
    event: Any

    def to_json(self) -> str:
        return json.dumps(
            {"position": self.position, "reason": self.reason, "event": self.event}, ensure_ascii=False, default=str
        )


def sendgrid_row(event: Any, position: str = "") -> Row | Reject:
    """The ESP_EVENTS columns of one SendGrid event object, or why it has none. Pure and deterministic."""
    # Written for speed (the compactor runs it for every event): plain dict access, and the common cases
    # (strings, ints, no nested args) checked first.
    if type(event) is not dict and not isinstance(event, Mapping):
        return Reject(position, "not a JSON object", event)
    get = event.get
    missing = [k for k in ("event", "timestamp") if _blank(get(k))]
    if missing:
        return Reject(position, f"missing {', '.join(missing)}", event)
    occurred_at = unix_time(event["timestamp"])
    if occurred_at is None:
        return Reject(position, f"timestamp is not a unix time: {event['timestamp']!r}", event)
    kind = event["event"]
    kind = (kind if type(kind) is str else str(kind)).strip().lower()
    custom = {k: v for k, v in event.items() if k not in SENDGRID_KEYS}
    nested = get("unique_args")  # legacy: the args nested under one key; top-level keys win
    if isinstance(nested, Mapping):
        custom = {**{str(k): v for k, v in nested.items() if k not in SENDGRID_KEYS}, **custom}
    message_id = _text(custom.pop("message_id", None))
    run_id = _text(custom.pop("run_id", None))
    url_offset = get("url_offset")
    reason = get("reason")
    if kind == "deferred" and _blank(reason):
        reason = get("response")  # SendGrid puts a deferral's SMTP text in `response`
    sg_event_id = get("sg_event_id")
    if _blank(sg_event_id):
        sg_event_id = derived_event_id(event)
    return {
        "sg_event_id": sg_event_id if type(sg_event_id) is str else str(sg_event_id),
        "sg_message_id": _text(get("sg_message_id")),
        "message_id": message_id,
        "event": kind,
        "email": _text(get("email")),
        "bounce_type": _text(get("type")) if kind == "bounce" else None,
        "reason": _text(reason),
        "status": _text(get("status")),
        "url": _text(get("url")),
        "occurred_at": occurred_at,
        "bounce_classification": _text(get("bounce_classification")),
        "attempt": _integer(get("attempt")),
        "useragent": _text(get("useragent")),
        "ip": _text(get("ip")),
        "categories": _categories(get("category")),
        "custom_args": _json(custom) if custom else None,
        "run_id": run_id,
        "asm_group_id": _integer(get("asm_group_id")),
        "url_offset_index": _integer(url_offset.get("index")) if isinstance(url_offset, Mapping) else None,
        "sg_machine_open": _flag(get("sg_machine_open")),
    }


def derived_event_id(event: Mapping[str, Any]) -> str:
    """An id for an event posted without ``sg_event_id`` (SendGrid's older payloads): a hash of the whole event,
    so a re-post of it gets the same id and counts once. Such events are kept — one may be an unsubscribe."""
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "derived-" + hashlib.sha256(canonical.encode()).hexdigest()[:32]


def channel_row(row: Any, position: str = "") -> Row | Reject:
    """A CHANNEL_EVENTS row as the callback endpoints spool it (``occurred_at`` an ISO string), checked."""
    if not isinstance(row, Mapping):
        return Reject(position, "not a JSON object", row)
    missing = [c.name for c in CHANNEL_EVENTS.columns if c.required and _blank(row.get(c.name))]
    if missing:
        return Reject(position, f"missing {', '.join(missing)}", row)
    extra = sorted(set(row) - set(CHANNEL_COLUMNS))
    if extra:
        return Reject(position, f"unknown columns {', '.join(extra)}", row)
    try:
        occurred_at = iso_time(str(row["occurred_at"]))
    except ValueError:
        return Reject(position, f"occurred_at is not an ISO time: {row['occurred_at']!r}", row)
    out: Row = {c: _text(row.get(c)) for c in CHANNEL_COLUMNS}
    out["occurred_at"] = occurred_at
    return out


def suppresses(event: Mapping[str, Any]) -> bool:
    """Whether a SendGrid event stops further email to its address: an unsubscribe, a spam report or a hard
    bounce (the same rule ``senders.suppression`` applies to landed batches)."""
    kind = str(event.get("event", "")).strip().lower()
    return kind in ("unsubscribe", "spamreport") or (kind == "bounce" and event.get("type") == "bounce")


def unix_time(value: Any) -> dt.datetime | None:
    """A naive UTC datetime from unix seconds or milliseconds (number or digit string), else None."""
    if type(value) is int and 0 <= value <= _MS_THRESHOLD:
        return _EPOCH + dt.timedelta(seconds=value)
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float) or value != value or value < 0:
        return None
    seconds = value / 1000 if value > _MS_THRESHOLD else value
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None


def iso_time(text: str) -> dt.datetime:
    """A naive UTC datetime from ISO 8601 (``Z`` or an offset; a naive time is taken as UTC)."""
    at = dt.datetime.fromisoformat(text.strip())
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at


def _blank(value: Any) -> bool:
    return value is None or (type(value) is str and (not value or value.isspace()))


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    return _json(value) if isinstance(value, Mapping | list) else str(value)


def _integer(value: Any) -> int | None:
    if value is None:
        return None
    if type(value) is int:
        return value
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def _flag(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return int(value.strip().lower() in ("true", "1"))
    return None


def _categories(value: Any) -> str | None:
    if value is None:
        return None
    key = tuple(value) if isinstance(value, list) else (value,)
    try:
        return _CATEGORIES[key]  # a send's events repeat the same few categories
    except KeyError:
        pass
    except TypeError:  # unhashable (a nested object): not worth remembering
        return _json([v if isinstance(v, str) else str(v) for v in key])
    text = _json([v if isinstance(v, str) else str(v) for v in key])
    if len(_CATEGORIES) < 10_000:
        _CATEGORIES[key] = text
    return text


_CATEGORIES: dict[tuple[Any, ...], str] = {}


# Sorted and compact: the same args always give the same text, so re-posted events stay identical. One encoder
# for every call (``json.dumps`` with options builds a new one each time: a third of the normalizer's cost).
_json = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode
