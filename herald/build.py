"""Build the warehouse with dbt and publish it for readers.

    landing (Parquet, append-only) ──dbt build──▶ build/herald.duckdb ──copy──▶ published/herald-<id>.duckdb
                                                                        CURRENT ──points at──┘

One build at a time (an advisory file lock; a second build waits). dbt runs in a child process, so its DuckDB
lock ends with it. Only a green build is published: the copy is checkpointed, fsynced and then named in
``CURRENT`` by an atomic rename, so a reader sees either the old warehouse or the new one, never a mix.
See DECISIONS.md, "Who writes the warehouse".
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from herald import landing, warehouse
from herald.audiences.models import BUILDS, GENERATED_DIR, MEMBERSHIPS, MODEL_PREFIX
from herald.errors import BuildError, WarehouseNotReady
from herald.progress import report
from herald.project import Project

KEEP_PUBLISHED = 3


@dataclass(frozen=True, slots=True)
class BuildResult:
    """One finished build: its id, the batch cut-off it read up to, and the file published (if any)."""

    build_id: str
    batch_cutoff: str
    published_path: Path | None
    seconds: float


SECRET_VARIABLES = frozenset(
    {"SENDGRID_API_KEY", "TWILIO_AUTH_TOKEN", "HERALD_FCM_ACCESS_TOKEN", "HERALD_LINK_SECRET", "HERALD_API_TOKEN"}
)


def dbt_env(project: Project, *, batch_cutoff: str | None = None, target: str = "duckdb") -> dict[str, str]:
    """Environment for a dbt child process working on ``project``."""
    # Provider credentials and the link secret never reach dbt: it cannot log or record what it never sees.
    env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
    env.update(
        {
            "DBT_PROFILES_DIR": str(project.root),
            "DBT_PROJECT_DIR": str(project.root),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_TARGET_PATH": env.get("DBT_TARGET_PATH", str(project.warehouse_dir / "dbt" / "target")),
            "DBT_LOG_PATH": env.get("DBT_LOG_PATH", str(project.warehouse_dir / "dbt" / "logs")),
            "HERALD_LANDING_DIR": str(project.landing_dir),
            "HERALD_LEDGER_DIR": str(project.ledger_dir),
            "HERALD_INBOX_DIR": str(project.inbox_dir),
            "HERALD_BUILD_PATH": str(project.build_path),
            "HERALD_TARGET": target,
        }
    )
    if batch_cutoff is not None:
        env["HERALD_BATCH_CUTOFF"] = batch_cutoff
    return env


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


@contextmanager
def build_lock(project: Project) -> Iterator[None]:
    """Hold the project's build lock; waits for a build already running."""
    project.ensure_dirs()
    with open(project.locks_dir / "build.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_dbt(
    project: Project,
    args: Sequence[str],
    *,
    batch_cutoff: str | None = None,
    quiet: bool = False,
    env: Mapping[str, str] | None = None,
) -> None:
    """Run one dbt command in a child process, streaming its lines (and its progress to the current progress
    sink); raises BuildError with dbt's own failure lines."""
    cmd = [dbt_executable(), *args]
    full_env = {**dbt_env(project, batch_cutoff=batch_cutoff), **(env or {})}
    lines: list[str] = []
    with subprocess.Popen(
        cmd, cwd=project.root, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if not quiet:
                sys.stdout.write(line)
            if (done := _DBT_NODE_DONE.search(line)) is not None:
                report(f"dbt {args[0]}", int(done[1]), int(done[2]))
    if proc.returncode != 0:
        if quiet:
            sys.stdout.writelines(lines)
        failures = [ln.rstrip("\n") for ln in lines if "ERROR" in ln or "FAIL" in ln or "Error" in ln]
        detail = "\n".join(failures[-15:]) or "".join(lines)[-2000:].strip()
        raise BuildError(f"dbt {' '.join(args)} failed (exit {proc.returncode}); nothing was published.\n{detail}")


# dbt's line for a finished node: "12:00:01  17 of 412 OK created sql table model main.profiles ... [OK in 0.2s]".
_DBT_NODE_DONE = re.compile(r"\b(\d+) of (\d+) (?:OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b")


def fingerprint(project: Project, batch_cutoff: str, *, audiences: bool = True) -> str:
    """What a build depends on: the landed batches (by cut-off) and every file of the dbt project.

    With ``audiences=False`` the generated audience models are left out: two builds with equal such
    fingerprints differ at most in their audiences, which an audience-only build can then bring up to date.
    """
    h = hashlib.sha256(batch_cutoff.encode())
    files = [project.root / "dbt_project.yml", project.root / "profiles.yml"]
    for folder in ("dbt_project", "seeds/reference"):
        files += sorted(p for p in (project.root / folder).rglob("*") if p.is_file())
    generated = project.root / GENERATED_DIR
    for path in files:
        if not audiences and generated in path.parents:
            continue
        h.update(str(path.relative_to(project.root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class PublishedBuild:
    build_id: str
    fingerprint: str
    core_fingerprint: str | None


def published_build(project: Project) -> PublishedBuild | None:
    """The current published build's identity and fingerprints, or None."""
    try:
        con = warehouse.connect(project)
    except WarehouseNotReady:
        return None
    try:
        rows = con.execute("select * from herald_meta.build_info").to_arrow_table().to_pylist()
    except duckdb.Error:
        return None
    finally:
        con.close()
    if not rows:
        return None
    info = rows[0]
    core = info.get("core_fingerprint")
    return PublishedBuild(str(info["build_id"]), str(info["fingerprint"]), None if core is None else str(core))


def published_fingerprint(project: Project) -> tuple[str, str] | None:
    """(build id, fingerprint) of the current published build, or None."""
    info = published_build(project)
    return None if info is None else (info.build_id, info.fingerprint)


def build(
    project: Project,
    *,
    select: Sequence[str] = (),
    exclude: Sequence[str] = (),
    full_refresh: bool = False,
    quiet: bool = False,
    force: bool = False,
) -> BuildResult:
    """Build every model and test over the batches landed so far, then publish the result. Eager.

    Audience models are regenerated from their specs first (an invalid spec stops the build). A full build
    whose inputs (landed batches and dbt files) are unchanged since the published build is skipped unless
    ``force``: re-running is cheap. A build limited by ``select`` (or ``exclude``) is never published;
    ``full_refresh`` rebuilds incremental models from scratch (those that allow it).
    """
    started = time.monotonic()
    landing.ensure_initialized(project)
    with build_lock(project):
        generate_audience_models(project)
        cutoff = landing.latest_batch_id(project)
        current = published_fingerprint(project)
        partial = bool(select or exclude)
        if not force and not partial and current is not None and current[1] == fingerprint(project, cutoff):
            return BuildResult(current[0], cutoff, None, time.monotonic() - started)
        return _build_locked(
            project,
            cutoff,
            select=select,
            exclude=exclude,
            full_refresh=full_refresh,
            publish_result=not partial,
            quiet=quiet,
            started=started,
        )


def build_audiences(project: Project, names: Sequence[str] = (), *, quiet: bool = False) -> BuildResult:
    """Bring audiences up to date and publish: only their models when the published build is current in
    everything else (seconds), otherwise a full build. ``names`` limits which audience models are rebuilt."""
    models = [f"{MODEL_PREFIX}{n}" for n in names] if names else ["tag:audience"]
    return build_on_published(project, (*models, MEMBERSHIPS, BUILDS), quiet=quiet)


# Runs on the build file after dbt and before the copy is published (the build lock is held).
BeforePublish = Callable[[duckdb.DuckDBPyConnection, str], None]


def build_on_published(
    project: Project,
    select: Sequence[str],
    *,
    extra_env: Mapping[str, str] | None = None,
    before_publish: BeforePublish | None = None,
    quiet: bool = False,
) -> BuildResult:
    """Build ``select`` on top of the published build and publish the result.

    That is only sound when the build file is exactly the published build and nothing but audience files
    changed since; otherwise this runs a full build (with the same ``extra_env``), which includes ``select``.
    """
    started = time.monotonic()
    landing.ensure_initialized(project)
    with build_lock(project):
        generate_audience_models(project)
        cutoff = landing.latest_batch_id(project)
        published = published_build(project)
        current = (
            published is not None
            and published.core_fingerprint == fingerprint(project, cutoff, audiences=False)
            and _build_file_build_id(project) == published.build_id
        )
        return _build_locked(
            project,
            cutoff,
            select=select if current else (),
            publish_result=True,
            quiet=quiet,
            started=started,
            extra_env=extra_env,
            before_publish=before_publish,
        )


def record_and_publish(project: Project, change: BeforePublish) -> BuildResult:
    """Apply ``change`` to the build file's ``herald_meta`` (an approval, a note on a run) and publish it as a new
    build of the same data. Refused unless the build file is exactly the published build."""
    started = time.monotonic()
    with build_lock(project):
        published = published_build(project)
        if published is None or _build_file_build_id(project) != published.build_id:
            raise BuildError(
                "the build file differs from the published warehouse (a build failed or is unpublished): "
                "run `herald build` first, then try again"
            )
        con = duckdb.connect(str(project.build_path))
        try:
            info = con.execute("select batch_cutoff, as_of from herald_meta.build_info").fetchone()
        finally:
            con.close()
        assert info is not None
        build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        _mark_build_file_dirty(project)
        con = duckdb.connect(str(project.build_path))
        try:
            change(con, build_id)
        finally:
            con.close()
        path = publish(
            project,
            build_id,
            str(info[0]),
            published.fingerprint,
            as_of=None if info[1] is None else str(info[1]),
            core_fingerprint=published.core_fingerprint,
        )
    return BuildResult(build_id, str(info[0]), path, time.monotonic() - started)


def generate_audience_models(project: Project) -> None:
    """Regenerate the audience models from their specs (files change only when their content does)."""
    from herald.audiences.models import write

    write(project)


def _build_locked(
    project: Project,
    cutoff: str,
    *,
    select: Sequence[str],
    publish_result: bool,
    quiet: bool,
    started: float,
    exclude: Sequence[str] = (),
    full_refresh: bool = False,
    extra_env: Mapping[str, str] | None = None,
    before_publish: BeforePublish | None = None,
) -> BuildResult:
    started_at = dt.datetime.now(dt.UTC)
    build_id = started_at.strftime("%Y%m%dT%H%M%S%fZ")
    as_of = configured_as_of(project) or started_at.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    # One reference time for every model of the build, recorded with it: live audience counts use the same.
    args = ["build"]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if full_refresh:
        args.append("--full-refresh")
    _mark_build_file_dirty(project)
    env = {**(extra_env or {}), "HERALD_AS_OF": as_of, "HERALD_BUILD_ID": build_id}
    run_dbt(project, args, batch_cutoff=cutoff, quiet=quiet, env=env)
    if before_publish is not None:
        con = duckdb.connect(str(project.build_path))
        try:
            before_publish(con, build_id)
        finally:
            con.close()
    published = None
    if publish_result:
        published = publish(
            project,
            build_id,
            cutoff,
            fingerprint(project, cutoff),
            as_of=as_of,
            core_fingerprint=fingerprint(project, cutoff, audiences=False),
        )
    return BuildResult(build_id, cutoff, published, time.monotonic() - started)


def _build_file_build_id(project: Project) -> str | None:
    """The build the build file last published, or None if dbt has touched it since (or it has none)."""
    if not project.build_path.exists():
        return None
    try:
        con = duckdb.connect(str(project.build_path), read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute("select build_id from herald_meta.build_info").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return None if row is None else str(row[0])


def _mark_build_file_dirty(project: Project) -> None:
    # Until the next publish the build file no longer equals a published build, so an audience-only build
    # never publishes on top of a build that failed half-way.
    if not project.build_path.exists():
        return
    con = duckdb.connect(str(project.build_path))
    try:
        con.execute("drop table if exists herald_meta.build_info")
    finally:
        con.close()


def configured_as_of(project: Project) -> str | None:
    """The ``as_of`` var set in dbt_project.yml (to rebuild a past state), or None for "the build time"."""
    doc = yaml.safe_load((project.root / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    value = (doc.get("vars") or {}).get("as_of")
    return None if value in (None, "") else str(value)


def publish(
    project: Project,
    build_id: str,
    batch_cutoff: str,
    fingerprint: str = "",
    *,
    as_of: str | None = None,
    core_fingerprint: str | None = None,
) -> Path:
    """Copy the build file to a new versioned read file and point ``CURRENT`` at it atomically."""
    con = duckdb.connect(str(project.build_path))
    try:
        con.execute("create schema if not exists herald_meta")
        con.execute(
            "create or replace table herald_meta.build_info as "
            "select ?::varchar as build_id, ?::varchar as batch_cutoff, ?::varchar as fingerprint, "
            "?::varchar as core_fingerprint, ?::timestamp as as_of, now()::timestamp as published_at",
            [build_id, batch_cutoff, fingerprint, core_fingerprint, as_of],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    target = project.published_dir / f"herald-{build_id}.duckdb"
    tmp = target.with_name("." + target.name + ".partial")
    shutil.copyfile(project.build_path, tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, target)
    pointer_tmp = project.current_pointer.with_name(".CURRENT.partial")
    pointer_tmp.write_text(target.name + "\n", encoding="utf-8")
    os.replace(pointer_tmp, project.current_pointer)
    _prune(project, keep=target)
    return target


def _prune(project: Project, keep: Path) -> None:
    # Readers that still have an older file open keep reading it: on POSIX an unlinked file lives until closed.
    files = sorted(project.published_dir.glob("herald-*.duckdb"))
    for old in files[:-KEEP_PUBLISHED]:
        if old != keep:
            old.unlink(missing_ok=True)
