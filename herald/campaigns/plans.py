"""Marketing plans as specs: programs → campaigns → deliveries, one YAML file per program in ``specs/plans/``.

    program: winter_2026
    name: Winter 2026
    owner: crm-team
    campaigns:
    - id: winter_sale
      name: Winter sale
      objective: Revenue from recent buyers before the holidays
      start: 2026-12-01
      end: 2026-12-31
      owner: anna
      budget: 5000
      expected: {conversions: 800, revenue: 120000}
      deliveries:
      - id: winter_sale_email
        channel: email
        topic: promotions
        audience: winter_sale_test
        template: winter_sale_email
        sender: {from_name: Herald Shop, from_email: news@shop.example}
        schedule: {at: "2026-12-03 09:00", time_zone: Europe/Paris}
        typology: marketing_default
        control_percent: 10
        ab_test: {variants: {A: 50, B: 50}, metric: clicks, winner_after_hours: 4, test_percent: 20}
        seeds: [qa@shop.example]
        test_profiles: [C0000001]
        approval: {required: true, approvers: [anna]}

Parsing checks shape and values; `herald.campaigns.catalog` checks references (audience, template, typology).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from herald.bounds import MAGNITUDE, PERCENT, Bound, bounded, bounded_int
from herald.emails import is_email
from herald.errors import PlanError
from herald.safe_text import failing_with, free_text

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
CHANNELS = ("email", "sms", "push", "in_app", "direct_mail")
AB_METRICS = ("opens", "clicks", "conversions")
Channel = Literal["email", "sms", "push", "in_app", "direct_mail"]
_VARIANT = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")
_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z]+$")
_FAIL = failing_with(PlanError)
# The ranges of a plan's numbers (herald.bounds); a number outside its range is refused naming file and field.
CONTROL_PERCENT = Bound(0, 100, whole=False, high_open=True)
BUDGET = Bound(0, 1_000_000_000_000, whole=False)
EXPECTED = Bound(0, MAGNITUDE.high, whole=False)
WINNER_AFTER_HOURS = Bound(1, 720, unit="hours")
WEIGHT = Bound(1, 1_000)
PRIORITY = Bound(-1_000, 1_000)


@dataclass(frozen=True, slots=True)
class Sender:
    from_name: str
    from_email: str
    reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """Once ``at`` a local time, recurring by ``cron``, or ``trigger``-ed when a profile enters ``audience``."""

    kind: Literal["once", "recurring", "triggered", "manual"]
    time_zone: str = "UTC"
    at: dt.datetime | None = None
    cron: str | None = None
    enters_audience: str | None = None


@dataclass(frozen=True, slots=True)
class AbTest:
    """Variants tested on ``test_percent`` of the target; the winner on ``metric`` goes to the rest after N hours."""

    variants: tuple[tuple[str, float], ...]
    metric: str
    winner_after_hours: int
    test_percent: float


@dataclass(frozen=True, slots=True)
class Approval:
    required: bool = False
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    channel: Channel
    audience: str
    template: str
    typology: str
    topic: str | None = None
    sender: Sender | None = None
    schedule: Schedule = Schedule(kind="manual")
    control_percent: float = 0.0
    ab_test: AbTest | None = None
    seeds: tuple[str, ...] = ()
    test_profiles: tuple[str, ...] = ()
    approval: Approval = Approval()
    weight: int = 1
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str
    objective: str = ""
    owner: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    budget: float | None = None
    expected: tuple[tuple[str, float], ...] = ()
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True, slots=True)
class Program:
    """One plan file. ``version`` is a hash of its text: it changes whenever the file does."""

    id: str
    name: str
    owner: str
    campaigns: tuple[Campaign, ...]
    version: str


def load_program(path: Path) -> Program:
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from exc
    program = parse_program(data, source=str(path), version=hashlib.sha256(text.encode()).hexdigest()[:12])
    if program.id != path.stem:
        raise PlanError(f"{path}: program {program.id!r} differs from the file name {path.stem!r}")
    return program


def parse_program(data: object, *, source: str = "plan", version: str = "") -> Program:
    where = source
    m = _mapping(data, where, {"program", "name", "owner", "campaigns"})
    program_id = _id(m.get("program"), f"{where}: program")
    campaigns_raw = m.get("campaigns") or []
    if not isinstance(campaigns_raw, list):
        raise PlanError(f"{where}: `campaigns` must be a list")
    campaigns = tuple(_campaign(c, f"{where}: campaigns[{i}]") for i, c in enumerate(campaigns_raw))
    ids = [d.id for c in campaigns for d in c.deliveries] + [c.id for c in campaigns]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PlanError(f"{where}: ids used twice: {', '.join(duplicates)}")
    return Program(
        id=program_id,
        name=_text(m.get("name", program_id), f"{where}: name"),
        owner=_text(m.get("owner", ""), f"{where}: owner"),
        campaigns=campaigns,
        version=version,
    )


def _campaign(data: object, where: str) -> Campaign:
    m = _mapping(data, where, {"id", "name", "objective", "owner", "start", "end", "budget", "expected", "deliveries"})
    campaign_id = _id(m.get("id"), f"{where}: id")
    where = f"{where} ({campaign_id})"
    start, end = _date(m.get("start"), f"{where}: start"), _date(m.get("end"), f"{where}: end")
    if start and end and end < start:
        raise PlanError(f"{where}: ends ({end}) before it starts ({start})")
    expected_raw = m.get("expected") or {}
    if not isinstance(expected_raw, Mapping):
        raise PlanError(f"{where}: `expected` maps a result name to a number")
    expected = tuple((str(k), _number(v, f"{where}: expected.{k}", EXPECTED)) for k, v in expected_raw.items())
    deliveries_raw = m.get("deliveries") or []
    if not isinstance(deliveries_raw, list):
        raise PlanError(f"{where}: `deliveries` must be a list")
    budget = m.get("budget")
    return Campaign(
        id=campaign_id,
        name=_text(m.get("name", campaign_id), f"{where}: name"),
        objective=_text(m.get("objective", ""), f"{where}: objective"),
        owner=_text(m.get("owner", ""), f"{where}: owner"),
        start=start,
        end=end,
        budget=None if budget is None else _number(budget, f"{where}: budget", BUDGET),
        expected=expected,
        deliveries=tuple(_delivery(d, f"{where}: deliveries[{i}]") for i, d in enumerate(deliveries_raw)),
    )


def _delivery(data: object, where: str) -> Delivery:
    keys = {
        "id",
        "channel",
        "topic",
        "audience",
        "template",
        "typology",
        "sender",
        "schedule",
        "control_percent",
        "ab_test",
        "seeds",
        "test_profiles",
        "approval",
        "weight",
        "priority",
    }
    m = _mapping(data, where, keys)
    delivery_id = _id(m.get("id"), f"{where}: id")
    where = f"{where} ({delivery_id})"
    channel = m.get("channel")
    if channel not in CHANNELS:
        raise PlanError(f"{where}: channel must be one of {', '.join(CHANNELS)}; got {channel!r}")
    for key in ("audience", "template", "typology"):
        if not isinstance(m.get(key), str) or not ID_PATTERN.match(m[key]):
            raise PlanError(f"{where}: `{key}` must name a saved {key} (lower-case id); got {m.get(key)!r}")
    sender = _sender(m.get("sender"), f"{where}: sender")
    if channel == "email" and sender is None:
        raise PlanError(f"{where}: an email delivery needs `sender: {{from_name, from_email}}`")
    control = _number(m.get("control_percent", 0), f"{where}: control_percent", CONTROL_PERCENT)
    seeds = tuple(_list_of_text(m.get("seeds"), f"{where}: seeds"))
    bad_seeds = [s for s in seeds if channel == "email" and not is_email(s)]
    if bad_seeds:
        raise PlanError(f"{where}: seed addresses are not email addresses: {', '.join(bad_seeds)}")
    weight = bounded_int(m.get("weight", 1), WEIGHT, f"{where}: weight", _FAIL)
    priority = bounded_int(m.get("priority", 0), PRIORITY, f"{where}: priority", _FAIL)
    topic = m.get("topic")
    if topic is not None and (not isinstance(topic, str) or not ID_PATTERN.match(topic)):
        raise PlanError(f"{where}: topic must be a consent topic such as newsletter; got {topic!r}")
    return Delivery(
        id=delivery_id,
        channel=cast(Channel, channel),
        topic=topic,
        audience=m["audience"],
        template=m["template"],
        typology=m["typology"],
        sender=sender,
        schedule=_schedule(m.get("schedule"), f"{where}: schedule"),
        control_percent=control,
        ab_test=_ab_test(m.get("ab_test"), f"{where}: ab_test"),
        seeds=seeds,
        test_profiles=tuple(_list_of_text(m.get("test_profiles"), f"{where}: test_profiles")),
        approval=_approval(m.get("approval"), f"{where}: approval"),
        weight=weight,
        priority=priority,
    )


def _sender(data: object, where: str) -> Sender | None:
    if data is None:
        return None
    m = _mapping(data, where, {"from_name", "from_email", "reply_to"})
    from_email = m.get("from_email")
    if not isinstance(from_email, str) or not is_email(from_email):
        raise PlanError(f"{where}: from_email must be an email address; got {from_email!r}")
    reply_to = m.get("reply_to")
    if reply_to is not None and (not isinstance(reply_to, str) or not is_email(reply_to)):
        raise PlanError(f"{where}: reply_to must be an email address; got {reply_to!r}")
    return Sender(_text(m.get("from_name", ""), f"{where}: from_name"), from_email, reply_to)


def _schedule(data: object, where: str) -> Schedule:
    if data is None:
        return Schedule(kind="manual")
    m = _mapping(data, where, {"at", "cron", "time_zone", "trigger"})
    zone = _text(m.get("time_zone", "UTC"), f"{where}: time_zone")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise PlanError(f"{where}: unknown time zone {zone!r} (use an IANA name such as Europe/Paris)") from None
    kinds = [k for k in ("at", "cron", "trigger") if k in m]
    if len(kinds) != 1:
        raise PlanError(f"{where}: give exactly one of at, cron or trigger")
    if "at" in m:
        at = m["at"]
        try:
            when = at if isinstance(at, dt.datetime) else dt.datetime.fromisoformat(str(at))
        except ValueError:
            raise PlanError(f"{where}: `at` must be a local date and time, e.g. 2026-12-03 09:00") from None
        return Schedule(kind="once", time_zone=zone, at=when.replace(tzinfo=None))
    if "cron" in m:
        cron = m["cron"]
        fields = str(cron).split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise PlanError(f"{where}: `cron` needs five fields (minute hour day month weekday); got {cron!r}")
        return Schedule(kind="recurring", time_zone=zone, cron=" ".join(fields))
    trigger = _mapping(m["trigger"], f"{where}: trigger", {"enters_audience"})
    audience = trigger.get("enters_audience")
    if not isinstance(audience, str) or not ID_PATTERN.match(audience):
        raise PlanError(f"{where}: trigger.enters_audience must name a saved audience")
    return Schedule(kind="triggered", time_zone=zone, enters_audience=audience)


def _ab_test(data: object, where: str) -> AbTest | None:
    if data is None:
        return None
    m = _mapping(data, where, {"variants", "metric", "winner_after_hours", "test_percent"})
    variants_raw = m.get("variants")
    if not isinstance(variants_raw, Mapping) or len(variants_raw) < 2:
        raise PlanError(f"{where}: `variants` maps at least two variant names to percents, e.g. {{A: 50, B: 50}}")
    variants = tuple((str(k), _number(v, f"{where}: variants.{k}", PERCENT)) for k, v in variants_raw.items())
    bad = [name for name, _ in variants if not _VARIANT.match(name)]
    if bad:
        raise PlanError(f"{where}: variant names must be letters, digits and underscores: {', '.join(bad)}")
    if abs(sum(p for _, p in variants) - 100) > 1e-9:
        raise PlanError(f"{where}: variant percents add up to {sum(p for _, p in variants):g}, not 100")
    metric = m.get("metric", "clicks")
    if metric not in AB_METRICS:
        raise PlanError(f"{where}: metric must be one of {', '.join(AB_METRICS)}")
    hours = bounded_int(m.get("winner_after_hours", 4), WINNER_AFTER_HOURS, f"{where}: winner_after_hours", _FAIL)
    test_percent = _number(m.get("test_percent", 100), f"{where}: test_percent", PERCENT)
    return AbTest(variants=variants, metric=metric, winner_after_hours=hours, test_percent=test_percent)


def _approval(data: object, where: str) -> Approval:
    if data is None:
        return Approval()
    m = _mapping(data, where, {"required", "approvers"})
    required = m.get("required", True)
    if not isinstance(required, bool):
        raise PlanError(f"{where}: required must be true or false")
    approvers = tuple(_list_of_text(m.get("approvers"), f"{where}: approvers"))
    if required and not approvers:
        raise PlanError(f"{where}: name at least one approver when approval is required")
    return Approval(required=required, approvers=approvers)


# ---------------------------------------------------------------------------------------------- small parsers


def _mapping(data: object, where: str, known: set[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise PlanError(f"{where}: expected a mapping")
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    return cast(Mapping[str, Any], data)


def _id(value: object, where: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise PlanError(
            f"{where}: must be lower-case letters, digits and underscores, starting with a letter; got {value!r}"
        )
    return value


def _text(value: object, where: str) -> str:
    return free_text(value, where, _FAIL)


def _number(value: object, where: str, bound: Bound) -> float:
    return float(bounded(value, bound, where, _FAIL))


def _date(value: object, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise PlanError(f"{where}: expected a date YYYY-MM-DD, got {value!r}") from None


def _list_of_text(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PlanError(f"{where}: expected a list of text")
    return [free_text(v, f"{where}[{i}]", _FAIL) for i, v in enumerate(value)]
