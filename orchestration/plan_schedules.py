"""Deliveries that run by their plan's schedule: a delivery with ``schedule`` in its plan (once ``at`` a local
time, recurring by ``cron``, or triggered when profiles enter an audience) and named by no workflow becomes a
workflow of one ``deliver`` activity, ``delivery__<id>``, that ``herald run`` works on like any other.

Its approval policy is ``wait``: when the plan requires approval, the run prepares and waits for a person
(exit 4), and the next ``herald run`` after the approval sends. A delivery that a workflow names is that
workflow's to send — its plan schedule is then only the calendar's — so no delivery is sent by two masters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from herald.errors import HeraldError
from herald.project import Project
from orchestration.cron import Cron
from orchestration.errors import WorkflowSpecError
from orchestration.spec import Activity, Trigger, Workflow

PREFIX = "delivery__"


def plan_workflows(project: Project, explicit: Sequence[Workflow]) -> list[Workflow]:
    """The workflows the plans' delivery schedules make, for the deliveries no workflow in ``explicit`` names."""
    from herald.campaigns.catalog import Catalog

    if not (project.specs_dir / "plans").is_dir():
        return []
    try:
        refs = Catalog.of(project).deliveries()
    except HeraldError as exc:
        raise WorkflowSpecError(f"the plans cannot be read, so their schedules cannot run: {exc}") from exc
    driven = {str(a.options["delivery"]) for f in explicit for a in f.activities if a.type == "deliver"}
    out = []
    for ref in refs:
        d, schedule = ref.delivery, ref.delivery.schedule
        if schedule.kind == "manual" or d.id in driven:
            continue
        if schedule.kind == "once" and schedule.at is not None:
            trigger = Trigger("once", at=schedule.at.replace(tzinfo=ZoneInfo(schedule.time_zone)).astimezone(dt.UTC))
        elif schedule.kind == "recurring" and schedule.cron is not None:
            trigger = Trigger("cron", cron=Cron.parse(schedule.cron, schedule.time_zone))
        elif schedule.kind == "triggered" and schedule.enters_audience:
            trigger = Trigger("audience", audience=schedule.enters_audience)
        else:
            continue
        deliver = Activity("deliver", "deliver", (), {"delivery": d.id, "approval": {"policy": "wait"}})
        out.append(
            Workflow(
                PREFIX + d.id,
                f"The schedule of delivery {d.id} in plan {ref.program.id} (campaign {ref.campaign.id}).",
                trigger,
                (deliver,),
                project.specs_dir / "plans" / f"{ref.program.id}.yml",
            )
        )
    return out
