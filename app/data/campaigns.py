"""The logic behind the campaign pages: plans and delivery statuses, plan and template edits, live previews,
background preparations, preparation reports and approvals.

Statuses come from the published warehouse (runs, their control results and approvals) and the specs as they
are now (a run is outdated once the content it was prepared with differs from the current content). Warehouse
reads are cached with the published file's path in the key, like every page's; anything that also depends on
the specs (statuses, rendered samples) is computed per run or keyed by a digest of the files it reads.

Edits never leave a broken spec behind: a plan is parsed and its references checked before it is written, a
template is loaded (compiled) from a staging copy before its files are, and both are written atomically.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import altair as alt
import duckdb
import pandas as pd
import streamlit as st
import yaml

from app.charts import ChartOptions
from app.data.warehouse import CACHE_TTL
from herald import clock, warehouse
from herald.campaigns import jobs
from herald.campaigns.approvals import ApprovalRecord, SendCheck, approvals, approve, check_send
from herald.campaigns.catalog import Catalog, DeliveryRef
from herald.campaigns.plans import Campaign, Delivery, Program, Schedule, load_program, parse_program
from herald.campaigns.prepare import content_hash, sample_context
from herald.campaigns.report import RULE_ORDER, RunReport, RunSummary, list_runs, run_report, sample_messages
from herald.content.render import RenderedMessage, Renderer
from herald.errors import HeraldError, PlanError, TemplateError
from herald.project import Project
from senders import ledger

# ---------------------------------------------------------------------------------------------- statuses

Status = Literal["draft", "prepared", "blocked", "approved", "outdated", "sending", "sent", "cancelled"]
# What the senders will record about a delivery; nothing records it yet, so no status below comes from it.
SendState = Literal["sending", "sent", "cancelled"]
STATUSES: tuple[Status, ...] = ("draft", "prepared", "blocked", "approved", "outdated", "sending", "sent", "cancelled")
STATUS_COLOURS: Mapping[Status, str] = {
    "draft": "#9e9e9e",
    "prepared": "#1565c0",
    "blocked": "#c62828",
    "approved": "#2e7d32",
    "outdated": "#ef6c00",
    "sending": "#6a1b9a",
    "sent": "#37474f",
    "cancelled": "#bdbdbd",
}
# st.badge colours, by status.
STATUS_BADGES: Mapping[Status, Literal["gray", "blue", "red", "green", "orange", "violet"]] = {
    "draft": "gray",
    "prepared": "blue",
    "blocked": "red",
    "approved": "green",
    "outdated": "orange",
    "sending": "violet",
    "sent": "gray",
    "cancelled": "gray",
}
STATUS_HELP: Mapping[Status, str] = {
    "draft": "Never prepared.",
    "prepared": "The latest run is prepared and not approved yet.",
    "blocked": "A control rule failed on the latest run: it cannot be approved or sent.",
    "approved": "The latest run is approved for the current content.",
    "outdated": "The template, sender, channel or topic changed since the latest run: prepare it again.",
    "sending": "The sender is sending the approved run.",
    "sent": "The approved run was sent.",
    "cancelled": "The send was cancelled.",
}


@dataclass(frozen=True, slots=True)
class LatestRun:
    """What the warehouse says about a delivery's latest run."""

    run_id: str
    content_hash: str
    plan_version: str
    prepared_at: dt.datetime
    audience_size: int
    send_count: int
    control_count: int
    excluded_count: int
    runs: int  # runs of the delivery so far
    failed_controls: tuple[tuple[str, str], ...]  # (rule, message)
    approvals: tuple[ApprovalRecord, ...]


def delivery_status(latest: LatestRun | None, current_hash: str | None, send_state: SendState | None = None) -> Status:
    """Where a delivery stands. ``current_hash`` is the content hash of its specs now (None: the template does
    not load, so no run can match it); ``send_state`` is what its sender recorded, which wins once there is one."""
    if send_state is not None:
        return send_state
    if latest is None:
        return "draft"
    if current_hash != latest.content_hash:
        return "outdated"
    if latest.failed_controls:
        return "blocked"
    # An approval records the content hash it saw: only one for the current content counts.
    if any(a.content_hash == current_hash for a in latest.approvals):
        return "approved"
    return "prepared"


def _connect(db: str) -> duckdb.DuckDBPyConnection:
    return warehouse.open_published(Path(db))


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = con.execute(sql, params or []).to_arrow_table().to_pylist()
    return rows


@st.cache_data(ttl=CACHE_TTL, max_entries=8, show_spinner=False)
def latest_runs(db: str) -> dict[str, LatestRun]:
    """Delivery id → its latest run in the published file ``db`` (deliveries never prepared are absent)."""
    con = _connect(db)
    try:
        if "delivery_runs" not in warehouse.mart_tables(con):
            return {}
        rows = _records(
            con,
            "select *, count(*) over (partition by delivery_id) as runs from delivery_runs"
            " qualify row_number() over (partition by delivery_id order by run_id desc) = 1",
        )
        failed: dict[str, list[tuple[str, str]]] = {}
        try:
            for r in _records(
                con,
                "select run_id, rule, message from herald_meta.delivery_run_controls where not passed order by rowid",
            ):
                failed.setdefault(r["run_id"], []).append((r["rule"], r["message"]))
        except duckdb.CatalogException:
            pass  # no run recorded controls yet
        out: dict[str, LatestRun] = {}
        for r in rows:
            out[r["delivery_id"]] = LatestRun(
                run_id=r["run_id"],
                content_hash=r["content_hash"],
                plan_version=r["plan_version"] or "",
                prepared_at=r["prepared_at"],
                audience_size=int(r["audience_size"]),
                send_count=int(r["send_count"]),
                control_count=int(r["control_count"]),
                excluded_count=int(r["excluded_count"]),
                runs=int(r["runs"]),
                failed_controls=tuple(failed.get(r["run_id"], ())),
                approvals=tuple(approvals(con, r["run_id"])),
            )
    finally:
        con.close()
    return out


# ---------------------------------------------------------------------------------------------- plans


@dataclass(frozen=True, slots=True)
class Plans:
    """The plan files that load, keyed by file, and why the others do not."""

    programs: dict[Path, Program]
    broken: dict[Path, str]

    def refs(self) -> list[DeliveryRef]:
        return [DeliveryRef(p, c, d) for p in self.programs.values() for c in p.campaigns for d in c.deliveries]

    def ref(self, delivery_id: str) -> DeliveryRef | None:
        return next((r for r in self.refs() if r.delivery.id == delivery_id), None)

    def path_of(self, delivery_id: str) -> Path | None:
        for path, program in self.programs.items():
            if any(d.id == delivery_id for c in program.campaigns for d in c.deliveries):
                return path
        return None


def load_plans(project: Project) -> Plans:
    """Every plan file; one that does not load is reported and does not hide the others."""
    folder = Catalog.of(project).plans_dir
    programs: dict[Path, Program] = {}
    broken: dict[Path, str] = {}
    for path in sorted(folder.glob("*.yml")) if folder.is_dir() else []:
        try:
            programs[path] = load_program(path)
        except PlanError as exc:
            broken[path] = str(exc)
    return Plans(programs, broken)


def current_hash(project: Project, ref: DeliveryRef) -> str | None:
    """The content hash the delivery would be prepared with now; None when its template does not load."""
    try:
        template = Renderer(Catalog.of(project).templates_dir).load(ref.delivery.template)
    except TemplateError:
        return None
    return content_hash(template, ref.delivery)


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    program: Program
    campaign: Campaign
    delivery: Delivery
    status: Status
    latest: LatestRun | None


def overview(db: str, project: Project, plans: Plans) -> list[DeliveryRow]:
    runs = latest_runs(db)
    rows = []
    for ref in plans.refs():
        latest = runs.get(ref.delivery.id)
        status = delivery_status(latest, current_hash(project, ref))
        rows.append(DeliveryRow(ref.program, ref.campaign, ref.delivery, status, latest))
    return rows


CHANNEL_LABELS = {"email": "Email", "sms": "SMS", "push": "Push", "in_app": "In-app", "direct_mail": "Direct mail"}


def schedule_text(s: Schedule) -> str:
    if s.kind == "once" and s.at is not None:
        return f"{s.at:%Y-%m-%d %H:%M} ({s.time_zone})"
    if s.kind == "recurring":
        return f"cron {s.cron} ({s.time_zone})"
    if s.kind == "triggered":
        return f"when a profile enters {s.enters_audience}"
    return "manual"


def deliveries_frame(rows: list[DeliveryRow]) -> pd.DataFrame:
    """One row per delivery, for the list on the Campaigns page."""
    records = []
    for r in rows:
        d = r.delivery
        records.append(
            {
                "delivery": d.id,
                "campaign": r.campaign.name,
                "channel": CHANNEL_LABELS.get(d.channel, d.channel),
                "status": r.status,
                "schedule": schedule_text(d.schedule),
                "audience": d.audience,
                "template": d.template,
                "to_send": None if r.latest is None else r.latest.send_count,
                "prepared_at": None if r.latest is None else r.latest.prepared_at,
                "approved_by": ", ".join(sorted({a.approver for a in r.latest.approvals}))
                if r.status == "approved" and r.latest is not None
                else "",
            }
        )
    return pd.DataFrame(
        records,
        columns=[
            "delivery", "campaign", "channel", "status", "schedule", "audience", "template", "to_send",
            "prepared_at", "approved_by",
        ],
    )  # fmt: skip


def timeline_frames(rows: list[DeliveryRow], plans: Plans) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Campaign bars (``campaign``, ``row``, ``program``, ``start``, ``end``, ``owner``, ``budget``) and delivery
    marks (``campaign``, ``row``, ``delivery``, ``at``, ``channel``, ``status``) for the calendar. A campaign with
    one date spans that day; an end date is inclusive. Only deliveries scheduled at a time have a mark."""
    bars = []
    for program in plans.programs.values():
        for c in program.campaigns:
            if c.start is None and c.end is None:
                continue
            start = c.start or c.end
            end = c.end or c.start
            assert start is not None and end is not None
            bars.append(
                {
                    "campaign": c.name,
                    "row": c.name,
                    "program": program.name,
                    "start": pd.Timestamp(start),
                    "end": pd.Timestamp(end + dt.timedelta(days=1)),
                    "owner": c.owner,
                    "budget": c.budget,
                }
            )
    marks = [
        {
            "campaign": r.campaign.name,
            "row": f"↳ {r.delivery.id}",
            "delivery": r.delivery.id,
            "at": pd.Timestamp(r.delivery.schedule.at),
            "channel": CHANNEL_LABELS.get(r.delivery.channel, r.delivery.channel),
            "status": r.status,
        }
        for r in rows
        if r.delivery.schedule.at is not None
    ]
    return (
        pd.DataFrame(bars, columns=["campaign", "row", "program", "start", "end", "owner", "budget"]),
        pd.DataFrame(marks, columns=["campaign", "row", "delivery", "at", "channel", "status"]),
    )


def timeline_chart(bars: pd.DataFrame, marks: pd.DataFrame, options: ChartOptions) -> alt.LayerChart:
    """Campaigns as bars over their dates, scheduled deliveries as marks coloured by status, today as a rule."""
    # One row per campaign (its dates) followed by one row per scheduled delivery of it.
    names: list[str] = []
    for campaign in dict.fromkeys([*bars["campaign"], *marks["campaign"]]):
        names += [campaign, *marks.loc[marks["campaign"] == campaign, "row"]]
    y = alt.Y("row:N", title=None, sort=names, axis=alt.Axis(labelLimit=260))
    layers: list[alt.Chart] = []
    if not bars.empty:
        layers.append(
            alt.Chart(bars)
            .mark_bar(color="#bbdefb", cornerRadius=3, height=22)
            .encode(
                x=alt.X("start:T", title=None, axis=alt.Axis(format="%d %b %Y")),
                x2="end:T",
                y=y,
                tooltip=[
                    alt.Tooltip("campaign:N", title="Campaign"),
                    alt.Tooltip("program:N", title="Program"),
                    alt.Tooltip("start:T", title="Starts", format="%Y-%m-%d"),
                    alt.Tooltip("owner:N", title="Owner"),
                    alt.Tooltip("budget:Q", title="Budget", format=",.0f"),
                ],
            )
        )
    if not marks.empty:
        statuses = list(STATUS_COLOURS)
        layers.append(
            alt.Chart(marks)
            .mark_point(filled=True, size=160, opacity=1)
            .encode(
                x=alt.X("at:T", title=None),
                y=y,
                color=alt.Color(
                    "status:N",
                    title="Status",
                    scale=alt.Scale(domain=statuses, range=[STATUS_COLOURS[s] for s in statuses]),
                ),
                shape=alt.Shape("channel:N", title="Channel"),
                tooltip=[
                    alt.Tooltip("delivery:N", title="Delivery"),
                    alt.Tooltip("at:T", title="Scheduled (local time)", format="%Y-%m-%d %H:%M"),
                    alt.Tooltip("channel:N", title="Channel"),
                    alt.Tooltip("status:N", title="Status"),
                ],
            )
        )
    today = pd.DataFrame({"today": [pd.Timestamp(clock.today())]})
    layers.append(alt.Chart(today).mark_rule(color="#c62828", strokeDash=[4, 3]).encode(x="today:T"))
    chart: alt.LayerChart = (
        alt.layer(*layers)
        .properties(
            title=alt.Title(options.title, subtitle=options.subtitle or "", anchor="start"),
            # A band per campaign: a fixed pixel height collapses charts with a discrete axis in Streamlit 1.67.
            height=alt.Step(44),
        )
        .configure_legend(orient="bottom")
        .configure_view(strokeWidth=0)
    )
    return chart


# ---------------------------------------------------------------------------------------------- plan edits

ScheduleKind = Literal["manual", "once", "recurring", "triggered"]
# Delivery keys the settings form edits; every other key is edited as YAML ("more settings").
FORM_KEYS = ("audience", "template", "typology", "control_percent", "schedule")


@dataclass
class Settings:
    """A delivery's settings as the editor shows them."""

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


def _dump(data: object) -> str:
    # Flow style for mappings and lists of scalars only: the way plans are written by hand.
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=110)


def raw_delivery(path: Path, delivery_id: str) -> dict[str, Any]:
    """The delivery's mapping as written in its plan file."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for campaign in data.get("campaigns") or []:
        for delivery in campaign.get("deliveries") or []:
            if isinstance(delivery, dict) and delivery.get("id") == delivery_id:
                return delivery
    raise PlanError(f"{path}: no delivery {delivery_id!r}")


def settings_of(d: Delivery, raw: Mapping[str, Any]) -> Settings:
    s = d.schedule
    more = {k: v for k, v in raw.items() if k not in (*FORM_KEYS, "id")}
    return Settings(
        audience=d.audience,
        template=d.template,
        typology=d.typology,
        control_percent=d.control_percent,
        schedule_kind=s.kind,
        at_date=None if s.at is None else s.at.date(),
        at_time=None if s.at is None else s.at.time(),
        cron=s.cron or "",
        time_zone=s.time_zone,
        trigger_audience=s.enters_audience,
        more_yaml=_dump(more) if more else "",
    )


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _schedule_mapping(s: Settings) -> dict[str, Any] | None:
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


def delivery_mapping(raw: Mapping[str, Any], s: Settings) -> dict[str, Any]:
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


def plan_text_with(path: Path, delivery_id: str, s: Settings) -> str:
    """The plan file's new text with the delivery's settings applied; PlanError when the result would not be a
    valid plan (checked with the same parser ``herald prepare`` uses)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise PlanError(f"{path}: not valid YAML: {exc}") from exc
    for campaign in data.get("campaigns") or []:
        deliveries = campaign.get("deliveries") or []
        for i, delivery in enumerate(deliveries):
            if isinstance(delivery, dict) and delivery.get("id") == delivery_id:
                deliveries[i] = delivery_mapping(delivery, s)
    text = _dump(data)
    program = parse_program(yaml.safe_load(text), source=path.name)
    if program.id != path.stem:
        raise PlanError(f"{path.name}: program {program.id!r} differs from the file name {path.stem!r}")
    return text


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def save_settings(project: Project, path: Path, delivery_id: str, s: Settings) -> str | None:
    """Write the delivery's settings into its plan file; the reason it was refused, or None when saved."""
    try:
        text = plan_text_with(path, delivery_id, s)
        program = parse_program(yaml.safe_load(text), source=path.name)
        # The references (audience, template, typology and the typology's audiences) must exist too.
        catalog = Catalog.of(project)
        for campaign in program.campaigns:
            for d in campaign.deliveries:
                if d.id == delivery_id:
                    catalog.check(DeliveryRef(program, campaign, d))
        others = [
            d.id for p, other in load_plans(project).programs.items() if p != path
            for c in other.campaigns for d in c.deliveries
        ]  # fmt: skip
        twice = sorted({d.id for c in program.campaigns for d in c.deliveries} & set(others))
        if twice:
            raise PlanError(f"{path.name}: delivery ids also used in another plan: {', '.join(twice)}")
    except HeraldError as exc:
        return str(exc)
    _write_atomically(path, text)
    return None


def has_comments(path: Path) -> bool:
    """Whether the plan file has comments, which saving (a YAML rewrite) does not keep."""
    return any(line.lstrip().startswith("#") for line in path.read_text(encoding="utf-8").splitlines())


# ---------------------------------------------------------------------------------------------- templates

TEMPLATE_FILE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}\.(yml|yaml|html|txt|j2)$")
SHARED_FOLDERS = ("_blocks", "_layouts")


def template_names(project: Project) -> list[str]:
    folder = Catalog.of(project).templates_dir
    return sorted(p.parent.name for p in folder.glob("*/template.yml") if p.parent.name not in SHARED_FOLDERS)


def template_files(project: Project, name: str) -> dict[str, str]:
    """The template's editable files (template.yml first), name → text."""
    folder = Catalog.of(project).templates_dir / name
    files = sorted(p for p in folder.iterdir() if p.is_file() and TEMPLATE_FILE.match(p.name))
    files.sort(key=lambda p: p.name != "template.yml")
    return {p.name: p.read_text(encoding="utf-8") for p in files}


@contextmanager
def staged_renderer(project: Project, name: str, files: Mapping[str, str]) -> Iterator[Renderer]:
    """The one renderer, over a copy of the templates where template ``name`` has ``files``: previews and
    checks of unsaved edits go through exactly the code the preparation and the senders use."""
    source = Catalog.of(project).templates_dir
    with tempfile.TemporaryDirectory(prefix="herald-template-") as tmp:
        root = Path(tmp)
        for shared in SHARED_FOLDERS:
            if (source / shared).is_dir():
                shutil.copytree(source / shared, root / shared)
        folder = root / name
        shutil.copytree(source / name, folder)
        for file, text in files.items():
            if not TEMPLATE_FILE.match(file):
                raise TemplateError(f"template {name}: {file!r} is not a template file name")
            (folder / file).write_text(text, encoding="utf-8")
        yield Renderer(root)


def save_template(project: Project, name: str, files: Mapping[str, str]) -> str | None:
    """Write the changed files of template ``name``; refused (with the renderer's message) when the template
    would not load or compile."""
    try:
        with staged_renderer(project, name, files) as renderer:
            renderer.load(name)
            renderer.fields(name)
    except TemplateError as exc:
        return str(exc)
    folder = Catalog.of(project).templates_dir / name
    for file, text in files.items():
        path = folder / file
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            _write_atomically(path, text)
    return None


def template_users(plans: Plans, name: str) -> list[str]:
    return [r.delivery.id for r in plans.refs() if r.delivery.template == name]


@dataclass(frozen=True, slots=True)
class Preview:
    message: RenderedMessage | None
    error: str | None
    recipient: Mapping[str, Any] = field(default_factory=dict)


def profile_columns(db: str) -> list[str]:
    con = _connect(db)
    try:
        return [r[0] for r in con.execute("select column_name from (describe profiles)").fetchall()]
    finally:
        con.close()


def recipient(db: str, profile_id: str, fields: set[str]) -> dict[str, Any] | None:
    """The payload ``herald prepare`` would store for ``profile_id``: the profile columns the template reads
    and ``language_code``, as JSON (so values have the types the senders see). None: no such profile."""
    columns = profile_columns(db)
    wanted = [c for c in columns if c in fields or c in ("profile_id", "language_code")]
    pairs = ", ".join(f"'{c}', \"{c}\"" for c in wanted)  # allow-listed column names only
    con = _connect(db)
    try:
        row = con.execute(
            f"select cast(json_object({pairs}) as varchar) from profiles where profile_id = ?", [profile_id]
        ).fetchone()
    finally:
        con.close()
    return None if row is None else dict(json.loads(row[0]))


def preview(
    db: str,
    project: Project,
    ref: DeliveryRef,
    template: str,
    files: Mapping[str, str],
    profile_id: str,
    variant: str | None = None,
) -> Preview:
    """Template ``template`` with ``files`` rendered for ``profile_id``'s data from the published warehouse."""
    try:
        with staged_renderer(project, template, files) as renderer:
            fields = renderer.fields(template)
            data = recipient(db, profile_id, fields)
            if data is None:
                return Preview(None, f"No profile {profile_id!r} in the published warehouse.")
            context = sample_context(ref.delivery, ref.campaign.id, variant)
            message = renderer.render(template, data, context, label=profile_id)
            return Preview(message, None, data)
    except TemplateError as exc:
        return Preview(None, str(exc))


def preview_profiles(db: str, ref: DeliveryRef, limit: int = 20) -> list[str]:
    """Profiles to preview with: the delivery's test profiles, then members of its latest run's send list (or,
    before any run, the first profiles)."""
    con = _connect(db)
    try:
        tables = warehouse.mart_tables(con)
        rows: list[tuple[Any, ...]] = []
        if "send_lists" in tables:
            rows = con.execute(
                "select profile_id from send_lists where delivery_id = ? and profile_id is not null and run_id ="
                " (select max(run_id) from delivery_runs where delivery_id = ?) order by recipient_id limit ?",
                [ref.delivery.id, ref.delivery.id, limit],
            ).fetchall()
        if not rows:
            rows = con.execute("select profile_id from profiles order by profile_id limit ?", [limit]).fetchall()
    finally:
        con.close()
    return list(dict.fromkeys([*ref.delivery.test_profiles, *(str(r[0]) for r in rows)]))


def html_document(html: str) -> str:
    """An email's HTML for an iframe: a data URL (an origin of its own, so nothing in it can reach the app) that
    forbids scripts, as email clients do."""
    import base64

    policy = "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'; object-src 'none'\">"
    text = re.sub(r"(<head[^>]*>)", r"\1" + policy, html, count=1, flags=re.IGNORECASE)
    if text == html:
        text = policy + html
    return "data:text/html;charset=utf-8;base64," + base64.b64encode(text.encode("utf-8")).decode("ascii")


# ---------------------------------------------------------------------------------------------- preparation

PrepState = Literal["idle", "running", "succeeded", "failed"]
LOG_TAIL_CHARS = 3_000


@dataclass(frozen=True, slots=True)
class Preparation:
    state: PrepState
    job: jobs.PrepareJob | None = None
    message: str = ""
    log: str = ""


def _log_tail(project: Project, delivery_id: str) -> str:
    try:
        text = jobs.log_path(project, delivery_id).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:]


def preparation(project: Project, delivery_id: str) -> Preparation:
    """The delivery's last background preparation: running, succeeded, failed (a process that stopped
    without reporting counts as failed), or none."""
    job = jobs.read_job(project, delivery_id)
    if job is None:
        return Preparation("idle")
    if job.is_running:
        return Preparation("running", job)
    if job.is_lost:
        message = "The preparation stopped without reporting (its process is gone)."
        return Preparation("failed", job, message, _log_tail(project, delivery_id))
    if job.state == "failed":
        return Preparation("failed", job, job.message or "The preparation failed.", _log_tail(project, delivery_id))
    return Preparation("succeeded", job, job.message)


def start_preparation(project: Project, delivery_id: str) -> str | None:
    """Start ``herald prepare`` for the delivery in a separate process; why it could not start, or None."""
    try:
        jobs.start_prepare(project, delivery_id)
    except HeraldError as exc:
        return str(exc)
    return None


def running_preparations(project: Project) -> list[str]:
    """Deliveries being prepared now (each holds or waits for the project's build lock)."""
    folder = project.warehouse_dir / "jobs"
    out = []
    for path in sorted(folder.glob("prepare-*.json")) if folder.is_dir() else []:
        delivery_id = path.stem.removeprefix("prepare-")
        try:
            job = jobs.read_job(project, delivery_id)
        except HeraldError:
            continue
        if job is not None and job.is_running:
            out.append(delivery_id)
    return out


# ---------------------------------------------------------------------------------------------- reports

# Enough changes to count every move between two runs of a demo-sized audience exactly.
MAX_CHANGES = 20_000
SAMPLES = 10
RULE_LABELS: Mapping[str, str] = {
    "no_address": "No valid address",
    "no_consent": "No consent",
    "denylisted": "Denylisted",
    "quarantined": "Quarantined",
    "excluded_audience": "Excluded audience",
    "custom_rule": "Custom rule",
    "duplicate_address": "Duplicate address",
    "fatigue": "Fatigue",
}
DEPARTURE_LABELS: Mapping[str, str] = {
    "merged": "Merged into another profile",
    "no_longer_a_profile": "No longer a profile",
    "opted_out": "Opted out",
    "quarantined": "Address quarantined",
    "left_audience": "Left the audience",
}
WATERFALL_COLOURS = {"audience": "#1565c0", "exclusion": "#c62828", "control": "#757575", "send": "#2e7d32"}


@st.cache_data(ttl=CACHE_TTL, max_entries=16, show_spinner=False)
def runs_of(db: str, project: Project, delivery_id: str) -> list[RunSummary]:
    """The delivery's runs, newest first (``db`` keys the cache: a new publish may add one)."""
    return list_runs(project, delivery_id)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def report(db: str, project: Project, run_id: str) -> RunReport:
    return run_report(project, run_id, max_changes=MAX_CHANGES)


def specs_token(project: Project, template: str) -> str:
    """A digest of the files a rendering of ``template`` reads (and of the plans: the sample context)."""
    catalog = Catalog.of(project)
    h = hashlib.sha256()
    folders = [catalog.templates_dir / template, *(catalog.templates_dir / s for s in SHARED_FOLDERS)]
    files = [p for f in folders if f.is_dir() for p in sorted(f.rglob("*")) if p.is_file()]
    files += sorted(catalog.plans_dir.glob("*.yml"))
    for path in files:
        h.update(str(path).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def samples(db: str, project: Project, run_id: str, token: str) -> list[tuple[str, RenderedMessage | None, str | None]]:
    """Sample messages of the run rendered with real data (``token``: the specs they are rendered with)."""
    return sample_messages(project, run_id, SAMPLES)


def waterfall_frame(r: RunReport) -> pd.DataFrame:
    """The exclusion waterfall: the audience, one step per rule in the order rules apply (reasons summed), the
    control group, and what is left to send. Columns ``step``, ``rule``, ``kind``, ``members``, ``start``,
    ``end`` (the bar spans start..end), ``reasons``."""
    per_rule: dict[str, list[tuple[str, int]]] = {}
    for rule, reason, n in r.waterfall:
        per_rule.setdefault(rule, []).append((reason, n))
    size = r.run.audience_size
    rows: list[dict[str, Any]] = [
        {"step": "Audience", "rule": "", "kind": "audience", "members": size, "start": 0, "end": size, "reasons": ""}
    ]
    left = size
    order = sorted(per_rule, key=lambda rule: RULE_ORDER.index(rule) if rule in RULE_ORDER else len(RULE_ORDER))
    for rule in order:
        n = sum(count for _, count in per_rule[rule])
        reasons = "; ".join(f"{reason or rule}: {count:,}" for reason, count in per_rule[rule])
        label = RULE_LABELS.get(rule, rule)
        rows.append(
            {"step": label, "rule": rule, "kind": "exclusion", "members": n, "start": left - n, "end": left,
             "reasons": reasons}
        )  # fmt: skip
        left -= n
    control = r.run.control_count
    if control:
        rows.append(
            {"step": "Control group", "rule": "control", "kind": "control", "members": control,
             "start": left - control, "end": left, "reasons": "held out to measure the lift"}
        )  # fmt: skip
    send = r.run.send_count
    rows.append(
        {"step": "To send", "rule": "", "kind": "send", "members": send, "start": 0, "end": send, "reasons": ""}
    )
    return pd.DataFrame(rows, columns=["step", "rule", "kind", "members", "start", "end", "reasons"])


def waterfall_chart(frame: pd.DataFrame, options: ChartOptions) -> alt.LayerChart:
    steps = list(frame["step"])
    kinds = list(WATERFALL_COLOURS)
    base = alt.Chart(frame).encode(y=alt.Y("step:N", sort=steps, title=None))
    bars = base.mark_bar(height=24).encode(
        x=alt.X("start:Q", title="Members"),
        x2="end:Q",
        color=alt.Color(
            "kind:N", legend=None, scale=alt.Scale(domain=kinds, range=[WATERFALL_COLOURS[k] for k in kinds])
        ),
        tooltip=[
            alt.Tooltip("step:N", title="Step"),
            alt.Tooltip("members:Q", title="Members", format=","),
            alt.Tooltip("reasons:N", title="Reasons"),
        ],
    )
    labels = base.mark_text(align="left", dx=4, fontSize=12).encode(x="end:Q", text=alt.Text("members:Q", format=","))
    chart: alt.LayerChart = (
        alt.layer(bars, labels)
        .properties(
            title=alt.Title(options.title, subtitle=options.subtitle or "", anchor="start"),
            height=alt.Step(34),  # see timeline_chart
        )
        .configure_view(strokeWidth=0)
    )
    return chart


def groups_frame(r: RunReport) -> pd.DataFrame:
    """Rows of the send list per group (``group``, ``members``, ``share`` of the send list and control)."""
    frame = pd.DataFrame(list(r.groups), columns=["group", "members"])
    counted = frame.loc[frame["group"] != "seed", "members"].sum()
    frame["share"] = [
        0.0 if g == "seed" else m / max(int(counted), 1) * 100
        for g, m in zip(frame["group"], frame["members"], strict=True)
    ]
    return frame


def moves_frame(r: RunReport) -> pd.DataFrame:
    """How many profiles moved from each place to each other since the previous run (``before``, ``after``,
    ``profiles``), largest first."""
    frame = pd.DataFrame([(c.before, c.after) for c in r.changes], columns=["before", "after"])
    if frame.empty:
        return pd.DataFrame(columns=["before", "after", "profiles"])
    moves = frame.groupby(["before", "after"]).size().reset_index(name="profiles")
    return moves.sort_values(["profiles", "before", "after"], ascending=[False, True, True], ignore_index=True)


def changes_frame(r: RunReport) -> pd.DataFrame:
    return pd.DataFrame([dataclasses.astuple(c) for c in r.changes], columns=["profile_id", "before", "after", "why"])


def departures_frame(r: RunReport) -> pd.DataFrame:
    """Profiles that left the audience since the previous run, per departure reason (``reason`` as a label,
    ``detail``: the consent source or quarantine reason, ``profiles``), in the report's order."""
    return pd.DataFrame(
        [(DEPARTURE_LABELS.get(reason, reason), detail, n) for reason, detail, n in r.departures],
        columns=["reason", "detail", "profiles"],
    )


# ---------------------------------------------------------------------------------------------- approvals


def approve_run(project: Project, run_id: str, approver: str, note: str = "") -> ApprovalRecord | str:
    """Record the approval; the refusal (as the library words it) when it is refused."""
    approver = approver.strip()
    if not approver:
        return "Enter the approver's name."
    try:
        return approve(project, run_id, approver, note.strip())
    except HeraldError as exc:
        return str(exc)


def send_check(project: Project, run_id: str) -> SendCheck | str:
    try:
        return check_send(project, run_id)
    except HeraldError as exc:
        return str(exc)


@st.cache_data(ttl=CACHE_TTL, max_entries=32, show_spinner=False)
def run_approvals(db: str, run_id: str) -> list[ApprovalRecord]:
    con = _connect(db)
    try:
        return approvals(con, run_id)
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------- page state

SELECTED = "cmp_delivery"  # the delivery the campaign pages show, shared between them
QUERY = "delivery"  # ...and its query parameter, so a delivery's pages can be linked to


def selected_delivery(ids: list[str]) -> str | None:
    """The delivery to show: the one the URL names, else the one last picked on any campaign page, else the
    first. Remembered for the other pages and mirrored in the URL."""
    wanted = st.query_params.get(QUERY)
    if wanted in ids:
        st.session_state[SELECTED] = wanted
    current = st.session_state.get(SELECTED)
    if current not in ids:
        current = ids[0] if ids else None
        st.session_state[SELECTED] = current
    if current is not None and st.query_params.get(QUERY) != current:
        st.query_params[QUERY] = current
    return current


def remember_delivery(widget_key: str) -> None:
    """on_change of a page's delivery picker."""
    st.session_state[SELECTED] = st.session_state[widget_key]
    st.query_params[QUERY] = st.session_state[widget_key]


@dataclass(frozen=True, slots=True)
class SendStates:
    """Where a run's messages stand in the send ledger: counts per state, and the unknown ones with their reasons."""

    counts: Mapping[str, int]
    unknown: pd.DataFrame  # message_id, recipient_id, since, reason


def send_states(project: Project, run_id: str) -> SendStates:
    """The run's ledger, latest entry per message (empty when nothing was sent)."""
    latest = ledger.read_run(project, run_id)
    counts: dict[str, int] = {}
    for e in latest.values():
        counts[e.state] = counts.get(e.state, 0) + 1
    unknown = [
        {"message_id": e.message_id, "recipient_id": e.recipient_id, "since": e.at[:19].replace("T", " "),
         "reason": e.reason or "no answer recorded"}
        for e in sorted(latest.values(), key=lambda e: e.at)
        if e.state == "unknown"
    ]  # fmt: skip
    return SendStates(counts, pd.DataFrame(unknown, columns=["message_id", "recipient_id", "since", "reason"]))
