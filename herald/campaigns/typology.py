"""Typologies: the business rules applied when a delivery is prepared, one YAML file per typology in
``specs/typologies/``.

    name: marketing_default
    filtering:
      consent: required            # or not_required (service messages)
      quarantine: true             # exclude quarantined and denylisted addresses
      duplicate_address: true      # one message per address within a delivery
      exclude_audiences: [staff]   # members of these audiences are excluded
      custom:                      # rules in the audience language: members of the audience are excluded
      - {reason: under_18, audience: minors}
    fatigue:                       # at most `max` weighted messages per profile over `period_days`
    - {name: email_weekly, channel: email, max: 3, period_days: 7}
    - {name: all_channels_weekly, max: 6, period_days: 7}
    control:
      require_subject: true
      require_unsubscribe: true    # marketing email: body link and RFC 8058 List-Unsubscribe headers
      allowed_from_domains: [shop.example]
      max_sms_segments: 3
      max_push_bytes: 4096

Filtering and fatigue rules run in the warehouse (dbt) and log one reason per excluded profile; control rules
check the delivery's content and block the run with a message when one fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from herald.bounds import DAYS, Bound, bounded_int
from herald.campaigns.plans import CHANNELS, ID_PATTERN
from herald.errors import PlanError
from herald.safe_text import failing_with, free_text
from herald.spec_fields import flag, mapping_with_known_keys

_FAIL = failing_with(PlanError)
# The ranges of a typology's numbers (herald.bounds).
FATIGUE_MAX = Bound(0, 10_000)
FATIGUE_PERIOD_DAYS = Bound(1, DAYS.high, unit="days")
# Concatenated SMS carry at most 255 parts; push services take a few kilobytes.
MAX_SMS_SEGMENTS = Bound(1, 255)
MAX_PUSH_BYTES = Bound(1, 65_536)


@dataclass(frozen=True, slots=True)
class CustomRule:
    """Exclude members of ``audience``, logged with ``reason``."""

    reason: str
    audience: str


@dataclass(frozen=True, slots=True)
class FatigueRule:
    """At most ``max`` (weighted) messages per profile in ``period_days``, on ``channel`` or across all."""

    name: str
    max: int
    period_days: int
    channel: str | None = None


@dataclass(frozen=True, slots=True)
class Typology:
    name: str
    description: str = ""
    require_consent: bool = True
    exclude_quarantined: bool = True
    dedupe_address: bool = True
    exclude_audiences: tuple[str, ...] = ()
    custom: tuple[CustomRule, ...] = ()
    fatigue: tuple[FatigueRule, ...] = ()
    require_subject: bool = True
    require_unsubscribe: bool = True
    allowed_from_domains: tuple[str, ...] = ()
    max_sms_segments: int = 3
    max_push_bytes: int = 4096


def load_typology(path: Path) -> Typology:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from exc
    typology = parse_typology(data, source=str(path))
    if typology.name != path.stem:
        raise PlanError(f"{path}: typology {typology.name!r} differs from the file name {path.stem!r}")
    return typology


def parse_typology(data: object, *, source: str = "typology") -> Typology:
    m = _mapping(data, source, {"name", "description", "filtering", "fatigue", "control"})
    name = m.get("name")
    if not isinstance(name, str) or not ID_PATTERN.match(name):
        raise PlanError(f"{source}: name must be a lower-case id; got {name!r}")
    # A missing or invalid address always excludes (there is nowhere to send): it is not a setting.
    filtering_keys = {"consent", "quarantine", "duplicate_address", "exclude_audiences", "custom"}
    f = _mapping(m.get("filtering") or {}, f"{source}: filtering", filtering_keys)
    consent = f.get("consent", "required")
    if consent not in ("required", "not_required"):
        raise PlanError(f"{source}: filtering.consent must be required or not_required; got {consent!r}")
    custom = []
    for i, rule in enumerate(f.get("custom") or []):
        r = _mapping(rule, f"{source}: filtering.custom[{i}]", {"reason", "audience"})
        for key in ("reason", "audience"):
            if not isinstance(r.get(key), str) or not ID_PATTERN.match(r[key]):
                raise PlanError(f"{source}: filtering.custom[{i}].{key} must be a lower-case id; got {r.get(key)!r}")
        custom.append(CustomRule(reason=r["reason"], audience=r["audience"]))
    fatigue = []
    for i, rule in enumerate(m.get("fatigue") or []):
        where = f"{source}: fatigue[{i}]"
        r = _mapping(rule, where, {"name", "channel", "max", "period_days"})
        rule_name = r.get("name")
        if not isinstance(rule_name, str) or not ID_PATTERN.match(rule_name):
            raise PlanError(f"{where}: name must be a lower-case id; got {rule_name!r}")
        channel = r.get("channel")
        if channel is not None and channel not in CHANNELS:
            raise PlanError(f"{where}: channel must be one of {', '.join(CHANNELS)} (or left out for all)")
        fatigue.append(
            FatigueRule(
                rule_name,
                _whole(r.get("max"), f"{where}: max", FATIGUE_MAX),
                _whole(r.get("period_days"), f"{where}: period_days", FATIGUE_PERIOD_DAYS),
                channel,
            )
        )
    names = [r.name for r in fatigue]
    if len(set(names)) != len(names):
        raise PlanError(f"{source}: fatigue rule names repeat: {names}")
    c = _mapping(
        m.get("control") or {},
        f"{source}: control",
        {"require_subject", "require_unsubscribe", "allowed_from_domains", "max_sms_segments", "max_push_bytes"},
    )
    return Typology(
        name=name,
        description=free_text(m.get("description"), f"{source}: description", _FAIL),
        require_consent=consent == "required",
        exclude_quarantined=_flag(f.get("quarantine", True), f"{source}: filtering.quarantine"),
        dedupe_address=_flag(f.get("duplicate_address", True), f"{source}: filtering.duplicate_address"),
        exclude_audiences=tuple(_ids(f.get("exclude_audiences"), f"{source}: filtering.exclude_audiences")),
        custom=tuple(custom),
        fatigue=tuple(fatigue),
        require_subject=_flag(c.get("require_subject", True), f"{source}: control.require_subject"),
        require_unsubscribe=_flag(c.get("require_unsubscribe", True), f"{source}: control.require_unsubscribe"),
        allowed_from_domains=tuple(d.lower() for d in _texts(c.get("allowed_from_domains"), f"{source}: control")),
        max_sms_segments=_whole(c.get("max_sms_segments", 3), f"{source}: control.max_sms_segments", MAX_SMS_SEGMENTS),
        max_push_bytes=_whole(c.get("max_push_bytes", 4096), f"{source}: control.max_push_bytes", MAX_PUSH_BYTES),
    )


def _mapping(data: object, where: str, known: set[str]) -> Mapping[str, Any]:
    return mapping_with_known_keys(data, where, known, _FAIL)


def _flag(value: object, where: str) -> bool:
    return flag(value, where, _FAIL)


def _whole(value: object, where: str, bound: Bound) -> int:
    return bounded_int(value, bound, where, _FAIL)


def _texts(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PlanError(f"{where}: expected a list of text")
    return cast(list[str], value)


def _ids(value: object, where: str) -> list[str]:
    items = _texts(value, where)
    bad = [v for v in items if not ID_PATTERN.match(v)]
    if bad:
        raise PlanError(f"{where}: not audience names: {', '.join(bad)}")
    return items
