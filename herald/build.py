"""Build the warehouse with dbt and publish it for readers.

    landing (Parquet, append-only) ──dbt build──▶ build/herald.duckdb ──copy──▶ published/herald-<id>.duckdb
                                                  build/deliveries.duckdb ──copy──▶ published/deliveries-<id>.duckdb
                                                                        CURRENT ──points at──┘

One build at a time (an advisory file lock; a second build waits). dbt runs in a child process, so its DuckDB
lock ends with it. Only a green build is published: the copies are checkpointed, fsynced and then named in
``CURRENT`` by an atomic rename, so a reader sees either the old warehouse or the new one, never a mix.

The delivery runs (``marts/deliveries``) and ``herald_meta`` live in a file of their own, which dbt attaches as
``deliveries``; the main file holds views of them under their usual names. Preparing a run or recording an
approval changes only that small file, so publishing it copies megabytes, and the main file — unchanged since
the last publish — is hard-linked (published files are never written). See DECISIONS.md, "Who writes the
warehouse".
"""

from __future__ import annotations

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

from herald import clock, landing, warehouse, warm_dbt
from herald.audiences.models import BUILDS, MEMBERSHIPS, MODEL_PREFIX
from herald.errors import BuildError, ConfigError, WarehouseNotReady
from herald.files import replacing, write_atomic
from herald.package import CHECKOUT_GENERATED_DIR, PACKAGE_ENV, PACKAGE_NAME, assemble_package
from herald.progress import report
from herald.project import Project
from herald.settings import named_variables, read_settings
from herald.warehouse import DELIVERIES_CATALOG

KEEP_PUBLISHED = 3

# Build files are created in DuckDB's newest storage format: it writes the big tables faster (a full build at
# 1M profiles 0.87x the time, BENCHMARKS.md). profiles.yml sets the same for dbt. A file keeps the format it was
# created in; every process that reads it runs the same DuckDB (pyproject's pin).
BUILD_FILE_CONFIG: dict[str, str | bool | int | float | list[str]] = {"storage_compatibility_version": "latest"}

# herald_meta, in the delivery-runs file: what Herald records beside dbt's models (created before a publish, so
# the main file's views of them always bind).
META_TABLES: dict[str, str] = {
    "build_info": "build_id varchar, batch_cutoff varchar, fingerprint varchar, core_fingerprint varchar, "
    "as_of timestamp, published_at timestamp, streams_fingerprint varchar",
    "delivery_run_controls": "run_id varchar, rule varchar, passed boolean, message varchar, checked_at timestamp",
    "delivery_run_approvals": "run_id varchar, approver varchar, content_hash varchar, approved_at timestamp, "
    "note varchar",
}


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
    # Provider credentials and the link secret never reach dbt: it cannot log or record what it never sees (nor
    # the variables herald.yml names for them).
    secrets = SECRET_VARIABLES | named_variables(read_settings(project.root))
    env = {k: v for k, v in os.environ.items() if k not in secrets}
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
            "HERALD_DELIVERIES_PATH": str(project.deliveries_build_path),
            "HERALD_TARGET": target,
        }
    )
    if project.uses_package:
        # packages.yml installs Herald's models from here (herald/scaffold.py; ensure_dbt_package assembles it).
        env[PACKAGE_ENV] = str(project.assembled_package_dir)
    if batch_cutoff is not None:
        env["HERALD_BATCH_CUTOFF"] = batch_cutoff
    return env


def ensure_dbt_package(project: Project, *, quiet: bool = True) -> None:
    """In a project that uses Herald's dbt package: assemble it (the installed Herald's models with the project's
    generated audience models, ``herald.package.assemble_package``) and install it (``dbt deps``) unless it is
    installed already. In a fresh clone, or after the state folder moved, it is not."""
    if not project.uses_package:
        return
    wanted = assemble_package(project.assembled_package_dir, project.generated_dir).resolve()
    installed = project.root / "dbt_packages" / PACKAGE_NAME
    if installed.is_dir() and installed.resolve() == wanted:
        return
    # --upgrade: resolve packages.yml afresh rather than from a lock file naming a former location.
    run_dbt(project, ["deps", "--upgrade"], quiet=quiet, install=False)


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
    install: bool = True,
) -> None:
    """Run one dbt command in a child process, streaming its lines (and its progress to the current progress
    sink); raises BuildError with dbt's own failure lines. In a project that uses Herald as a dbt package, the
    package is installed first when it is not in place (``install``)."""
    if install:
        ensure_dbt_package(project)
    full_env = {**dbt_env(project, batch_cutoff=batch_cutoff), **(env or {})}
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if not quiet:
            sys.stdout.write(line)
        if (done := _DBT_NODE_DONE.search(line)) is not None:
            report(f"dbt {args[0]}", int(done[1]), int(done[2]))

    returncode = None
    if warm_dbt.enabled():
        helper_env = {k: v for k, v in os.environ.items() if k not in SECRET_VARIABLES}
        returncode = warm_dbt.run(args, full_env, project.root, on_line, helper_env=helper_env)
    if returncode is None:
        with subprocess.Popen(
            [dbt_executable(), *args],
            cwd=project.root,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                on_line(line)
        returncode = proc.returncode
    if returncode != 0:
        if quiet:
            sys.stdout.writelines(lines)
        failures = [ln.rstrip("\n") for ln in lines if "ERROR" in ln or "FAIL" in ln or "Error" in ln]
        detail = "\n".join(failures[-15:]) or "".join(lines)[-2000:].strip()
        raise BuildError(f"dbt {' '.join(args)} failed (exit {returncode}); nothing was published.\n{detail}")


# dbt's line for a finished node: "12:00:01  17 of 412 OK created sql table model main.profiles ... [OK in 0.2s]".
_DBT_NODE_DONE = re.compile(r"\b(\d+) of (\d+) (?:OK|PASS|WARN|ERROR|FAIL|SKIP|NO-OP)\b")


def fingerprint(project: Project, batch_cutoff: str, *, audiences: bool = True) -> str:
    """What a build depends on: the landed batches (by cut-off) and every file of the dbt project.

    With ``audiences=False`` the generated audience models are left out: two builds with equal such
    fingerprints differ at most in their audiences, which an audience-only build can then bring up to date.
    """
    h = hashlib.sha256(batch_cutoff.encode())
    generated = project.generated_dir
    for name, path in dbt_files(project):
        if not audiences and generated in path.parents:
            continue
        h.update(name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


# What dbt reads of a project, besides Herald's package: its settings and its own dbt folders.
_PROJECT_DBT_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml")
_PROJECT_DBT_FOLDERS = ("models", "macros", "tests", "seeds", "snapshots", "analyses", "generated")
_PACKAGE_DBT_FOLDERS = ("dbt_project", "seeds/reference")


def dbt_files(project: Project) -> list[tuple[str, Path]]:
    """Every file a build's models depend on, with the name it is fingerprinted under: Herald's package (its
    dbt_project.yml, models, macros, tests and reference seeds) and, in a project of its own, the project's dbt
    files (settings, models, macros, tests, seeds). In this repository both are the root, named as before."""
    package = project.dbt_package_dir
    prefix = f"{PACKAGE_NAME}/" if project.uses_package else ""
    if project.uses_package:
        files = [(f"{prefix}dbt_project.yml", package / "dbt_project.yml")]
    else:
        files = [(name, project.root / name) for name in ("dbt_project.yml", "profiles.yml")]
    for folder in _PACKAGE_DBT_FOLDERS:
        for path in _files_under(package / folder):
            relative = path.relative_to(package)
            # A checkout's own generated models are not part of the package a project installs.
            if not (project.uses_package and relative.is_relative_to(CHECKOUT_GENERATED_DIR)):
                files.append((prefix + str(relative), path))
    if project.uses_package:
        files += [(name, project.root / name) for name in _PROJECT_DBT_FILES if (project.root / name).is_file()]
        for folder in _PROJECT_DBT_FOLDERS:
            files += [(str(p.relative_to(project.root)), p) for p in _files_under(project.root / folder)]
    return files


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def streams_fingerprint(project: Project) -> str:
    """What a build reads besides the landed batches: the send ledger and the inbox's events, which dbt reads in
    place, and the webhook spool, whose acknowledged events land as batches. Eager, and cheap at any size: file
    names, sizes and modification times, never contents.

    The ledger's shards grow in place, so each is stamped by size and mtime; inbox event files appear whole and
    never change, so their names suffice (no stat per event); spool segments are few and stamped like shards.
    """
    h = hashlib.sha256()
    ledger = project.ledger_dir
    for run in _sorted_entries(ledger):
        if run.is_dir(follow_symlinks=False):
            for shard in _sorted_entries(Path(run.path)):
                if shard.name.startswith("shard-") and shard.name.endswith(".jsonl"):
                    _stamp(h, f"ledger/{run.name}/{shard.name}", shard)
    events = project.inbox_dir / "events"
    for day in _sorted_entries(events):
        if day.is_dir(follow_symlinks=False):
            h.update(f"inbox/{day.name}\n".encode())
            for event in _sorted_entries(Path(day.path)):
                if not event.name.startswith("."):
                    h.update(event.name.encode() + b"\n")
    spool = project.warehouse_dir / "spool"
    for table in _sorted_entries(spool):
        if table.is_dir(follow_symlinks=False) and table.name != "rejects":
            for segment in _sorted_entries(Path(table.path)):
                if not segment.name.startswith("."):
                    _stamp(h, f"spool/{table.name}/{segment.name}", segment)
    return h.hexdigest()


def _sorted_entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: e.name)
    except FileNotFoundError:
        return []


def _stamp(h: hashlib._Hash, name: str, entry: os.DirEntry[str]) -> None:
    try:
        st = entry.stat(follow_symlinks=False)
    except FileNotFoundError:  # compacted or pruned while listed: its absence is the state
        return
    h.update(f"{name}\x1f{st.st_size}\x1f{st.st_mtime_ns}\n".encode())


@dataclass(frozen=True, slots=True)
class PublishedBuild:
    build_id: str
    fingerprint: str
    core_fingerprint: str | None
    as_of: str | None = None
    streams_fingerprint: str | None = None


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
    as_of = info.get("as_of")
    streams = info.get("streams_fingerprint")  # absent in a warehouse published by an earlier version
    return PublishedBuild(
        str(info["build_id"]),
        str(info["fingerprint"]),
        None if core is None else str(core),
        None if as_of is None else str(as_of),
        None if streams is None else str(streams),
    )


@contextmanager
def _locked_for_build(project: Project) -> Iterator[str]:
    """Hold the build lock, with the audience models generated from their specs; yields the batch cut-off: the
    newest batch landed, which the build reads up to."""
    target = read_settings(project.root).target
    if target != "duckdb":
        # A SQL warehouse is built by herald.sql_build (the command line picks it when HERALD_WAREHOUSE_URL is set).
        raise ConfigError(
            f"herald.yml sets warehouse.target: {target}: set HERALD_WAREHOUSE_URL to the {target} database and "
            "schema, and `herald build` lands, builds and publishes there (docs/your-warehouse.md)"
        )
    landing.ensure_initialized(project)
    with build_lock(project):
        generate_audience_models(project)
        yield landing.latest_batch_id(project)


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
    whose inputs (landed batches, dbt files, and the ledger, inbox and spool: ``streams_fingerprint``) are
    unchanged since the published build is skipped unless ``force``: re-running is cheap. A build limited by
    ``select`` (or ``exclude``) is never published; ``full_refresh`` rebuilds incremental models from scratch
    (those that allow it).
    """
    started = time.monotonic()
    with _locked_for_build(project) as cutoff:
        current = published_build(project)
        partial = bool(select or exclude)
        if (
            not force
            and not partial
            and current is not None
            and current.fingerprint == fingerprint(project, cutoff)
            and current.streams_fingerprint == streams_fingerprint(project)
        ):
            return BuildResult(current.build_id, cutoff, None, time.monotonic() - started)
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


# Every audience model, and the record of their build: what brings audiences up to date.
ALL_AUDIENCES = ("tag:audience", MEMBERSHIPS, BUILDS)


# Runs on the build file after dbt and before the copy is published (the build lock is held).
BeforePublish = Callable[[duckdb.DuckDBPyConnection, str], None]


def build_on_published(
    project: Project,
    select: Sequence[str],
    *,
    audiences: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
    before_publish: BeforePublish | None = None,
    quiet: bool = False,
) -> BuildResult:
    """Build ``select`` on top of the published build and publish the result.

    That is only sound when the build file is exactly the published build and nothing but audience files
    changed since; otherwise this runs a full build (with the same ``extra_env``), which includes ``select``.
    ``audiences`` (the audience models ``select`` reads, e.g. ALL_AUDIENCES) are rebuilt first only when an
    audience file changed since the published build; otherwise ``select`` reads them as published. What is built
    on top of the published build keeps its reference time (``as_of``): every model of a published build, and
    the live counts over it, mean the same "now".
    """
    started = time.monotonic()
    with _locked_for_build(project) as cutoff:
        published = published_build(project)
        current = (
            published is not None
            and published.core_fingerprint == fingerprint(project, cutoff, audiences=False)
            and _build_file_build_id(project) == published.build_id
        )
        audiences_current = published is not None and published.fingerprint == fingerprint(project, cutoff)
        selection = (*(() if audiences_current else audiences), *select)
        return _build_locked(
            project,
            cutoff,
            # On top of the published build, one reference time for all of it (and its profile rollups).
            as_of=published.as_of if current and published is not None else None,
            select=selection if current else (),
            publish_result=True,
            quiet=quiet,
            started=started,
            extra_env=extra_env,
            before_publish=before_publish,
            # On top of the published build the message marts were not rebuilt: they still reflect the ledger,
            # inbox and spool as that build read them, so a later `herald build` must not call itself current.
            streams=(published.streams_fingerprint or "") if current and published is not None else None,
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
        con = connect_deliveries_build(project)
        try:
            info = con.execute("select batch_cutoff, as_of from herald_meta.build_info").fetchone()
        finally:
            con.close()
        assert info is not None
        build_id = clock.now().strftime("%Y%m%dT%H%M%S%fZ")
        _mark_build_file_dirty(project)
        con = connect_deliveries_build(project)
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
            streams_fingerprint=published.streams_fingerprint,
        )
    return BuildResult(build_id, str(info[0]), path, time.monotonic() - started)


def read_build(project: Project) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the build files (a limited build is not published), delivery runs attached.
    Only while no build runs."""
    con = duckdb.connect(str(project.build_path), read_only=True)
    if project.deliveries_build_path.exists():
        runs = _sql_path(project.deliveries_build_path)
        con.execute(f"attach if not exists '{runs}' as {DELIVERIES_CATALOG} (read_only)")
    return con


def connect_deliveries_build(project: Project) -> duckdb.DuckDBPyConnection:
    """A read-write connection to the build's delivery-runs file (``main`` holds the delivery models,
    ``herald_meta`` what Herald records). Only under the build lock."""
    con = duckdb.connect(str(project.deliveries_build_path), config=BUILD_FILE_CONFIG)
    con.execute("create schema if not exists herald_meta")
    for name, columns in META_TABLES.items():
        con.execute(f"create table if not exists herald_meta.{name} ({columns})")
    return con


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
    as_of: str | None = None,
    streams: str | None = None,
) -> BuildResult:
    started_at = clock.now()
    # Stamped before dbt reads them: a line appended or an event spooled during the build makes the next build
    # run, rather than being taken for read. ``streams`` carries a published build's stamp (see above).
    streams = streams if streams is not None else streams_fingerprint(project)
    build_id = started_at.strftime("%Y%m%dT%H%M%S%fZ")
    as_of = as_of or configured_as_of(project) or started_at.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    # One reference time for every model of the build, recorded with it: live audience counts use the same.
    args = ["build"]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if full_refresh:
        args.append("--full-refresh")
    _move_deliveries_out_of_main(project)
    _mark_build_file_dirty(project)
    env = {**(extra_env or {}), "HERALD_AS_OF": as_of, "HERALD_BUILD_ID": build_id}
    run_dbt(project, args, batch_cutoff=cutoff, quiet=quiet, env=env)
    if before_publish is not None:
        con = connect_deliveries_build(project)
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
            streams_fingerprint=streams,
        )
    return BuildResult(build_id, cutoff, published, time.monotonic() - started)


def _build_file_build_id(project: Project) -> str | None:
    """The build the build files last published, or None if dbt has touched them since (or they have none)."""
    if not project.build_path.exists() or not project.deliveries_build_path.exists():
        return None
    try:
        con = duckdb.connect(str(project.deliveries_build_path), read_only=True)
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
    # Until the next publish the build files no longer equal a published build, so an audience-only build
    # never publishes on top of a build that failed half-way.
    if not project.deliveries_build_path.exists():
        return
    con = duckdb.connect(str(project.deliveries_build_path), config=BUILD_FILE_CONFIG)
    try:
        con.execute("drop table if exists herald_meta.build_info")
    finally:
        con.close()


def _delivery_model_names(project: Project) -> list[str]:
    return sorted(p.stem for p in project.delivery_models_dir.glob("*.sql"))


def _move_deliveries_out_of_main(project: Project) -> None:
    """Move delivery runs and herald_meta that an earlier version kept in the main build file into the
    delivery-runs file, so no prepared run, control result or approval is lost on upgrade. Once."""
    if not project.build_path.exists():
        return
    con = duckdb.connect(str(project.build_path), config=BUILD_FILE_CONFIG)
    try:
        legacy = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
            " and ((schema_name = 'main' and table_name in (select unnest(?))) or schema_name = 'herald_meta')",
            [_delivery_model_names(project)],
        ).fetchall()
        if not legacy:
            return
        con.execute(f"attach '{_sql_path(project.deliveries_build_path)}' as {DELIVERIES_CATALOG}")
        for schema, table in legacy:
            con.execute(f"create schema if not exists {DELIVERIES_CATALOG}.{schema}")
            con.execute(f"create table if not exists {DELIVERIES_CATALOG}.{schema}.{table} as from {schema}.{table}")
            con.execute(f"drop table {schema}.{table}")
        con.execute("checkpoint")
    finally:
        con.close()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def configured_as_of(project: Project) -> str | None:
    """The ``as_of`` var set in dbt_project.yml (to rebuild a past state), or None for "the build time": in a
    project of its own, set for every package or for Herald's (``vars: {herald: {as_of: ...}}``)."""
    doc = yaml.safe_load((project.root / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    variables = doc.get("vars") or {}
    scoped = variables.get(PACKAGE_NAME) if project.uses_package else None
    value = scoped.get("as_of") if isinstance(scoped, dict) else None
    if value is None:
        value = variables.get("as_of")
    return None if value in (None, "") else str(value)


def publish(
    project: Project,
    build_id: str,
    batch_cutoff: str,
    fingerprint: str = "",
    *,
    as_of: str | None = None,
    core_fingerprint: str | None = None,
    streams_fingerprint: str | None = None,
) -> Path:
    """Publish the build files as new versioned read files and point ``CURRENT`` at them atomically.

    The delivery-runs file is always copied (it is small). The main file is copied only when it changed since
    the last publish; otherwise the new name is a hard link to the published file it still equals."""
    con = connect_deliveries_build(project)
    try:
        con.execute(
            "create or replace table herald_meta.build_info as "
            "select ?::varchar as build_id, ?::varchar as batch_cutoff, ?::varchar as fingerprint, "
            "?::varchar as core_fingerprint, ?::timestamp as as_of, now()::timestamp as published_at, "
            "?::varchar as streams_fingerprint",
            [build_id, batch_cutoff, fingerprint, core_fingerprint, as_of, streams_fingerprint],
        )
        con.execute("checkpoint")
    finally:
        con.close()
    _link_deliveries_into_main(project)
    target = project.published_dir / f"herald-{build_id}.duckdb"
    _publish_main_file(project, target)
    _copy_durably(project.deliveries_build_path, warehouse.deliveries_path(target))
    write_atomic(project.current_pointer, target.name + "\n")
    _prune(project, keep=target)
    return target


def _link_deliveries_into_main(project: Project) -> None:
    """Give the main build file a view of every table and view of the delivery-runs file, under the same name, so
    readers query one database. Writes the main file only when a view is missing or its columns changed."""
    runs = duckdb.connect(str(project.deliveries_build_path), read_only=True)
    try:
        # Its views too (send_lists, send_list_exclusions: views over the recipients).
        wanted = {**_columns(runs, "current_database()"), **_columns(runs, "current_database()", views=True)}
    finally:
        runs.close()
    wal = project.build_path.with_name(project.build_path.name + ".wal")
    con = duckdb.connect(str(project.build_path), config=BUILD_FILE_CONFIG)
    try:
        have = _columns(con, "current_database()", views=True)
        stale = [key for key, cols in wanted.items() if have.get(key) != cols]
        if stale:
            con.execute(f"attach '{_sql_path(project.deliveries_build_path)}' as {DELIVERIES_CATALOG} (read_only)")
            for schema, table in stale:
                # herald_meta tables are read in the order they were written (their rowid).
                rowid = "rowid as rowid, " if schema == "herald_meta" else ""
                con.execute(f"create schema if not exists {schema}")
                con.execute(
                    f"create or replace view {schema}.{table} as"
                    f" select {rowid}* from {DELIVERIES_CATALOG}.{schema}.{table}"
                )
        if stale or wal.exists():
            con.execute("checkpoint")
    finally:
        con.close()


def _columns(
    con: duckdb.DuckDBPyConnection, database: str, *, views: bool = False
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    kind = "duckdb_views()" if views else "duckdb_tables()"
    rows = con.execute(
        f"select c.schema_name, c.table_name, c.column_name, c.data_type from duckdb_columns() c"
        f" join {kind} t on t.database_name = c.database_name and t.schema_name = c.schema_name"
        f" and t.{'view_name' if views else 'table_name'} = c.table_name"
        f" where c.database_name = {database} and c.schema_name in ('main', 'herald_meta') and c.column_name <> 'rowid'"
        " order by c.schema_name, c.table_name, c.column_index"
    ).fetchall()
    out: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for schema, table, column, dtype in rows:
        out.setdefault((schema, table), []).append((column, dtype))
    return out


def _publish_main_file(project: Project, target: Path) -> None:
    """Copy the main build file to ``target``, or hard-link the published file it still equals."""
    stamp_file = project.build_dir / "herald.duckdb.published"
    st = project.build_path.stat()
    stamp = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    try:
        recorded, name = stamp_file.read_text(encoding="utf-8").split()
    except (FileNotFoundError, ValueError):
        recorded, name = "", ""
    previous = project.published_dir / name if name else None
    if recorded == stamp and previous is not None and previous.exists():
        os.link(previous, target)
    else:
        _copy_durably(project.build_path, target)
    stamp_file.write_text(f"{stamp} {target.name}\n", encoding="utf-8")


def _copy_durably(source: Path, target: Path) -> None:
    with replacing(target, durable=True) as tmp:
        shutil.copyfile(source, tmp)


def _prune(project: Project, keep: Path) -> None:
    # Readers that still have an older file open keep reading it: on POSIX an unlinked file lives until closed
    # (and a hard-linked main file lives on under its newer names).
    files = sorted(project.published_dir.glob("herald-*.duckdb"))
    for old in files[:-KEEP_PUBLISHED]:
        if old != keep:
            old.unlink(missing_ok=True)
            warehouse.deliveries_path(old).unlink(missing_ok=True)
