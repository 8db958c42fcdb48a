"""Subscription forms: one spec per form in ``specs/forms/<name>.yml``, and the checks every submission passes.

    title: Subscribe to our newsletter
    intro: One email a week with what is new in the shop.
    channel: email                    # the confirmation is an email: forms subscribe email addresses
    topic: newsletter                 # the consent topic a confirmed subscription opts in to
    fields:
    - {name: email, type: email, label: Email address, required: true}
    - {name: first_name, type: text, label: First name, max_length: 60}
    - {name: country_code, type: choice, label: Country, choices: {FR: France, DE: Germany}}
    confirmation:
      template: newsletter_confirmation          # specs/templates/<name>/, rendered with confirm_url
      sender: {from_name: Herald Shop, from_email: news@shop.example}
      expires_hours: 48
    messages:
      confirm: Check your inbox and click the link to confirm.
      thank_you: You are subscribed. Welcome!
    allowed_origins: [https://shop.example]    # sites that may post or frame the form, besides our own
    rate_limit: {per_minute: 6, burst: 3}      # per client IP
    min_fill_seconds: 2                        # faster than this is a robot
    duplicate_window_minutes: 60               # the same address again within this: no second email

Field names that are CRM contact columns (``herald.raw_schema.CRM_CONTACTS``) fill them; any other field goes
into the contact's ``attributes``. Types: text, email, tel, date, choice, checkbox. A spec error names the file
and the field (``specs/forms/newsletter.yml: fields[2].type: ...``) and stops ``herald serve`` from starting.

Input is checked field by field; a value is rejected (never silently changed) when it is too long, holds
control characters or markup, or does not fit its type. Every message is meant for the person filling in the
form.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import yaml

from herald import clock
from herald.bounds import Bound, bounded
from herald.campaigns.plans import Sender
from herald.content.render import Renderer
from herald.emails import check_email
from herald.errors import HeraldError
from herald.project import Project
from herald.raw_schema import CRM_CONTACTS
from herald.safe_text import free_text
from senders.errors import TrackingError

FieldType = Literal["text", "email", "tel", "date", "choice", "checkbox"]
FIELD_TYPES: tuple[str, ...] = ("text", "email", "tel", "date", "choice", "checkbox")
CONTACT_FIELDS = frozenset(CRM_CONTACTS.column_names) - {"external_key", "attributes", "created_at", "updated_at"}
HONEYPOT = "website"  # hidden from people by CSS; robots fill it in
RESERVED = frozenset({HONEYPOT, "form_started", "csrf", "action"})

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
_TOPIC = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,24}$")
# Direction overrides and zero-width spaces hide what a value says; joiners some scripts need are kept.
_INVISIBLE = frozenset("\u200b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_MARKUP = re.compile(r"[<>]|&#|javascript:", re.IGNORECASE)
_SPEC_KEYS = {
    "title",
    "intro",
    "channel",
    "topic",
    "fields",
    "confirmation",
    "messages",
    "allowed_origins",
    "rate_limit",
    "min_fill_seconds",
    "duplicate_window_minutes",
}
_FIELD_KEYS = {"name", "type", "label", "required", "max_length", "choices", "help"}


@dataclass(frozen=True, slots=True)
class FormField:
    """One input of a form; ``choices`` are (value, label) pairs in display order."""

    name: str
    type: FieldType
    label: str
    required: bool = False
    max_length: int = 200
    choices: tuple[tuple[str, str], ...] = ()
    help: str = ""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket per client IP: ``burst`` submissions at once, refilled at ``per_minute``."""

    per_minute: float = 6.0
    burst: int = 3


@dataclass(frozen=True, slots=True)
class FormSpec:
    """A loaded, checked form. ``version`` is a hash of the spec file: it changes whenever the file does."""

    name: str
    title: str
    channel: str
    topic: str
    fields: tuple[FormField, ...]
    template: str
    sender: Sender
    confirm_message: str
    thank_you_message: str
    intro: str = ""
    allowed_origins: tuple[str, ...] = ()
    rate_limit: RateLimit = RateLimit()
    min_fill_seconds: float = 2.0
    duplicate_window_seconds: int = 3600
    confirm_expiry_seconds: int = 48 * 3600
    version: str = ""

    def field(self, name: str) -> FormField | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True, slots=True)
class Submission:
    """A submission after the checks: cleaned ``values`` (by field name) and one message per invalid field."""

    values: Mapping[str, str]
    errors: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return not self.errors


# ---------------------------------------------------------------------------------------------------- specs


def forms_dir(project: Project) -> Path:
    return project.specs_dir / "forms"


def load_forms(project: Project, renderer: Renderer | None = None) -> dict[str, FormSpec]:
    """Every form in ``specs/forms/``, checked (including that its confirmation template exists, is an email
    and uses ``confirm_url``). Eager; raises TrackingError naming the file and field of the first problem."""
    folder = forms_dir(project)
    renderer = renderer or Renderer(project.specs_dir / "templates")
    forms: dict[str, FormSpec] = {}
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        spec = load_form(path)
        where = f"{_shown(path)}: confirmation.template"
        try:
            template = renderer.load(spec.template)
            fields = renderer.fields(spec.template)
        except HeraldError as exc:
            raise TrackingError(f"{where}: {exc}") from exc
        if template.channel != "email":
            raise TrackingError(f"{where}: {spec.template} is a {template.channel} template, not an email one")
        if "confirm_url" not in fields:
            raise TrackingError(f"{where}: {spec.template} never uses confirm_url, so nobody could confirm")
        forms[spec.name] = spec
    return forms


def load_form(path: Path) -> FormSpec:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TrackingError(f"{_shown(path)}: not valid YAML: {exc}") from exc
    return parse_form(data, name=path.stem, source=_shown(path), version=hashlib.sha256(text.encode()).hexdigest()[:16])


def parse_form(data: object, *, name: str, source: str = "form", version: str = "") -> FormSpec:
    """Check a form spec's shape and values; errors read ``<source>: <field>: <problem>``."""

    def fail(where: str, problem: str) -> TrackingError:
        return TrackingError(f"{source}: {where}: {problem}")

    if not _NAME.match(name):
        raise fail("name", f"{name!r} must be lower-case letters, digits and _ (the file name is the form's name)")
    spec = _mapping(data, "(top level)", _SPEC_KEYS, fail)
    title = _text(spec.get("title"), "title", fail, required=True)
    channel = spec.get("channel", "email")
    if channel != "email":
        raise fail("channel", f"{channel!r}: forms subscribe email addresses (the confirmation is an email)")
    topic = spec.get("topic")
    if not isinstance(topic, str) or not _TOPIC.match(topic) or topic == "all":
        raise fail("topic", "a consent topic is required (lower-case, e.g. newsletter); 'all' is not a topic")
    raw_fields = spec.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise fail("fields", "a list of fields is required")
    fields = tuple(_field(f, f"fields[{i}]", fail) for i, f in enumerate(raw_fields))
    names = [f.name for f in fields]
    for n in names:
        if names.count(n) > 1:
            raise fail(f"fields[{names.index(n, names.index(n) + 1)}].name", f"{n!r} is used twice")
    email = next((f for f in fields if f.name == "email"), None)
    if email is None or email.type != "email" or not email.required:
        raise fail("fields", "an 'email' field of type email, required, is needed (the confirmation goes there)")
    confirmation = _mapping(spec.get("confirmation"), "confirmation", {"template", "sender", "expires_hours"}, fail)
    template = _text(confirmation.get("template"), "confirmation.template", fail, required=True)
    sender = _sender(confirmation.get("sender"), fail)
    expires = _number(confirmation.get("expires_hours", 48), "confirmation.expires_hours", fail, low=1, high=24 * 30)
    messages = _mapping(spec.get("messages"), "messages", {"confirm", "thank_you"}, fail)
    origins = spec.get("allowed_origins", [])
    if not isinstance(origins, list):
        raise fail("allowed_origins", "must be a list of origins like https://shop.example")
    for i, origin in enumerate(origins):
        if not isinstance(origin, str) or _origin(origin) != origin:
            raise fail(f"allowed_origins[{i}]", f"{origin!r} is not an origin (scheme://host[:port], no path)")
    limit = _mapping(spec.get("rate_limit", {}), "rate_limit", {"per_minute", "burst"}, fail)
    return FormSpec(
        name=name,
        title=title,
        intro=_text(spec.get("intro"), "intro", fail),
        channel="email",
        topic=topic,
        fields=fields,
        template=template,
        sender=sender,
        confirm_message=_text(messages.get("confirm"), "messages.confirm", fail, required=True),
        thank_you_message=_text(messages.get("thank_you"), "messages.thank_you", fail, required=True),
        allowed_origins=tuple(origins),
        rate_limit=RateLimit(
            per_minute=_number(limit.get("per_minute", 6), "rate_limit.per_minute", fail, low=0.1, high=10_000),
            burst=int(_number(limit.get("burst", 3), "rate_limit.burst", fail, low=1, high=10_000)),
        ),
        min_fill_seconds=_number(spec.get("min_fill_seconds", 2), "min_fill_seconds", fail, low=0, high=600),
        duplicate_window_seconds=int(
            60 * _number(spec.get("duplicate_window_minutes", 60), "duplicate_window_minutes", fail, low=0, high=10080)
        ),
        confirm_expiry_seconds=int(3600 * expires),
        version=version,
    )


def _field(data: object, where: str, fail: Any) -> FormField:
    f = _mapping(data, where, _FIELD_KEYS, fail)
    name = f.get("name")
    if not isinstance(name, str) or not _NAME.match(name) or name in RESERVED:
        raise fail(f"{where}.name", f"{name!r} must be lower-case letters, digits and _ (and not {HONEYPOT})")
    kind = f.get("type", "text")
    if kind not in FIELD_TYPES:
        raise fail(f"{where}.type", f"{kind!r} must be one of {', '.join(FIELD_TYPES)}")
    if name == "email" and kind != "email":
        raise fail(f"{where}.type", "the email field must have type email")
    if name in CONTACT_FIELDS and name != "birth_date" and kind == "date":
        raise fail(f"{where}.type", f"{name} is a text column of the contact, not a date")
    if name == "birth_date" and kind != "date":
        raise fail(f"{where}.type", "birth_date must have type date")
    required = f.get("required", False)
    if not isinstance(required, bool):
        raise fail(f"{where}.required", "must be true or false")
    max_length = int(_number(f.get("max_length", 200), f"{where}.max_length", fail, low=1, high=2000))
    raw_choices = f.get("choices")
    choices: tuple[tuple[str, str], ...] = ()
    if kind == "choice":
        if isinstance(raw_choices, list) and raw_choices:
            choices = tuple((str(c), str(c)) for c in raw_choices)
        elif isinstance(raw_choices, Mapping) and raw_choices:
            choices = tuple((str(k), str(v)) for k, v in raw_choices.items())
        else:
            raise fail(f"{where}.choices", "a choice field needs a list (or a value: label mapping) of choices")
    elif raw_choices is not None:
        raise fail(f"{where}.choices", "only choice fields have choices")
    for value, choice_label in choices:
        free_text(choice_label, f"{where}.choices.{value}", fail)
    return FormField(
        name=name,
        type=cast(FieldType, kind),
        label=_text(f.get("label"), f"{where}.label", fail, required=True),
        required=required,
        max_length=254 if kind == "email" else max_length,
        choices=choices,
        help=_text(f.get("help"), f"{where}.help", fail),
    )


def _sender(data: object, fail: Any) -> Sender:
    s = _mapping(data, "confirmation.sender", {"from_name", "from_email", "reply_to"}, fail)
    from_email = _text(s.get("from_email"), "confirmation.sender.from_email", fail, required=True)
    if problem := check_email(from_email).problem:
        raise fail("confirmation.sender.from_email", f"{from_email!r} is not an email address: {problem}")
    reply_to = _text(s.get("reply_to"), "confirmation.sender.reply_to", fail) or None
    if reply_to and (problem := check_email(reply_to).problem):
        raise fail("confirmation.sender.reply_to", f"{reply_to!r} is not an email address: {problem}")
    return Sender(_text(s.get("from_name"), "confirmation.sender.from_name", fail), from_email, reply_to)


def _mapping(data: object, where: str, known: set[str], fail: Any) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise fail(where, "must be a mapping")
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise fail(where, f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return data


def _text(value: object, where: str, fail: Any, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise fail(where, "is required")
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise fail(where, "must be text")
    return free_text(str(value), where, fail).strip()


def _number(value: object, where: str, fail: Any, *, low: float, high: float) -> float:
    return float(bounded(value, Bound(low, high, whole=False), where, fail))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def _shown(path: Path) -> str:
    parts = path.parts
    return "/".join(parts[parts.index("specs") :]) if "specs" in parts else str(path)


# ---------------------------------------------------------------------------------------------------- input


def check_submission(spec: FormSpec, raw: Mapping[str, str], *, today: dt.date | None = None) -> Submission:
    """Check every field of ``raw`` (form fields by name; others are ignored). Pure."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in spec.fields:
        value, problem = _check(f, raw.get(f.name, ""), today or clock.now().date())
        if problem:
            errors[f.name] = problem
        elif value:
            values[f.name] = value
    return Submission(values, errors)


def _check(f: FormField, raw: str, today: dt.date) -> tuple[str, str]:
    value = unicodedata.normalize("NFC", raw).strip()
    if f.type == "checkbox":
        checked = value.lower() in ("1", "on", "true", "yes")
        if f.required and not checked:
            return "", "Please tick this box to continue."
        return ("true" if checked else ""), ""
    if not value:
        return "", (f"Please fill in {f.label.lower()}." if f.required else "")
    if len(value) > f.max_length:
        return "", f"Please use at most {f.max_length} characters."
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") or ch in _INVISIBLE for ch in value):
        return "", "This contains invisible or control characters; please type it again."
    if _MARKUP.search(value):
        return "", "Please leave out < and > and other markup."
    if f.type == "email":
        verdict = check_email(value)
        if verdict.normalized is None:
            return "", f"Please enter a valid email address, like name@example.com ({verdict.problem})."
        return verdict.normalized, ""
    if f.type == "tel":
        digits = sum(ch.isdigit() for ch in value)
        if not _PHONE.match(value) or not 6 <= digits <= 15:
            return "", "Please enter a phone number: digits, spaces and an optional leading +."
        return value, ""
    if f.type == "date":
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            return "", "Please enter a date as YYYY-MM-DD."
        if not dt.date(1900, 1, 1) <= day <= today:
            return "", "Please enter a date between 1900 and today."
        return day.isoformat(), ""
    if f.type == "choice":
        if value not in {v for v, _ in f.choices}:
            return "", "Please pick one of the options."
        return value, ""
    return value, ""
