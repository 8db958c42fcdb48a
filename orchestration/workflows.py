"""Every workflow of a project: those under specs/workflows/ and those the plans' delivery schedules make.

Above both ``orchestration.spec`` (one file's workflow) and ``orchestration.plan_schedules`` (the plans' part).
"""

from __future__ import annotations

from herald.project import Project
from orchestration.errors import WorkflowSpecError
from orchestration.plan_schedules import plan_workflows
from orchestration.spec import Workflow, journeys_dir, load_journey, load_workflow, workflows_dir


def load_workflows(project: Project) -> list[Workflow]:
    """Every workflow under specs/workflows/, checked, including the journeys they run, then the workflows the
    plans' delivery schedules make (see plan_schedules). Eager."""
    folder = workflows_dir(project)
    flows = [load_workflow(p) for p in sorted(folder.glob("*.yml"))] if folder.is_dir() else []
    flows += plan_workflows(project, flows)
    for flow in flows:
        if flow.trigger.kind == "audience":
            path = project.specs_dir / "audiences" / f"{flow.trigger.audience}.yml"
            if not path.is_file():
                raise WorkflowSpecError(f"{flow.path}: trigger.enters_audience: no audience spec {path}")
        for a in flow.activities:
            if a.type == "journey":
                path = journeys_dir(project) / f"{a.options['journey']}.yml"
                if not path.is_file():
                    raise WorkflowSpecError(f"{flow.path}: activity {a.id!r}: no journey file {path}")
                load_journey(path)
    return flows


def workflow_by_name(project: Project, name: str) -> Workflow:
    flows = {w.name: w for w in load_workflows(project)}
    if name not in flows:
        known = ", ".join(sorted(flows)) or "none"
        raise WorkflowSpecError(f"no workflow {name!r} in {workflows_dir(project)} (workflows: {known})")
    return flows[name]
