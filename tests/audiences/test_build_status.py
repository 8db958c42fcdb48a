"""Where a saved audience's build stands, as the Audiences page shows it, without Streamlit: from the build's job
file and what the published warehouse has of the audience."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from herald.audiences.jobs import AudienceJob, job_path, now, write_job
from herald.audiences.library import AudienceLibrary
from herald.audiences.service import LOG_TAIL_LINES, build_status, save_edited
from herald.audiences.spec import parse_spec
from herald.project import Project
from tests.conftest import make_scratch_project


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(root=tmp_path, warehouse_dir=tmp_path / "warehouse")


def test_an_audience_never_built_is_unbuilt(project: Project) -> None:
    assert build_status(project, "vips").state == "unbuilt"


def test_a_running_build_says_since_when(project: Project) -> None:
    write_job(project, AudienceJob("vips", "running", "2026-12-01T09:00:00+00:00", pid=os.getpid()))
    status = build_status(project, "vips")
    assert status.state == "running" and status.started_at is not None and status.started_at.hour == 9


def test_a_failed_build_shows_its_message_and_the_end_of_its_output(project: Project) -> None:
    write_job(project, AudienceJob("vips", "failed", now(), now(), message="dbt failed: aud_vips"))
    lines = [f"line {i}" for i in range(LOG_TAIL_LINES * 2)]
    job_path(project, "vips").with_suffix(".log").write_text("\n".join(lines), encoding="utf-8")
    status = build_status(project, "vips")
    assert (status.state, status.message) == ("failed", "dbt failed: aud_vips")
    assert status.log.splitlines() == lines[-LOG_TAIL_LINES:]


def test_a_build_whose_process_is_gone_failed(project: Project) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    write_job(project, AudienceJob("vips", "running", now(), pid=gone.pid))
    assert build_status(project, "vips").message == "The build process stopped without reporting."
    write_job(project, AudienceJob("vips", "running", "2026-01-01T00:00:00+00:00"))  # recorded, never started
    assert build_status(project, "vips").message == "The build never reported back: it stopped before starting."


def test_saving_refuses_a_name_taken_by_another_audience_and_places_errors_at_their_row(tmp_path: Path) -> None:
    project = make_scratch_project(tmp_path)
    taken = save_edited(project, parse_spec({"name": "staff"}), None, {})
    assert taken is not None and taken.section == "name" and "already exists" in taken.message
    wrong = parse_spec({"name": "fresh", "where": {"all": [{"country_code": "FR"}, {"shoe_size": {"gt": 40}}]}})
    problem = save_edited(project, wrong, None, {"c1": "where.all[0]", "c2": "where.all[1]"})
    assert problem is not None and problem.row == "c2" and "shoe_size" in problem.message
    assert not AudienceLibrary.of(project).path("fresh").exists()
