"""What the CLI and the app do with audiences, beyond compiling: list, save, build, and report readiness."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import duckdb

from herald import jobs, warehouse
from herald.audiences.draft_to_spec import Problem, locate
from herald.audiences.jobs import AudienceJob, job_file, now, read_job, write_job
from herald.audiences.library import AudienceLibrary
from herald.audiences.models import BUILDS, dbt_compiler, spec_version
from herald.audiences.models import write as write_models
from herald.audiences.schema import from_contracts
from herald.audiences.spec import AudienceSpec
from herald.build import BuildResult, build_audiences
from herald.errors import AudienceError, AudienceSpecError, HeraldError, WarehouseNotReady
from herald.files import write_atomic
from herald.project import Project

BuildState = Literal["running", "ready", "failed", "outdated", "unbuilt"]
LOG_TAIL_LINES = 30


@dataclass(frozen=True, slots=True)
class AudienceRow:
    """One saved audience and, when the published build has it, its materialized size."""

    name: str
    description: str
    version: str
    groups: tuple[str, ...]
    members: int | None
    built_version: str | None
    build_id: str | None
    error: str = ""

    @property
    def is_current(self) -> bool:
        """The published membership was computed from the spec as it is now."""
        return self.built_version == self.version


def materialized(project: Project) -> dict[str, tuple[int, str, str]]:
    """Audience name → (members, spec version, build id) of its latest build in the published warehouse."""
    try:
        con = warehouse.connect(project)
    except WarehouseNotReady:
        return {}
    try:
        if BUILDS not in warehouse.mart_tables(con):
            return {}
        rows = con.execute(
            f"with latest as (select audience_name, max(build_id) as build_id from {BUILDS} group by audience_name)"
            f" select audience_name, member_count, spec_version, build_id from {BUILDS} join latest"
            " using (audience_name, build_id)"
        ).fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    return {str(name): (int(n), str(version), str(build)) for name, n, version, build in rows}


def list_audiences(project: Project) -> list[AudienceRow]:
    built = materialized(project)
    rows = []
    library = AudienceLibrary.of(project)
    for name in library.names():
        try:
            spec = library.get(name)
        except AudienceError as exc:  # one broken file must not hide the others
            rows.append(AudienceRow(name, "", "", (), None, None, None, error=str(exc)))
            continue
        members, version, build_id = built.get(spec.name, (None, None, None))
        rows.append(
            AudienceRow(
                name=spec.name,
                description=spec.description,
                version=spec_version(spec),
                groups=spec.groups,
                members=members,
                built_version=version,
                build_id=build_id,
            )
        )
    return rows


def save_audience(project: Project, spec: AudienceSpec) -> None:
    """Check that ``spec`` compiles against the marts' contracts, write it, and regenerate the models.

    An invalid spec raises AudienceSpecError and nothing is written."""
    library = AudienceLibrary.of(project)
    existing = library.path(spec.name)
    previous = existing.read_text(encoding="utf-8") if existing.is_file() else None
    dbt_compiler(from_contracts(project.root), library).check(spec)
    library.save(spec)
    try:
        write_models(project)
    except HeraldError:
        # Another saved spec that depends on this one no longer compiles: put the old file back.
        if previous is None:
            existing.unlink(missing_ok=True)
        else:
            write_atomic(existing, previous)
        write_models(project)
        raise


def build_and_report(project: Project, names: Sequence[str]) -> BuildResult:
    """Build audiences (all when ``names`` is empty), keeping each one's job file up to date."""
    library = AudienceLibrary.of(project)
    jobs = {n: AudienceJob(name=n, state="running", started_at=now(), pid=os.getpid()) for n in names}
    for job in jobs.values():
        write_job(project, job)
    try:
        for name in names:
            library.get(name)  # an unknown name fails before anything runs
        targets: list[str] = []
        if names:
            # The memberships read every audience model: also build those the published build lacks or has
            # from an older spec, and those reading the named ones.
            stale = [r.name for r in list_audiences(project) if not r.is_current]
            targets = library.with_dependents([*names, *stale])
        result = build_audiences(project, targets)
    except BaseException as exc:
        for job in jobs.values():
            write_job(project, dataclasses.replace(job, state="failed", finished_at=now(), message=str(exc)))
        raise
    for job in jobs.values():
        write_job(project, dataclasses.replace(job, state="succeeded", finished_at=now(), build_id=result.build_id))
    return result


def last_job(project: Project, name: str) -> AudienceJob | None:
    return read_job(project, name)


def save_edited(project: Project, spec: AudienceSpec, origin: str | None, paths: Mapping[str, str]) -> Problem | None:
    """Save ``spec``, edited from a draft opened from the saved audience ``origin`` (None: a new one) whose rows
    landed at ``paths``; the problem that stopped it (placed at its row where it has one), or None."""
    library = AudienceLibrary.of(project)
    if spec.name != origin and library.path(spec.name).is_file():
        return Problem(
            f"An audience named {spec.name} already exists. Open it to edit it, or choose another name.",
            section="name",
        )
    try:
        # save_audience runs this check too; running it first tells errors in this spec (placed at their
        # row) from errors it causes in saved audiences that read this one (reported for the form).
        dbt_compiler(from_contracts(project.root), library).check(spec)
    except AudienceSpecError as exc:
        return locate(str(exc), paths)
    try:
        save_audience(project, spec)
    except AudienceSpecError as exc:
        return Problem(f"Not saved: a saved audience that reads {spec.name} would break. {exc}")
    except HeraldError as exc:
        return Problem(f"Not saved: {exc}")
    return None


@dataclass(frozen=True, slots=True)
class BuildStatus:
    """Where a saved audience's build stands, and what the published build has of it."""

    state: BuildState
    message: str = ""
    members: int | None = None
    build_id: str | None = None
    started_at: dt.datetime | None = None
    log: str = ""  # the end of the build's output, for a failure


def build_status(project: Project, name: str) -> BuildStatus:
    """Where the saved audience ``name`` stands: building, ready (the published build has its current
    version), failed (with the job's message and the end of its output), outdated, or not built yet."""
    job = read_job(project, name)
    started = jobs.started(job) if job is not None else None
    if job is not None and job.is_running:
        return BuildStatus("running", started_at=started)
    if job is not None and job.state in ("running", "failed"):
        if jobs.is_lost(job):
            message = (
                "The build never reported back: it stopped before starting."
                if job.pid is None
                else "The build process stopped without reporting."
            )
        else:
            message = job.message or "The build failed."
        return BuildStatus("failed", message, started_at=started, log=job_file(project, name).log_tail(LOG_TAIL_LINES))
    try:
        row = next((r for r in list_audiences(project) if r.name == name), None)
    except HeraldError as exc:
        return BuildStatus("failed", str(exc))
    if row is not None and row.is_current and row.members is not None:
        return BuildStatus("ready", members=row.members, build_id=row.build_id)
    if row is not None and row.built_version is not None:
        return BuildStatus("outdated", members=row.members, build_id=row.build_id)
    return BuildStatus("unbuilt" if job is None else "outdated")
