"""Editing one delivery's settings in its plan file, never leaving a broken plan behind.

The settings an editor shows (audience, template, typology, control share, schedule, and every other key as
YAML) are applied to the delivery's mapping as written, keys kept in their order; the new text is parsed by the
parser ``herald prepare`` uses, its references are checked against the specs, its delivery ids against the
other plans, and only then is the file replaced (atomically). YAML is written by ``herald.safe_text.yaml_text``,
as every spec is, so any text loads back as written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from herald.campaigns.catalog import Catalog, DeliveryRef
from herald.campaigns.plan_files import load_plans, read_plan, written_deliveries
from herald.campaigns.plans import Delivery, Program, parse_program
from herald.errors import PlanError
from herald.files import write_atomic
from herald.project import Project
from herald.safe_text import yaml_text

ScheduleKind = Literal["manual", "once", "recurring", "triggered"]
# Delivery keys the settings form edits; every other key is edited as YAML ("more settings").
FORM_KEYS = ("audience", "template", "typology", "control_percent", "schedule")


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """A delivery's settings as an editor shows them."""

    audience: str
    template: str
    typology: str
    control_percent: float
    schedule_kind: ScheduleKind
    at_date: dt.date | None
    at_time: dt.time | None
    cron: str
    time_zone: str
    trigger_audience: str | None
    more_yaml: str  # the delivery's other keys (sender, A/B test, seeds, approval, …), as YAML


def settings_of(d: Delivery, raw: Mapping[str, Any]) -> DeliverySettings:
    """The settings of delivery ``d``, whose mapping as written is ``raw``."""
    s = d.schedule
    more = {k: v for k, v in raw.items() if k not in (*FORM_KEYS, "id")}
    return DeliverySettings(
        audience=d.audience,
        template=d.template,
        typology=d.typology,
        control_percent=d.control_percent,
        more_yaml=yaml_text(more) if more else "",
        schedule_kind=s.kind,
        at_date=None if s.at is None else s.at.date(),
        at_time=None if s.at is None else s.at.time(),
        cron=s.cron or "",
        time_zone=s.time_zone,
        trigger_audience=s.enters_audience,
    )


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _schedule_mapping(s: DeliverySettings) -> dict[str, Any] | None:
    if s.schedule_kind == "manual":
        return None
    if s.schedule_kind == "once":
        if s.at_date is None or s.at_time is None:
            raise PlanError("schedule: pick the date and the time of the send")
        at = dt.datetime.combine(s.at_date, s.at_time)
        return {"at": f"{at:%Y-%m-%d %H:%M}", "time_zone": s.time_zone}
    if s.schedule_kind == "recurring":
        return {"cron": s.cron.strip(), "time_zone": s.time_zone}
    return {"trigger": {"enters_audience": s.trigger_audience}, "time_zone": s.time_zone}


def delivery_mapping(raw: Mapping[str, Any], s: DeliverySettings) -> dict[str, Any]:
    """``raw`` with the settings applied, keys kept in their written order (new ones last)."""
    try:
        more = yaml.safe_load(s.more_yaml) if s.more_yaml.strip() else {}
    except yaml.YAMLError as exc:
        raise PlanError(f"more settings: not valid YAML: {exc}") from None
    if not isinstance(more, Mapping):
        raise PlanError("more settings: expected a mapping of delivery keys, e.g. `priority: 1`")
    taken = sorted(k for k in more if k in (*FORM_KEYS, "id"))
    if taken:
        raise PlanError(f"more settings: set {', '.join(taken)} with the fields above, not here")
    values: dict[str, Any] = {
        "audience": s.audience,
        "template": s.template,
        "typology": s.typology,
        "control_percent": _number(s.control_percent),
        "schedule": _schedule_mapping(s),
        **more,
    }
    if not s.control_percent and "control_percent" not in raw:
        values["control_percent"] = None  # keep the plan as short as it was
    out: dict[str, Any] = {"id": raw["id"]}
    # Keys keep their written order; a key left out of "more settings" is removed, new keys go last.
    for key in [*raw, *values]:
        if key != "id" and key not in out and values.get(key) is not None:
            out[key] = values[key]
    return out


@dataclass(frozen=True, slots=True)
class EditedPlan:
    """A plan file's new text, and the program it parses to."""

    text: str
    program: Program


def plan_with(path: Path, delivery_id: str, s: DeliverySettings) -> EditedPlan:
    """The plan file with the delivery's settings applied; PlanError when the result would not be a valid plan
    (checked with the same parser ``herald prepare`` uses)."""
    data = read_plan(path)
    for deliveries, i in written_deliveries(data):
        if deliveries[i].get("id") == delivery_id:
            deliveries[i] = delivery_mapping(deliveries[i], s)
    text = yaml_text(data)
    program = parse_program(yaml.safe_load(text), source=path.name)
    if program.id != path.stem:
        raise PlanError(f"{path.name}: program {program.id!r} differs from the file name {path.stem!r}")
    return EditedPlan(text, program)


def check_edited(project: Project, path: Path, delivery_id: str, program: Program) -> None:
    """PlanError unless the edited delivery's references (audience, template, typology and the typology's
    audiences) exist and no delivery id of ``program`` is also used by another plan file."""
    catalog = Catalog.of(project)
    for campaign in program.campaigns:
        for d in campaign.deliveries:
            if d.id == delivery_id:
                catalog.check(DeliveryRef(program, campaign, d))
    others = {d.id for p, other in load_plans(project).programs.items() if p != path for d in _deliveries(other)}
    twice = sorted({d.id for d in _deliveries(program)} & others)
    if twice:
        raise PlanError(f"{path.name}: delivery ids also used in another plan: {', '.join(twice)}")


def _deliveries(program: Program) -> list[Delivery]:
    return [d for c in program.campaigns for d in c.deliveries]


def save_settings(project: Project, path: Path, delivery_id: str, s: DeliverySettings) -> None:
    """Write the delivery's settings into its plan file; PlanError (and nothing written) when the plan would
    not be valid, would name a spec that does not exist, or would reuse another plan's delivery id."""
    edited = plan_with(path, delivery_id, s)
    check_edited(project, path, delivery_id, edited.program)
    write_atomic(path, edited.text)
