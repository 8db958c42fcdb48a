"""A workflow started by an API call on `herald serve`: authenticated, refused for unknown or broken workflows, run
in a process of its own, its outcome readable by the caller."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from herald.project import Project
from orchestration.workflows_api import workflow_routes
from senders.tracking.context import ServeContext
from senders.tracking.server import ServeOptions, create_app
from tests.conftest import make_scratch_project
from tests.tracking.serving import LINK_SECRET, request, running

TOKEN = "api-token-for-tests"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PING = "workflow: ping\ntrigger: api\nactivities:\n- {id: settle, type: wait, minutes: 0}\n- {id: done, type: end}\n"


def app_for(project: Project, env: dict[str, str]) -> Any:
    ctx = ServeContext.from_env(project, {"HERALD_LINK_SECRET": LINK_SECRET, **env})
    return create_app(
        ctx, ServeOptions(insecure_unsigned_webhook=True, compact_every=None), route_factories=(workflow_routes,)
    )


def call(port: int, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    status, raw = request(port, method, path, b"" if method == "POST" else None, headers)
    return status, json.loads(raw)


def test_an_api_call_starts_a_workflow_run_and_reports_its_outcome(tmp_path: Path) -> None:
    project: Project = make_scratch_project(tmp_path)
    (project.specs_dir / "workflows" / "ping.yml").write_text(PING, encoding="utf-8")
    with running(app_for(project, {"HERALD_API_TOKEN": TOKEN})) as port:
        assert call(port, "POST", "/workflows/ping/runs")[0] == 401
        assert call(port, "POST", "/workflows/ping/runs", {"Authorization": "Bearer nope"})[0] == 401
        status, body = call(port, "POST", "/workflows/nope/runs", AUTH)
        assert status == 404 and "no workflow 'nope'" in body["error"]

        status, body = call(port, "POST", "/workflows/ping/runs", AUTH)
        assert status == 202 and body["state"] == "running" and body["status_url"] == "/workflows/ping/runs"
        deadline = time.monotonic() + 120
        while True:
            status, body = call(port, "GET", "/workflows/ping/runs", AUTH)
            assert status == 200
            if body["job"]["state"] == "finished" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert body["job"]["exit_code"] == 0, body
        assert body["latest_run"]["status"] == "succeeded"
        assert body["latest_run"]["activities"] == [
            {"activity": "settle", "status": "finished"},
            {"activity": "done", "status": "finished"},
        ]

        # A workflow file that does not parse is named, and nothing starts.
        (project.specs_dir / "workflows" / "ping.yml").write_text(PING.replace("wait", "teleport"), encoding="utf-8")
        status, body = call(port, "POST", "/workflows/ping/runs", AUTH)
        assert status == 422 and "ping.yml" in body["error"] and "teleport" in body["error"]

    with running(app_for(project, {})) as port:
        status, body = call(port, "POST", "/workflows/ping/runs", AUTH)
    assert status == 503 and "HERALD_API_TOKEN" in body["error"]
