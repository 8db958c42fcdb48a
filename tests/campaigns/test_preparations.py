"""Where a background preparation stands, as the app reads it, without Streamlit: from the job file the
preparation's process keeps (``herald.campaigns.jobs``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from herald.campaigns.jobs import PrepareJob, log_path, write_job
from herald.campaigns.preparations import LOG_TAIL_LINES, preparation, running_preparations
from herald.errors import CampaignError
from herald.jobs import now
from herald.project import Project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(root=tmp_path, warehouse_dir=tmp_path / "warehouse")


def _gone_pid() -> int:
    """The id of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_delivery_never_prepared_is_idle(project: Project) -> None:
    assert preparation(project, "winter_sale_email").state == "idle"
    assert running_preparations(project) == []


def test_a_running_preparation_is_listed_as_running(project: Project) -> None:
    write_job(project, PrepareJob("winter_sale_email", "running", now(), pid=os.getpid()))
    write_job(project, PrepareJob("winter_sale_sms", "succeeded", now(), now(), run_id="r1"))
    assert preparation(project, "winter_sale_email").state == "running"
    assert running_preparations(project) == ["winter_sale_email"]


def test_a_process_that_stopped_without_reporting_failed_and_shows_the_end_of_its_output(project: Project) -> None:
    write_job(project, PrepareJob("winter_sale_email", "running", now(), pid=_gone_pid()))
    lines = [f"line {i}" for i in range(LOG_TAIL_LINES + 10)]
    log_path(project, "winter_sale_email").write_text("\n".join(lines) + "\n", encoding="utf-8")
    prep = preparation(project, "winter_sale_email")
    assert prep.state == "failed"
    assert prep.message == "The preparation stopped without reporting (its process is gone)."
    assert prep.log.splitlines() == lines[-LOG_TAIL_LINES:]
    assert running_preparations(project) == []


def test_a_failed_or_blocked_preparation_says_why(project: Project) -> None:
    write_job(project, PrepareJob("winter_sale_email", "failed", now(), now(), message="no delivery 'x'"))
    failed = preparation(project, "winter_sale_email")
    assert (failed.state, failed.message, failed.log) == ("failed", "no delivery 'x'", "")
    blocked = "a control rule failed: the run cannot be approved or sent"
    write_job(project, PrepareJob("winter_sale_sms", "succeeded", now(), now(), "r2", True, blocked))
    done = preparation(project, "winter_sale_sms")
    assert (done.state, done.message) == ("succeeded", blocked)
    assert done.job is not None and done.job.blocked and done.job.run_id == "r2"


def test_a_name_that_is_no_delivery_id_is_refused(project: Project) -> None:
    with pytest.raises(CampaignError, match="is not a delivery id"):
        preparation(project, "../etc/passwd")
