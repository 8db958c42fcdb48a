"""Background audience builds report their outcome, also when they fail at once."""

from __future__ import annotations

import time
from pathlib import Path

from herald.audiences.jobs import read_job, start_build
from herald.project import Project
from tests.conftest import make_scratch_project


def test_a_build_that_fails_at_once_reports_failed(tmp_path: Path) -> None:
    project: Project = make_scratch_project(tmp_path)
    job = start_build(project, "no_such_audience")
    assert job.pid is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        current = read_job(project, "no_such_audience")
        if current is not None and current.state != "running":
            break
        time.sleep(0.2)
    assert current is not None and current.state == "failed"
    assert "no audience 'no_such_audience'" in current.message
    assert not current.is_running
