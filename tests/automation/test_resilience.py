"""``herald run`` killed at random points and run again sends every message exactly once; two at once never
overlap: one exits cleanly with its own exit code and a clear message, or queues with --wait."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
import time

from herald.project import Project
from orchestration.journal import run_history, scheduler_lock
from tests.automation.conftest import ROOT, expected_welcome, herald_run, run_env
from tests.fakes.sendgrid import FakeSendGrid


def test_killed_anywhere_and_run_again_sends_each_message_once(auto_project: Project, fake: FakeSendGrid) -> None:
    project = auto_project
    fake.latency = 0.04  # a few seconds of sending, for the kills to land in
    rng = random.Random(20261129)
    kills = 0
    killed_mid_send = 0  # kills that came after some messages of the attempt's day had gone out, before all had
    for day, attempts in ((dt.date(2026, 11, 21), 2), (dt.date(2026, 11, 25), 3)):
        args = ["--workflow", "welcome", "--now", f"{day.isoformat()}T09:00:00Z"]
        expected = expected_welcome(project, day)
        want = expected["welcome_email"] | expected["welcome_reminder"]
        for _ in range(attempts):
            # Where the kill lands is drawn, not timed: during the first seconds (the build, the claims), or once
            # a drawn number of the day's messages has gone out. A fast machine must not finish before the kill.
            sent_before = len(fake.accepted_ids() & want)
            target = rng.randint(-1, max(len(want) - sent_before - 1, 0))
            proc = subprocess.Popen(
                [sys.executable, "-m", "herald.cli", "run", *args],
                env=run_env(project, fake),
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if target < 0:
                time.sleep(rng.uniform(0.3, 2.0))
            else:
                deadline = time.monotonic() + 120
                while proc.poll() is None and time.monotonic() < deadline:
                    if len(fake.accepted_ids() & want) >= sent_before + target:
                        break
                    time.sleep(0.005)
            if proc.poll() is None:
                proc.kill()  # SIGKILL: no handler, no cleanup
                kills += 1
                proc.wait()
                sent = len(fake.accepted_ids() & want)
                killed_mid_send += 0 < sent < len(want)
            proc.wait()
        done = herald_run(project, fake, *args)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert fake.accepted_ids() == want
        assert all(fake.deliveries(m) == 1 for m in want)
    assert kills >= 3, "most attempts were killed before they finished"
    assert killed_mid_send >= 1, "at least one kill landed while messages were going out"
    assert not fake.duplicates()
    assert all(r.status == "succeeded" for r in run_history(project, "welcome"))


def test_a_second_run_exits_cleanly_while_one_works(auto_project: Project, fake: FakeSendGrid) -> None:
    project = auto_project
    args = ["--workflow", "welcome", "--now", "2026-11-21T09:00:00Z"]
    with scheduler_lock(project):
        busy = herald_run(project, fake, *args)
    assert busy.returncode == 75
    assert "another `herald run` is working" in busy.stderr and "--wait" in busy.stderr
    assert not fake.sent and not run_history(project, "welcome")
    # --wait queues behind the holder instead, and runs once it lets go.
    with scheduler_lock(project):
        waiting = subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "run", "--wait", *args],
            env=run_env(project, fake),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(3)
        assert waiting.poll() is None
    assert waiting.wait(timeout=120) == 0
    assert fake.accepted_ids()


def test_two_runs_started_at_once_never_overlap(auto_project: Project, fake: FakeSendGrid) -> None:
    project = auto_project
    fake.latency = 0.02
    args = ["--workflow", "welcome", "--now", "2026-11-25T09:00:00Z"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "herald.cli", "run", *args],
            env=run_env(project, fake),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 75]), results
    for code, err in results:
        if code == 75:
            assert "another `herald run` is working" in err
    expected = expected_welcome(project, dt.date(2026, 11, 25))
    assert fake.accepted_ids() == expected["welcome_email"] | expected["welcome_reminder"]
    assert not fake.duplicates()
