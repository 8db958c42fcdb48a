"""Workflows and journeys as specs: YAML files in ``specs/workflows/`` and ``specs/journeys/``.

    workflow: nightly_winter_sale
    description: Import the CRM drop, rebuild, refresh the audience, send if it is big enough.
    schedule: {cron: "30 2 * * *", time_zone: Europe/Paris}     # or trigger: {file: {folder: …}} | api
                                                                #    | {enters_audience: NAME}
    activities:
    - {id: contacts, type: import, kind: profiles, file: "drop/contacts.csv"}
    - {id: refresh, type: build}
    - {id: target, type: audience, build: [winter_sale_test]}
    - {id: big_enough, type: test, audience: winter_sale_test, min: 10, then: send, else: done}
    - id: send
      type: deliver
      delivery: winter_sale_email
      approval: {policy: auto, by: anna}                       # or policy: wait (a person approves)
      breakers: {max_source_age_hours: 48, sources: [crm_contacts], max_audience_change_percent: 50}
    - {id: snapshot, type: export, table: delivery_runs, out: "exports/runs-{date}.csv"}
    - {id: done, type: end}

Activities run in list order unless one names its ``next``; a ``test`` goes to ``then`` or ``else``. Parsing
checks shape, types and references and raises WorkflowSpecError naming the file and the activity.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from herald.bounds import DAYS, PROFILES, Bound, bounded
from herald.project import Project
from herald.safe_text import failing_with, free_text
from herald.spec_fields import mapping_with_known_keys
from orchestration.cron import Cron
from orchestration.errors import WorkflowSpecError

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
ActivityType = Literal[
    "import", "build", "audience", "test", "wait", "wait_until", "deliver", "journey", "export", "end"
]
ACTIVITY_TYPES: tuple[str, ...] = ActivityType.__args__  # type: ignore[attr-defined]
# Spelled out (importing herald.importing would load the importer into every spec read); a test keeps it equal.
IMPORT_KINDS = ("profiles", "consents", "orders", "order_lines", "payments")
OPEN_EVENTS = ("opened", "clicked")
_FAIL = failing_with(WorkflowSpecError)
# The ranges of workflow and journey numbers (herald.bounds): waits up to a year, breakers above 0.
WAIT = {"hours": Bound(0, 8_760, whole=False, unit="hours"), "minutes": Bound(0, 525_600, whole=False, unit="minutes")}
BREAKERS = {
    "max_source_age_hours": Bound(0, 8_760, whole=False, unit="hours", low_open=True),
    "max_audience_change_percent": Bound(0, 10_000, whole=False, low_open=True),
}

# Keys each activity type accepts besides id, type and next.
_KEYS: dict[str, set[str]] = {
    "import": {"kind", "file", "mapping", "unknown_columns", "missing"},
    "build": {"select"},
    "audience": {"build"},
    "test": {"audience", "min", "max", "then", "else"},
    "wait": {"hours", "minutes"},
    "wait_until": {"time"},
    "deliver": {"delivery", "approval", "breakers", "send"},
    "journey": {"journey"},
    "export": {"table", "audience", "out", "format"},
    "end": set(),
}
_REQUIRED: dict[str, set[str]] = {
    "import": {"kind", "file"},
    "test": {"audience", "then", "else"},
    "wait_until": {"time"},
    "deliver": {"delivery"},
    "journey": {"journey"},
    "export": {"out"},
    "audience": {"build"},
}


@dataclass(frozen=True, slots=True)
class Trigger:
    """What starts a workflow: a ``cron`` schedule, a new ``file`` in a folder, profiles entering an ``audience``
    (between two of its builds), only ``api`` / manual calls, or ``once`` at a time (a delivery's plan schedule)."""

    kind: Literal["cron", "file", "audience", "api", "once"]
    cron: Cron | None = None
    folder: str = ""
    pattern: str = "*"
    audience: str = ""
    at: dt.datetime | None = None  # aware, for ``once``


@dataclass(frozen=True, slots=True)
class Breakers:
    """When a delivery must not send; ``None`` turns a breaker off."""

    max_source_age_hours: float | None = None
    sources: tuple[str, ...] = ()  # raw tables; empty: every raw table with data
    max_audience_change_percent: float | None = None


@dataclass(frozen=True, slots=True)
class Activity:
    """One node of the graph; ``options`` keeps the type's own keys as written (validated)."""

    id: str
    type: ActivityType
    next: tuple[str, ...]  # one successor, two for a test (then, else), none for an end
    options: Mapping[str, Any] = field(default_factory=dict)
    breakers: Breakers = Breakers()


@dataclass(frozen=True, slots=True)
class Workflow:
    """One workflow file; ``version`` changes whenever the file does."""

    name: str
    description: str
    trigger: Trigger
    activities: tuple[Activity, ...]
    path: Path
    paused: bool = False

    @property
    def first(self) -> Activity:
        return self.activities[0]

    def activity(self, activity_id: str) -> Activity:
        return next(a for a in self.activities if a.id == activity_id)


# ----------------------------------------------------------------------------------------------- journeys


@dataclass(frozen=True, slots=True)
class JourneyStep:
    """Message ``id`` goes out ``day`` days after a profile entered; with ``after``, only to profiles that were sent
    that step's message, and with ``unless``, only if they did not open (or click) it."""

    id: str
    day: int
    channel: str
    template: str
    topic: str | None
    sender: Mapping[str, str] | None
    after: str | None = None
    unless: str | None = None


@dataclass(frozen=True, slots=True)
class Journey:
    """A multi-step sequence per profile; each profile's position is a query over the warehouse and the ledger."""

    name: str
    description: str
    start: dt.date  # profiles entering before this date are not enrolled
    entry: str  # the profiles column whose date is a profile's day 0
    time_zone: str
    steps: tuple[JourneyStep, ...]
    path: Path


# ----------------------------------------------------------------------------------------------- loading


def workflows_dir(project: Project) -> Path:
    return project.specs_dir / "workflows"


def journeys_dir(project: Project) -> Path:
    return project.specs_dir / "journeys"


def _read(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkflowSpecError(f"{path}: cannot read the file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise WorkflowSpecError(f"{path}: not valid YAML: {exc}") from exc


def load_workflow(path: Path) -> Workflow:
    flow = parse_workflow(_read(path), path)
    if flow.name != path.stem:
        raise WorkflowSpecError(f"{path}: workflow {flow.name!r} differs from the file name {path.stem!r}")
    return flow


def parse_workflow(data: object, path: Path) -> Workflow:
    where = str(path)
    m = _mapping(data, where, {"workflow", "description", "schedule", "trigger", "activities", "paused"})
    name = _id(m.get("workflow"), f"{where}: workflow")
    if ("schedule" in m) == ("trigger" in m):
        raise WorkflowSpecError(
            f"{where}: give exactly one of `schedule` (cron) or `trigger` (file, enters_audience or api)"
        )
    trigger = _schedule(m["schedule"], f"{where}: schedule") if "schedule" in m else _trigger(m["trigger"], where)
    raw = m.get("activities")
    if not isinstance(raw, list) or not raw:
        raise WorkflowSpecError(f"{where}: `activities` must be a non-empty list")
    ids = [a.get("id") if isinstance(a, Mapping) else None for a in raw]
    activities = tuple(_activity(a, i, ids, where) for i, a in enumerate(raw))
    seen: set[str] = set()
    for a in activities:
        if a.id in seen:
            raise WorkflowSpecError(f"{where}: activity {a.id!r} is defined twice")
        seen.add(a.id)
    for a in activities:
        for target in a.next:
            if target not in seen:
                raise WorkflowSpecError(
                    f"{where}: activity {a.id!r}: goes to {target!r}, which is not an activity of this workflow"
                )
    _check_acyclic(activities, where)
    paused = m.get("paused", False)
    if not isinstance(paused, bool):
        raise WorkflowSpecError(f"{where}: paused must be true or false")
    return Workflow(name, _text(m.get("description"), f"{where}: description"), trigger, activities, path, paused)


def _schedule(data: object, where: str) -> Trigger:
    m = _mapping(data, where, {"cron", "time_zone"})
    zone = _zone(m.get("time_zone", "UTC"), where)
    try:
        return Trigger("cron", cron=Cron.parse(str(m.get("cron", "")), zone))
    except ValueError as exc:
        raise WorkflowSpecError(f"{where}: {exc}") from None


def _trigger(data: object, where: str) -> Trigger:
    if data == "api":
        return Trigger("api")
    m = _mapping(data, f"{where}: trigger", {"file", "enters_audience"})
    if len(m) != 1:
        raise WorkflowSpecError(
            f"{where}: trigger is `api`, `{{file: {{folder, pattern}}}}` or `{{enters_audience: NAME}}`"
        )
    if "enters_audience" in m:
        return Trigger("audience", audience=_id(m["enters_audience"], f"{where}: trigger.enters_audience"))
    f = _mapping(m.get("file"), f"{where}: trigger.file", {"folder", "pattern"})
    folder = f.get("folder")
    if not isinstance(folder, str) or not folder:
        raise WorkflowSpecError(f"{where}: trigger.file.folder must name a folder (relative to the project)")
    return Trigger("file", folder=folder, pattern=_text(f.get("pattern", "*"), f"{where}: trigger.file.pattern"))


def _activity(data: object, index: int, ids: list[Any], where: str) -> Activity:
    if not isinstance(data, Mapping):
        raise WorkflowSpecError(f"{where}: activities[{index}]: expected a mapping with id and type")
    activity_id = _id(data.get("id"), f"{where}: activities[{index}].id")
    here = f"{where}: activity {activity_id!r}"
    kind = data.get("type")
    if kind not in ACTIVITY_TYPES:
        raise WorkflowSpecError(f"{here}: type must be one of {', '.join(ACTIVITY_TYPES)}; got {kind!r}")
    m = _mapping(data, here, {"id", "type", "next", *_KEYS[kind]})
    missing = sorted(_REQUIRED.get(kind, set()) - set(m))
    if missing:
        raise WorkflowSpecError(f"{here}: a {kind} activity needs {', '.join(missing)}")
    options = {k: v for k, v in m.items() if k not in ("id", "type", "next")}
    following = ids[index + 1] if index + 1 < len(ids) else None
    if kind == "end":
        if "next" in m:
            raise WorkflowSpecError(f"{here}: an end activity has no next")
        nxt: tuple[str, ...] = ()
    elif kind == "test":
        if "next" in m:
            raise WorkflowSpecError(f"{here}: a test goes to `then` or `else`, not `next`")
        nxt = (_id(m["then"], f"{here}: then"), _id(m["else"], f"{here}: else"))
    elif "next" in m:
        nxt = (_id(m["next"], f"{here}: next"),)
    else:
        nxt = (str(following),) if following is not None else ()
    breakers = _check_options(kind, options, here)
    return Activity(activity_id, cast(ActivityType, kind), nxt, options, breakers)


def _check_options(kind: str, o: Mapping[str, Any], here: str) -> Breakers:
    if kind == "import":
        if o["kind"] not in IMPORT_KINDS:
            raise WorkflowSpecError(f"{here}: kind must be one of {', '.join(IMPORT_KINDS)}; got {o['kind']!r}")
        _text(o["file"], f"{here}: file")
        if o.get("missing", "fail") not in ("fail", "skip"):
            raise WorkflowSpecError(f"{here}: missing must be fail or skip (what to do when the file is absent)")
        if o.get("unknown_columns", "error") not in ("error", "ignore", "attributes"):
            raise WorkflowSpecError(f"{here}: unknown_columns must be error, ignore or attributes")
    if kind == "build" and "select" in o:
        _names(o["select"], f"{here}: select", pattern=None)
    if kind == "audience":
        _names(o["build"], f"{here}: build")
    if kind == "test":
        _id(o["audience"], f"{here}: audience")
        if "min" not in o and "max" not in o:
            raise WorkflowSpecError(f"{here}: a test needs `min` or `max` (members of the audience)")
        for key in ("min", "max"):
            if key in o:
                bounded(o[key], PROFILES, f"{here}: {key}", _FAIL)
    if kind == "wait":
        if not any(k in o for k in ("hours", "minutes")):
            raise WorkflowSpecError(f"{here}: a wait needs `hours` or `minutes`")
        for key in ("hours", "minutes"):
            if key in o:
                bounded(o[key], WAIT[key], f"{here}: {key}", _FAIL)
    if kind == "wait_until":
        try:
            dt.time.fromisoformat(str(o["time"]))
        except ValueError:
            raise WorkflowSpecError(f"{here}: time must be a local time HH:MM; got {o['time']!r}") from None
    if kind == "journey":
        _id(o["journey"], f"{here}: journey")
    if kind == "export":
        if ("table" in o) == ("audience" in o):
            raise WorkflowSpecError(f"{here}: an export names exactly one of `table` or `audience`")
        if o.get("format", "csv") not in ("csv", "parquet"):
            raise WorkflowSpecError(f"{here}: format must be csv or parquet")
        _text(o["out"], f"{here}: out")
    if kind == "deliver":
        _id(o["delivery"], f"{here}: delivery")
        approval = _mapping(o.get("approval", {"policy": "wait"}), f"{here}: approval", {"policy", "by"})
        if approval.get("policy", "wait") not in ("wait", "auto"):
            raise WorkflowSpecError(f"{here}: approval.policy must be wait (a person approves) or auto")
        if approval.get("policy") == "auto" and not isinstance(approval.get("by"), str):
            raise WorkflowSpecError(f"{here}: approval.policy auto needs `by`: the approver it approves as")
        if not isinstance(o.get("send", True), bool):
            raise WorkflowSpecError(f"{here}: send must be true or false")
        b = _mapping(
            o.get("breakers", {}),
            f"{here}: breakers",
            {"max_source_age_hours", "sources", "max_audience_change_percent"},
        )
        for key, bound in BREAKERS.items():
            if key in b:
                bounded(b[key], bound, f"{here}: breakers.{key}", _FAIL)
        return Breakers(
            max_source_age_hours=b.get("max_source_age_hours"),
            sources=tuple(_names(b.get("sources", []), f"{here}: breakers.sources")),
            max_audience_change_percent=b.get("max_audience_change_percent"),
        )
    return Breakers()


def _check_acyclic(activities: tuple[Activity, ...], where: str) -> None:
    by_id = {a.id: a for a in activities}
    state: dict[str, int] = {}

    def visit(a: Activity, path: list[str]) -> None:
        state[a.id] = 1
        for n in a.next:
            if state.get(n) == 1:
                loop = " → ".join([*path[path.index(n) :], n])
                raise WorkflowSpecError(f"{where}: activity {a.id!r}: the graph loops ({loop})")
            if n not in state:
                visit(by_id[n], [*path, n])
        state[a.id] = 2

    visit(activities[0], [activities[0].id])
    unreachable = [a.id for a in activities if a.id not in state]
    if unreachable:
        raise WorkflowSpecError(f"{where}: activity {unreachable[0]!r} is never reached from {activities[0].id!r}")


def load_journey(path: Path) -> Journey:
    where = str(path)
    m = _mapping(_read(path), where, {"journey", "description", "start", "entry", "time_zone", "steps"})
    name = _id(m.get("journey"), f"{where}: journey")
    if name != path.stem:
        raise WorkflowSpecError(f"{where}: journey {name!r} differs from the file name {path.stem!r}")
    start = m.get("start")
    if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
        try:
            start = dt.date.fromisoformat(str(start))
        except ValueError:
            raise WorkflowSpecError(
                f"{where}: start must be a date YYYY-MM-DD (profiles entering before it are not enrolled)"
            ) from None
    raw = m.get("steps")
    if not isinstance(raw, list) or not raw:
        raise WorkflowSpecError(f"{where}: `steps` must be a non-empty list")
    steps: list[JourneyStep] = []
    for i, s in enumerate(raw):
        sid = _id(s.get("id") if isinstance(s, Mapping) else None, f"{where}: steps[{i}].id")
        here = f"{where}: step {sid!r}"
        sm = _mapping(s, here, {"id", "day", "channel", "template", "topic", "sender", "after", "unless"})
        # Days after entry; 0 is the entry day.
        day = int(bounded(sm.get("day"), DAYS, f"{here}: day", _FAIL))
        channel = sm.get("channel")
        if channel not in ("email", "sms"):
            raise WorkflowSpecError(f"{here}: channel must be email or sms; got {channel!r}")
        after = sm.get("after")
        if after is not None and after not in {x.id for x in steps}:
            raise WorkflowSpecError(f"{here}: after must name an earlier step; got {after!r}")
        unless = sm.get("unless")
        if unless is not None and (unless not in OPEN_EVENTS or after is None):
            raise WorkflowSpecError(f"{here}: unless must be opened or clicked, with `after` naming the step")
        sender = sm.get("sender")
        if channel == "email" and not (isinstance(sender, Mapping) and isinstance(sender.get("from_email"), str)):
            raise WorkflowSpecError(f"{here}: an email step needs sender: {{from_name, from_email}}")
        topic = sm.get("topic")
        steps.append(
            JourneyStep(
                sid,
                day,
                str(channel),
                _id(sm.get("template"), f"{here}: template"),
                None if topic is None else _id(topic, f"{here}: topic"),
                None if sender is None else {str(k): str(v) for k, v in sender.items()},
                after,
                unless,
            )
        )
    if len({s.id for s in steps}) != len(steps):
        raise WorkflowSpecError(f"{where}: step ids must be unique")
    entry = _id(m.get("entry", "created_at"), f"{where}: entry")
    return Journey(
        name,
        _text(m.get("description"), f"{where}: description"),
        start,
        entry,
        _zone(m.get("time_zone", "UTC"), where),
        tuple(steps),
        path,
    )


# ----------------------------------------------------------------------------------------------- small parsers


def _mapping(data: object, where: str, known: set[str]) -> Mapping[str, Any]:
    return mapping_with_known_keys(data, where, known, _FAIL)


def _id(value: object, where: str) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise WorkflowSpecError(f"{where}: must be lower-case letters, digits and underscores; got {value!r}")
    return value


def _text(value: object, where: str) -> str:
    return free_text(value, where, _FAIL)


def _zone(value: object, where: str) -> str:
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise WorkflowSpecError(
            f"{where}: unknown time zone {value!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return str(value)


def _names(value: object, where: str, pattern: re.Pattern[str] | None = ID_PATTERN) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise WorkflowSpecError(f"{where}: expected a list of names")
    bad = [v for v in value if pattern is not None and not pattern.match(v)]
    if bad:
        raise WorkflowSpecError(f"{where}: not valid names: {', '.join(bad)}")
    return cast(list[str], value)
