"""Starting workflows by an API call, on ``herald serve`` (``Authorization: Bearer $HERALD_API_TOKEN``):

    POST /workflows/{name}/runs      start a run now, in a process of its own       202 {"workflow", "state", ...}
    GET  /workflows/{name}/runs      the last run started this way and the latest run   200

A start is what the Automation page's "Run now" does (``orchestration.background.start_run``): a detached
``herald run --workflow NAME --start``, so a build or a send never runs inside the web server. The caller polls
the GET for the outcome; the run's journal and log are the same as for any run.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from orchestration.background import read_job, start_run
from orchestration.errors import AutomationError, WorkflowSpecError
from orchestration.journal import run_history
from orchestration.workflows import workflow_by_name
from senders.tracking.context import ServeContext
from senders.tracking.guards import bearer_refusal


def workflow_routes(ctx: ServeContext) -> list[BaseRoute]:
    token = ctx.env.get("HERALD_API_TOKEN", "")
    project = ctx.project

    def refused(request: Request) -> Response | None:
        refusal = bearer_refusal(request, token, "workflow starts are")
        if refusal is None:
            return None
        status, error, headers = refusal
        return JSONResponse({"error": error}, status_code=status, headers=headers)

    def known(name: str) -> Response | None:
        try:
            workflow_by_name(project, name)
        except WorkflowSpecError as exc:
            unknown = str(exc).startswith(f"no workflow {name!r}")
            return JSONResponse({"error": str(exc)}, status_code=404 if unknown else 422)
        return None

    def status(name: str) -> dict[str, Any]:
        job = read_job(project, name)
        history = run_history(project, name)
        latest = history[0] if history else None
        return {
            "workflow": name,
            "job": None if job is None else {**dataclasses.asdict(job), "running": job.is_running},
            # A run stays open ("running") after a failed or blocked activity, for the next `herald run` to retry;
            # its activities say where it stands.
            "latest_run": None
            if latest is None
            else {
                "run": latest.key,
                "status": latest.status,
                "activities": [{"activity": a.activity, "status": a.status} for a in latest.activities],
            },
        }

    async def start(request: Request) -> Response:
        name = str(request.path_params["name"])
        problem = refused(request) or await run_in_threadpool(known, name)
        if problem is not None:
            return problem
        try:
            job = await run_in_threadpool(start_run, project, name)
        except AutomationError as exc:  # a run started this way is still going
            return JSONResponse({"error": str(exc)}, status_code=409)
        body = {"workflow": name, **dataclasses.asdict(job), "status_url": f"/workflows/{name}/runs"}
        return JSONResponse(body, status_code=202 if job.state == "running" else 500)

    async def show(request: Request) -> Response:
        name = str(request.path_params["name"])
        problem = refused(request) or await run_in_threadpool(known, name)
        if problem is not None:
            return problem
        return JSONResponse(await run_in_threadpool(status, name))

    return [
        Route("/workflows/{name}/runs", start, methods=["POST"], name="workflow_start"),
        Route("/workflows/{name}/runs", show, methods=["GET"], name="workflow_runs"),
    ]
