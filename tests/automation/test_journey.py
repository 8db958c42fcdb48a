"""The welcome journey on the demo data, run day by day with a simulated clock: exactly the expected messages to
the expected profiles, an open stops a reminder, and the run history is readable from plain files."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow as pa

from herald import landing
from herald.project import Project
from herald.raw_schema import ESP_EVENTS
from orchestration.journal import run_history
from orchestration.journeys import due_profiles, step_run_id
from orchestration.logs import RunLog
from orchestration.scheduler import run_scheduler
from orchestration.spec import journeys_dir, load_journey
from senders import ledger
from tests.automation.conftest import expected_welcome, run_env
from tests.fakes.sendgrid import FakeSendGrid

START = dt.date(2026, 11, 18)
DAYS = [START + dt.timedelta(days=i) for i in range(8)]  # 18 → 25 November


def land_open(project: Project, message_id: str, email: str) -> None:
    data = pa.table(
        {
            "sg_event_id": [f"open-{message_id}"],
            "message_id": [message_id],
            "event": ["open"],
            "email": [email],
            "occurred_at": [dt.datetime(2026, 11, 19, 12, 0)],
        }
    )
    landing.land_batch(project, ESP_EVENTS, data, source_file="test-open")


def test_welcome_journey_day_by_day(auto_project: Project, fake: FakeSendGrid) -> None:
    project = auto_project
    env = run_env(project, fake)
    opened: frozenset[str] = frozenset()
    seen: set[str] = set()
    for day in DAYS:
        out = io.StringIO()
        # 10:00 Paris: after the 09:00 firing of the welcome workflow's schedule.
        now = dt.datetime.combine(day, dt.time(9, 0), dt.UTC)
        assert run_scheduler(project, now=now, workflow="welcome", log=RunLog(out), env=env) == 0
        expected = expected_welcome(project, day, opened)
        sent = fake.accepted_ids()
        want = expected["welcome_email"] | expected["welcome_reminder"]
        assert sent == want, f"{day}: {len(sent - want)} unexpected, {len(want - sent)} missing"
        new = sent - seen
        seen |= sent
        logged = [json.loads(line) for line in out.getvalue().splitlines()]
        finished = next(x for x in logged if x["event"] == "activity_finished")
        accepted_today = sum(s.get("accepted", 0) for s in finished["steps"].values())
        assert accepted_today == len(new)
        if day == START + dt.timedelta(days=1):
            # A day-0 profile opens its welcome email: it must not get the reminder on its day 3.
            first_day = sorted(expected_welcome(project, START)["welcome_email"])
            assert first_day, "the demo data has profiles entering on the journey's first day"
            message = fake.messages[first_day[0]][0]
            land_open(project, first_day[0], message.to[0])
            opened = frozenset({first_day[0]})
    assert not fake.duplicates()
    assert expected_welcome(project, DAYS[-1], opened)["welcome_reminder"], "some reminders went out"
    # Each message went to its profile's address, with the step's template.
    entries = ledger.read_run(project, step_run_id("welcome_series", "welcome_reminder"))
    for entry in entries.values():
        message = fake.messages[entry.message_id][0]
        assert message.subject and "did you see our welcome" in message.subject
    # The history a page reads: one succeeded run per day, each with its activity and counts.
    history = run_history(project, "welcome")
    assert [r.key[:8] for r in history] == [d.strftime("%Y%m%d") for d in reversed(DAYS)]
    assert all(r.status == "succeeded" and r.activities[0].status == "finished" for r in history)
    assert history[0].log_path.exists()


def test_a_missed_day_is_caught_up_by_the_next_run(auto_project: Project, fake: FakeSendGrid) -> None:
    project = auto_project
    env = run_env(project, fake)
    last = DAYS[4]
    now = dt.datetime.combine(last, dt.time(9, 0), dt.UTC)
    assert run_scheduler(project, now=now, workflow="welcome", log=RunLog(io.StringIO()), env=env) == 0
    expected = expected_welcome(project, last)
    assert fake.accepted_ids() == expected["welcome_email"] | expected["welcome_reminder"]
    # The same clock again: nothing is due, nothing is sent.
    before = len(fake.sent)
    out = io.StringIO()
    assert run_scheduler(project, now=now, workflow="welcome", log=RunLog(out), env=env) == 0
    assert len(fake.sent) == before
    assert "run_started" not in out.getvalue()


def test_a_claim_a_killed_run_left_is_settled_and_sent_by_the_next_run(
    auto_project: Project, fake: FakeSendGrid
) -> None:
    project = auto_project
    day = DAYS[0]
    want = expected_welcome(project, day)["welcome_email"]
    journey = load_journey(journeys_dir(project) / "welcome_series.yml")
    step = next(s for s in journey.steps if s.id == "welcome_email")
    profile = sorted(due_profiles(project, journey, step, day))[0]
    run_id = step_run_id("welcome_series", "welcome_email")
    victim = ledger.message_id(run_id, profile, "email")
    assert victim in want
    # What a process killed during its provider call leaves behind: the message claimed, never sent.
    shards = ledger.shard_count(project, run_id, 1)
    with ledger.Shard(project, run_id, ledger.shard_of(victim, shards)) as shard:
        shard.try_lock(wait=True)
        shard.append([ledger.Entry(victim, "claimed", 1, run_id, profile_id=profile, channel="email")])
    now = dt.datetime.combine(day, dt.time(9, 0), dt.UTC)
    # Right after the kill an absence proves nothing (Activity lags the send): the victim stays unknown, unsent.
    assert (
        run_scheduler(project, now=now, workflow="welcome", log=RunLog(io.StringIO()), env=run_env(project, fake)) == 0
    )
    assert fake.accepted_ids() == want - {victim} and fake.deliveries(victim) == 0
    # Once it has been in doubt longer than the settling time (0 here), the next day's run asked the provider
    # (absent) and sent it once; every message of the first day went out exactly once.
    settled = {**run_env(project, fake), "HERALD_SENDGRID_LOOKUP_SETTLE": "0"}
    later = now + dt.timedelta(days=1)
    assert run_scheduler(project, now=later, workflow="welcome", log=RunLog(io.StringIO()), env=settled) == 0
    assert want <= fake.accepted_ids() and fake.deliveries(victim) == 1
    assert fake.duplicates() == {}
    states = [e.state for e in ledger.read_history(project, run_id) if e.message_id == victim]
    assert states[:3] == ["claimed", "unknown", "released"] and states[-1] == "accepted"
