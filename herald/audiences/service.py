"""What the CLI and the app do with audiences, beyond compiling: list, save, build, and report readiness."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from herald import warehouse
from herald.audiences.jobs import AudienceJob, now, read_job, write_job
from herald.audiences.library import AudienceLibrary
from herald.audiences.models import BUILDS, spec_version
from herald.audiences.models import write as write_models
from herald.audiences.schema import from_contracts
from herald.audiences.spec import AudienceSpec
from herald.build import BuildResult, build_audiences
from herald.errors import AudienceError, HeraldError, WarehouseNotReady
from herald.project import Project


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
    from herald.audiences.models import dbt_compiler

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
            existing.write_text(previous, encoding="utf-8")
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
