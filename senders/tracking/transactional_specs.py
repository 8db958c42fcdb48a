"""Transactional message types: one spec per type in ``specs/transactional/<event>.yml``, and payload checks.

    description: Sent when an order is placed.
    channel: email                       # email, sms, push or in_app
    template: order_confirmation         # specs/templates/<name>/, rendered by herald.content (the one renderer)
    sender: {from_name: Herald Shop, from_email: orders@shop.example, reply_to: help@shop.example}   # email only
    consent: not_required                # or: required (then a topic is needed)
    topic: back_in_stock                 # the consent topic checked when consent is required
    payload:                             # what the caller sends; nothing else is accepted
      order_id: string                   # shorthand: a required field of that type
      total: {type: number}
      note: {type: string, required: false}

Types: string, integer, number, boolean, list, object. The event name is the file name. Quarantined addresses
are never sent to, whatever ``consent`` says. A spec error names the file and the field
(``specs/transactional/order_confirmation.yml: payload.total.type: ...``) and stops ``herald serve``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from herald.campaigns.plans import Sender
from herald.content.render import Renderer
from herald.emails import is_email
from herald.errors import HeraldError
from herald.project import Project
from senders.errors import TrackingError

CHANNELS = ("email", "sms", "push", "in_app")
FIELD_TYPES: Mapping[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "list": (list,),
    "object": (dict,),
}
# What a template also sees besides the payload: the profile's attributes and the message's own values.
PROFILE_FIELDS = ("first_name", "last_name", "language_code")
CONTEXT_FIELDS = ("message_id", "event", "unsubscribe_url", "preferences_url")
MAX_STRING = 10_000

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_KEYS = {"description", "channel", "template", "sender", "consent", "topic", "payload"}


@dataclass(frozen=True, slots=True)
class PayloadField:
    """One field a caller sends: its name, JSON type and whether it must be there."""

    name: str
    type: str
    required: bool = True


@dataclass(frozen=True, slots=True)
class MessageType:
    """A loaded, checked transactional message type; equal when every field is equal."""

    event: str
    channel: str
    template: str
    fields: tuple[PayloadField, ...]
    consent_required: bool = False
    topic: str | None = None
    sender: Sender | None = None
    description: str = ""
    source: str = ""

    def check(self, payload: object) -> dict[str, str]:
        """Problems with a request's payload, by field (``payload.<name>``); empty when it is valid. Pure."""
        if not isinstance(payload, Mapping):
            return {"payload": "must be a JSON object"}
        problems: dict[str, str] = {}
        known = {f.name: f for f in self.fields}
        for name in payload:
            if name not in known:
                problems[f"payload.{name}"] = f"unknown field (known: {', '.join(sorted(known)) or 'none'})"
        for f in self.fields:
            value = payload.get(f.name)
            if value is None:
                if f.required:
                    problems[f"payload.{f.name}"] = f"is required ({f.type})"
                continue
            kinds = FIELD_TYPES[f.type]
            # bool is an int in Python, never in JSON
            if not isinstance(value, kinds) or (isinstance(value, bool) and f.type != "boolean"):
                problems[f"payload.{f.name}"] = f"must be {_article(f.type)} {f.type}, not {_json_type(value)}"
            elif isinstance(value, str) and len(value) > MAX_STRING:
                problems[f"payload.{f.name}"] = f"is longer than {MAX_STRING} characters"
        return problems


def specs_dir(project: Project) -> Path:
    return project.specs_dir / "transactional"


def load_message_types(project: Project, renderer: Renderer | None = None) -> dict[str, MessageType]:
    """Every type in ``specs/transactional/``, checked, including that its template exists and is of the
    type's channel. Eager; raises TrackingError naming the file and field of the first problem."""
    renderer = renderer or Renderer(project.specs_dir / "templates")
    folder = specs_dir(project)
    types: dict[str, MessageType] = {}
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        spec = load_message_type(path)
        try:
            template = renderer.load(spec.template)
        except HeraldError as exc:
            raise TrackingError(f"{spec.source}: template: {exc}") from exc
        if template.channel != spec.channel:
            raise TrackingError(
                f"{spec.source}: template: {spec.template} is a {template.channel} template, not {spec.channel}"
            )
        types[spec.event] = spec
    return types


def load_message_type(path: Path) -> MessageType:
    source = _shown(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TrackingError(f"{source}: not valid YAML: {exc}") from exc
    return parse_message_type(data, event=path.stem, source=source)


def parse_message_type(data: object, *, event: str, source: str = "message type") -> MessageType:
    """Check a spec's shape and values; errors read ``<source>: <field>: <problem>``."""

    def fail(where: str, problem: str) -> TrackingError:
        return TrackingError(f"{source}: {where}: {problem}")

    if not _NAME.match(event):
        raise fail("name", f"{event!r} must be lower-case letters, digits and _ (the file name is the event)")
    if not isinstance(data, Mapping):
        raise fail("(top level)", "must be a mapping")
    unknown = sorted(set(map(str, data)) - _KEYS)
    if unknown:
        raise fail("(top level)", f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    channel = data.get("channel")
    if channel not in CHANNELS:
        raise fail("channel", f"{channel!r} must be one of {', '.join(CHANNELS)}")
    template = data.get("template")
    if not isinstance(template, str) or not template.strip():
        raise fail("template", "the name of a folder of specs/templates/ is required")
    consent = data.get("consent", "not_required")
    if consent not in ("required", "not_required"):
        raise fail("consent", f"{consent!r} must be required or not_required")
    topic = data.get("topic")
    if consent == "required" and (not isinstance(topic, str) or not _NAME.match(topic)):
        raise fail("topic", "consent is required: name the consent topic (lower-case, e.g. back_in_stock, or all)")
    if topic is not None and (not isinstance(topic, str) or not _NAME.match(topic)):
        raise fail("topic", f"{topic!r} must be lower-case letters, digits and _")
    sender = _sender(data.get("sender"), fail) if channel == "email" else None
    if channel != "email" and data.get("sender") is not None:
        raise fail("sender", f"only email has a sender ({channel} uses the provider's settings)")
    raw = data.get("payload", {})
    if not isinstance(raw, Mapping):
        raise fail("payload", "must be a mapping of field name to type")
    fields = tuple(_field(str(name), spec, fail) for name, spec in raw.items())
    description = data.get("description", "")
    return MessageType(
        event=event,
        channel=str(channel),
        template=template.strip(),
        fields=fields,
        consent_required=consent == "required",
        topic=topic if isinstance(topic, str) else None,
        sender=sender,
        description=str(description or "").strip(),
        source=source,
    )


def _field(name: str, spec: object, fail: Any) -> PayloadField:
    where = f"payload.{name}"
    if not _NAME.match(name) or name in CONTEXT_FIELDS:
        raise fail(where, f"{name!r} must be lower-case letters, digits and _ (and not {', '.join(CONTEXT_FIELDS)})")
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping):
        raise fail(where, "must be a type (string, number, ...) or {type: ..., required: ...}")
    unknown = sorted(set(map(str, spec)) - {"type", "required"})
    if unknown:
        raise fail(where, f"unknown key(s) {', '.join(unknown)} (known: required, type)")
    kind = spec.get("type")
    if kind not in FIELD_TYPES:
        raise fail(f"{where}.type", f"{kind!r} must be one of {', '.join(FIELD_TYPES)}")
    required = spec.get("required", True)
    if not isinstance(required, bool):
        raise fail(f"{where}.required", "must be true or false")
    return PayloadField(name, str(kind), required)


def _sender(data: object, fail: Any) -> Sender:
    if not isinstance(data, Mapping):
        raise fail("sender", "an email type needs a sender: {from_name: ..., from_email: ...}")
    unknown = sorted(set(map(str, data)) - {"from_name", "from_email", "reply_to"})
    if unknown:
        raise fail("sender", f"unknown key(s) {', '.join(unknown)} (known: from_email, from_name, reply_to)")
    from_email = data.get("from_email")
    if not isinstance(from_email, str) or not is_email(from_email):
        raise fail("sender.from_email", f"{from_email!r} is not an email address")
    reply_to = data.get("reply_to")
    if reply_to is not None and (not isinstance(reply_to, str) or not is_email(reply_to)):
        raise fail("sender.reply_to", f"{reply_to!r} is not an email address")
    return Sender(str(data.get("from_name") or ""), from_email, reply_to)


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _shown(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[parts.index("specs") :]) if "specs" in parts else str(path)
