"""The project does not age with the calendar: the demo and generated data are placed relative to the day they
land, one clock (herald.clock) is read everywhere, and a demo built with the machine's clock a year ahead is
as current as one built today."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from herald import clock
from herald.campaigns.catalog import Catalog
from herald.demo import (
    DEMO_DATED_SPECS,
    DEMO_RECORD,
    DemoShift,
    demo_is_loaded,
    load_demo,
    move_demo_specs,
    recorded_shift,
)
from herald.generate import generate
from herald.generate.seeds import DEMO_END_DATE
from herald.project import Project
from herald.warehouse import connect as warehouse_connect
from tests.conftest import ROOT, make_scratch_project

# Tables whose newest timestamp is "the newest event" of the demo.
EVENT_COLUMNS = {
    "app_events": "occurred_at",
    "esp_events": "occurred_at",
    "channel_events": "occurred_at",
    "shop_orders": "ordered_at",
    "consent_events": "occurred_at",
    "message_history": "sent_at",
}


def _newest(landing: Path) -> dt.date:
    con = duckdb.connect()
    try:
        days = [
            con.execute(f"select max({column})::date from read_parquet('{landing / table}/*.parquet')").fetchone()
            for table, column in EVENT_COLUMNS.items()
        ]
    finally:
        con.close()
    return max(d[0] for d in days if d is not None and d[0] is not None)


def test_the_demo_lands_with_its_newest_data_yesterday_and_keeps_its_shift(project: Project) -> None:
    today = dt.date(2027, 3, 15)
    landed = load_demo(project, today=today)
    assert landed
    assert _newest(project.landing_dir) == dt.date(2027, 3, 14)
    shift = recorded_shift(project)
    assert shift is not None and shift.days == (dt.date(2027, 3, 14) - DEMO_END_DATE).days
    # Batch ids sort by time: they moved with the data, and each file holds its own id.
    assert all(b.batch_id.startswith("20270315T") for b in landed)
    con = duckdb.connect()
    try:
        ids = con.execute(
            f"select distinct _batch_id from read_parquet('{project.landing_dir}/crm_contacts/*.parquet')"
        ).fetchall()
        birth = con.execute(
            f"select min(birth_date), max(_loaded_at) from read_parquet('{project.landing_dir}/crm_contacts/*.parquet')"
        ).fetchone()
    finally:
        con.close()
    assert sorted(i[0] for i in ids) == sorted(b.batch_id for b in landed if b.table == "crm_contacts")
    assert birth is not None and birth[1] == dt.datetime(2027, 3, 15)  # landed "today", like a real import

    # A later load, on any day, lands nothing new: the recorded shift is reused.
    assert load_demo(project, today=dt.date(2028, 1, 1)) == []
    assert demo_is_loaded(project)
    assert json.loads((project.landing_dir / DEMO_RECORD).read_text())["landed_on"] == "2027-03-15"


def test_a_landing_zone_filled_before_shifts_were_recorded_is_not_landed_twice(project: Project) -> None:
    load_demo(project, today=DEMO_END_DATE + dt.timedelta(days=1))  # no shift: the seeds' own batch ids
    (project.landing_dir / DEMO_RECORD).unlink()
    before = sorted(p.name for p in project.landing_dir.rglob("*.parquet"))
    assert load_demo(project, today=dt.date(2030, 6, 1)) == []
    assert sorted(p.name for p in project.landing_dir.rglob("*.parquet")) == before
    shift = recorded_shift(project)
    assert shift is not None and shift.days == 0


def test_generated_data_ends_yesterday_by_the_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pinned: dict[str, str] = {}
    clock.pin_environment(dt.datetime(2028, 2, 29, 18, 30, tzinfo=dt.UTC), pinned)
    monkeypatch.setenv(clock.OFFSET_ENV, pinned[clock.OFFSET_ENV])
    assert clock.today() == dt.date(2028, 2, 29)
    report = generate(tmp_path / "raw", profiles=30, events_per_profile=5, seed=7)
    assert _newest(tmp_path / "raw") == dt.date(2028, 2, 28)
    assert all(b.startswith("20280229T") for b in report.batch_ids)


def test_the_clock_moves_by_the_pinned_offset_and_keeps_ticking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(clock.OFFSET_ENV, str(-86_400 * 400))
    first = clock.now()
    assert abs((dt.datetime.now(dt.UTC) - first) - dt.timedelta(days=400)) < dt.timedelta(seconds=5)
    assert clock.now() >= first
    monkeypatch.setenv(clock.OFFSET_ENV, "soon")
    with pytest.raises(ValueError, match=clock.OFFSET_ENV):
        clock.now()


@pytest.mark.slow
def test_a_demo_built_with_the_clock_a_year_ahead_is_current(tmp_path: Path) -> None:
    """`herald demo` under faketime (the machine's clock a year ahead, no pinned offset): the data ends the faked
    yesterday, the build's reference time is the faked now, and a 7-day window holds recent activity, so "did
    not add to cart within 7 days" no longer matches every profile."""
    faketime = shutil.which("faketime")
    assert faketime is not None, "faketime (Debian package) is needed: `make test` installs it"
    env = {k: v for k, v in os.environ.items() if k != clock.OFFSET_ENV}
    scratch = make_scratch_project(tmp_path)  # `herald demo` moves the demo's specs: never the repository's
    shutil.copytree(ROOT / "seeds" / "demo", scratch.root / "seeds" / "demo")
    env |= {
        "HERALD_HOME": str(scratch.root),
        "HERALD_WAREHOUSE_DIR": str(scratch.warehouse_dir),
        # The monotonic clock moves with the rest: with FAKETIME_DONT_FAKE_MONOTONIC=1, libfaketime 0.9.10 makes
        # Python's time.sleep fail (EINVAL from its absolute-deadline clock_nanosleep).
        "FAKETIME_DONT_FAKE_MONOTONIC": "0",
    }
    command = [faketime, "-f", "+365d", sys.executable, "-m", "herald.cli", "demo"]
    done = subprocess.run(command, cwd=scratch.root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    # The day as the faked process sees it (this process may itself run under faketime).
    probe = [faketime, "-f", "+365d", sys.executable, "-c", "import datetime as d; print(d.datetime.now(d.UTC).date())"]
    faked_today = dt.date.fromisoformat(subprocess.run(probe, env=env, capture_output=True, text=True).stdout.strip())
    warehouse = scratch.warehouse_dir
    assert _newest(warehouse / "landing") in {faked_today - dt.timedelta(days=1), faked_today - dt.timedelta(days=2)}

    con = warehouse_connect(scratch)
    try:
        as_of = con.execute("select as_of from herald_meta.build_info").fetchone()
        counts = con.execute(
            "select count(*), count(*) filter (where profile_id not in (select profile_id from profile_events "
            "where event_type = 'add_to_cart' and occurred_at >= ?::timestamp - interval 7 day "
            "and occurred_at <= ?::timestamp and profile_id is not null)) from profiles",
            [as_of[0], as_of[0]] if as_of else [None, None],
        ).fetchone()
    finally:
        con.close()
    assert as_of is not None and as_of[0].date() in {faked_today, faked_today - dt.timedelta(days=1)}
    assert counts is not None and 0 < counts[1] < counts[0], counts

    # The demo's schedules moved with its data: they lie ahead of the (faked) day it landed.
    scheduled = [r.delivery.schedule.at for r in Catalog.of(scratch).deliveries() if r.delivery.schedule.at]
    assert scheduled and all(at.date() > faked_today for at in scheduled), scheduled


def test_the_demo_specs_move_with_the_demo_and_back(tmp_path: Path) -> None:
    scratch = make_scratch_project(tmp_path)
    plan = scratch.specs_dir / DEMO_DATED_SPECS[0]
    original = plan.read_text(encoding="utf-8")
    landed_on = DEMO_END_DATE + dt.timedelta(days=1)
    assert move_demo_specs(scratch, DemoShift(10, landed_on)) == [scratch.specs_dir / name for name in DEMO_DATED_SPECS]
    assert "2026-12-13 09:00" in plan.read_text(encoding="utf-8")  # the email was due 2026-12-03
    assert move_demo_specs(scratch, DemoShift(10, landed_on)) == []  # idempotent
    move_demo_specs(scratch, DemoShift(375, landed_on))  # another warehouse, landed on another day
    assert "2027-12-13 09:00" in plan.read_text(encoding="utf-8")
    assert plan.read_text(encoding="utf-8").startswith("# Dates moved with the demo data by 375 days.")
    move_demo_specs(scratch, DemoShift(0, landed_on))
    assert plan.read_text(encoding="utf-8") == original
