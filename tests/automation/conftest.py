"""Automation tests run workflows on private copies of the demo warehouse, sending to a strict fake SendGrid in
this process; ``herald run`` subprocesses reach it through the environment."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from herald import warehouse
from herald.project import Project
from orchestration.journeys import step_run_id
from orchestration.spec import journeys_dir, load_journey
from senders import ledger
from tests.conftest import make_scratch_project
from tests.fakes.sendgrid import FakeSendGrid
from tests.senders.conftest import API_KEY, sender_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def auto_project(tmp_path: Path, demo_project: Project) -> Project:
    return make_scratch_project(tmp_path, demo_project)


@pytest.fixture
def fake() -> Iterator[FakeSendGrid]:
    with FakeSendGrid(api_key=API_KEY) as f:
        yield f


def run_env(project: Project, fake: FakeSendGrid) -> dict[str, str]:
    return {**os.environ, **sender_env(project, fake)}


def herald_run(
    project: Project, fake: FakeSendGrid, *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "herald.cli", "run", *args],
        env=run_env(project, fake),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def expected_welcome(project: Project, day: dt.date, opened: frozenset[str] = frozenset()) -> dict[str, set[str]]:
    """Which message ids the welcome series should have sent by ``day``, derived from the demo data in Python
    (not with the journey's own query): entry on the local date of created_at, email reachable, latest email
    consent to newsletter or all is an opt-in; the reminder three days after entry unless the welcome was opened."""
    journey = load_journey(journeys_dir(project) / "welcome_series.yml")
    zone = ZoneInfo(journey.time_zone)
    con = warehouse.connect(project)
    try:
        profiles = con.execute("select profile_id, created_at, is_email_reachable, email from profiles").fetchall()
        consents = con.execute(
            "select profile_id, is_opted_in, status_since from profile_consents"
            " where channel = 'email' and topic in ('newsletter', 'all')"
        ).fetchall()
    finally:
        con.close()
    latest: dict[str, tuple[dt.datetime, bool]] = {}
    for pid, opted, since in consents:
        if pid not in latest or since > latest[pid][0]:
            latest[pid] = (since, bool(opted))
    entries: dict[str, dt.date] = {}
    for pid, created, reachable, email in profiles:
        if created is None or not reachable or not email or not latest.get(pid, (None, False))[1]:
            continue
        entries[pid] = created.replace(tzinfo=dt.UTC).astimezone(zone).date()

    def mid(step: str, pid: str) -> str:
        return ledger.message_id(step_run_id("welcome_series", step), pid, "email")

    welcome = {p for p, d in entries.items() if journey.start <= d <= day}
    reminder = {
        p for p in welcome if entries[p] + dt.timedelta(days=3) <= day and mid("welcome_email", p) not in opened
    }
    return {
        "welcome_email": {mid("welcome_email", p) for p in welcome},
        "welcome_reminder": {mid("welcome_reminder", p) for p in reminder},
    }
