"""``herald`` — the command line, a thin layer over the library.

    herald init PATH [--demo]        a new project of your own (settings, specs, its dbt project)
    herald demo                      land the demo data and build (the app is started by `make demo`)
    herald build                     build the warehouse with dbt and publish it for readers
    herald status                    what is published and what has landed
    herald import profiles FILE      import contacts (also: consents, orders, order_lines, payments)
    herald export TABLE --out FILE   export a mart (or: herald export audience NAME --out FILE)
    herald generate --profiles N --out DIR    write the raw shape at any size, for benchmarks
    herald audience list|count|sql|build|generate    audiences from specs/audiences/
    herald prepare DELIVERY          a new frozen run of a delivery (typology rules, send list, controls)
    herald runs list|report|check    prepared runs; herald approve RUN --by NAME records an approval
    herald proof DELIVERY --by NAME  the latest run's messages, to its seeds and test profiles only, as proofs
    herald send RUN [--dry-run]      send an approved run exactly once (progress, summary); resumable
    herald pause|resume|cancel RUN   control a run's senders; herald ledger RUN [--message ID]
    herald resolve RUN --by NAME     settle unknown messages from provider events (or --as not-sent|sent|failed)
    herald serve                     the public endpoints: provider webhooks, unsubscribe, preferences, forms
    herald ingest events FILE        load provider event exports; herald ingest flush lands the webhook spool
    herald run [--workflow NAME]     run the workflows and journeys that are due (specs/workflows/; docs/automation.md)
    herald dbt ARGS                  run dbt in the project, with the environment Herald's models need
    herald app [--port 8501]         serve the app (Streamlit) on the project's published warehouse

Every command but ``herald init`` runs in the project around the current folder (the nearest herald.yml above
it), or in ``HERALD_HOME``.

Every command exits 0 on success, 1 on a failure Herald explains, 2 when an input file cannot be read.
``herald send`` also exits 3 when the run may not be sent, 4 when it stopped early (paused, cancelled, account
refused), 5 when messages remain pending (outside the send window) and 6 when messages end unknown (the provider
may or may not have them: ``herald resolve`` settles them). ``herald run`` has its own codes
(docs/automation.md): 3 a circuit breaker blocked a delivery, 4 a delivery awaits approval, 75 another run works.
"""

from __future__ import annotations

import argparse
import datetime as dt
import inspect
import os
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from herald import warm_dbt
from herald.errors import HeraldError
from herald.project import Project, find_project
from herald.settings import provider_environment, read_settings
from herald.terminal import format_table

Handler = Callable[[argparse.Namespace, Project], int]
ProjectlessHandler = Callable[[argparse.Namespace], int]

_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
_EXAMPLE = re.compile(r"\s*Example:\s*``(.+?)``\s*\Z", re.DOTALL)


class TerminalFormatter(argparse.HelpFormatter):
    """Wraps prose to the terminal's width and keeps indented lines (examples, the command table) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        lines: list[str] = []
        prose: list[str] = []
        for line in [*text.splitlines(), ""]:
            if line.strip() and not line[0].isspace():
                prose.append(line.strip())
                continue
            if prose:
                lines.append(textwrap.fill(" ".join(prose), width, initial_indent=indent, subsequent_indent=indent))
                prose.clear()
            lines.append(indent + line if line.strip() else "")
        return "\n".join(lines).rstrip()


def terminal_help(doc: str | None) -> dict[str, Any]:
    """A parser's ``help`` (its first sentence), ``description`` and formatter, from a docstring written in
    reStructuredText, as a terminal should show them: double backticks dropped around the code they quote, and
    the closing example on lines of its own. Every parser of ``herald`` is made with it."""
    text = inspect.cleandoc(doc or "")
    example = _EXAMPLE.search(text)
    if example is not None:
        text = text[: example.start()]
    text = _LITERAL.sub(r"\1", text)
    summary = re.split(r"(?<=[.?!])\s", " ".join(text.split()), maxsplit=1)[0].removesuffix(".")
    if example is not None:
        text += "\n\nExample:\n  " + " ".join(example.group(1).split())
    # argparse %-formats a help string, never a description.
    return {"help": summary.replace("%", "%%"), "description": text, "formatter_class": TerminalFormatter}


def cmd_init(args: argparse.Namespace) -> int:
    """Write a new project of your own into an empty folder. Example: ``herald init acme_campaigns --demo``"""
    from herald.scaffold import init_project

    made = init_project(Path(args.path), demo=args.demo, name=args.name)
    print(f"Wrote Herald project {made.name} in {made.root} ({len(made.files)} files).")
    then = "herald demo" if args.demo else "herald build"
    print(f"Next: cd {args.path} && {then}   (README.md says more)")
    return 0


def cmd_dbt(args: argparse.Namespace, project: Project) -> int:
    """Run dbt in the project, with the environment Herald's models need (paths, the package).

    Example: ``herald dbt ls --select herald.marts``"""
    from herald.build import run_dbt

    if not args.dbt_args:
        raise HeraldError("herald dbt needs dbt's arguments, e.g. `herald dbt ls`")
    run_dbt(project, args.dbt_args)
    return 0


def cmd_app(args: argparse.Namespace, project: Project) -> int:
    """Serve the app on the project's published warehouse until Ctrl-C. Example: ``herald app --port 8501``"""
    import importlib.util

    found = importlib.util.find_spec("app")
    if found is None or found.origin is None:
        raise HeraldError("the app is not installed with this Herald")
    script = Path(found.origin).parent / "streamlit_app.py"
    print(f"Herald's app on http://localhost:{args.port} for {project.root} (Ctrl-C stops it)")
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true"]
    command += ["--server.port", str(args.port), "--browser.gatherUsageStats", "false"]
    env = {**os.environ, "HERALD_HOME": str(project.root), "HERALD_WAREHOUSE_DIR": str(project.warehouse_dir)}
    # Streamlit takes this process's place: signals (Ctrl-C, a supervisor's stop) reach it directly.
    sys.stdout.flush()
    os.chdir(project.root)
    os.execve(sys.executable, command, env)


def cmd_build(args: argparse.Namespace, project: Project) -> int:
    """Build and publish. Example: ``herald build --select profiles+``"""
    from herald.build import build
    from herald.warehouse import sql_warehouse

    remote = sql_warehouse()
    if remote is not None:  # HERALD_WAREHOUSE_URL: land, build and publish on that warehouse (herald/sql_build.py)
        from herald.sql_build import build as build_on_sql

        if args.select:
            raise HeraldError("--select builds only the embedded warehouse; a SQL warehouse builds whole")
        done = build_on_sql(project, remote)
        print(f"Published build {done.build_id} ({done.seconds:.1f}s) as schema {remote.schema}.")
        return 0
    result = build(project, select=args.select or (), force=args.force)
    if result.published_path is None:
        print(f"Up to date: build {result.build_id} already covers batches up to {result.batch_cutoff}.")
    else:
        print(f"Published build {result.build_id} ({result.seconds:.1f}s): {result.published_path}")
    return 0


def cmd_demo(args: argparse.Namespace, project: Project) -> int:
    """Land the demo marketing database (once) and build. Example: ``herald demo``"""
    from herald.build import build
    from herald.demo import load_demo, move_demo_specs, recorded_shift

    landed = load_demo(project)
    shift = recorded_shift(project)
    moved = f", dates moved {shift.days:+d} days so the newest data is yesterday" if shift and shift.days else ""
    print(f"Demo data: {len(landed)} new batch(es) landed{moved}." if landed else "Demo data: already landed.")
    if shift is not None:
        for path in move_demo_specs(project, shift):
            print(f"Demo spec {path.relative_to(project.root)}: dates moved with the demo data.")
    result = build(project, force=args.force)
    if result.published_path is None:
        print(f"Warehouse up to date (build {result.build_id}).")
    else:
        print(f"Published build {result.build_id} in {result.seconds:.1f}s.")
    return 0


def cmd_status(args: argparse.Namespace, project: Project) -> int:
    """Show the published build and the landed batches. Example: ``herald status``"""
    from herald.status import describe

    print(describe(project))
    return 0


def cmd_import(args: argparse.Namespace, project: Project) -> int:
    """Import a CSV or Parquet file. Example: ``herald import profiles contacts.csv --mapping map.yml``"""
    from herald.importing import import_file

    report = import_file(
        project,
        args.kind,
        Path(args.file),
        mapping_path=Path(args.mapping) if args.mapping else None,
        rejects_path=Path(args.rejects) if args.rejects else None,
        encoding=args.encoding,
        delimiter=args.delimiter,
        date_order=args.date_order,
        unknown_columns=args.unknown_columns,
    )
    print(report.summary())
    return 0


def cmd_export(args: argparse.Namespace, project: Project) -> int:
    """Export a mart or an audience. Example: ``herald export profiles --format parquet --out profiles.parquet``"""
    from herald.export import export_audience, export_table

    if args.what == "audience":
        if not args.name:
            raise HeraldError("herald export audience needs the audience NAME")
        result = export_audience(project, args.name, args.format, Path(args.out))
    else:
        if args.name:
            raise HeraldError(f"unexpected argument {args.name!r}: use `herald export TABLE --out FILE`")
        result = export_table(project, args.what, args.format, Path(args.out))
    print(f"Exported {result.rows:,} rows of {result.source} (build {result.build_id}) to {result.path}")
    return 0


def cmd_generate(args: argparse.Namespace, project: Project) -> int:
    """Write the raw shape at any size. Example: ``herald generate --profiles 1000000 --out /data/raw``"""
    from herald.generate import generate
    from herald.progress import ProgressBar

    report = generate(
        Path(args.out),
        profiles=args.profiles,
        events_per_profile=args.events_per_profile,
        seed=args.seed,
        end_date=args.end_date,
        progress=ProgressBar(),
    )
    print(report.summary())
    return 0


def cmd_audience_list(args: argparse.Namespace, project: Project) -> int:
    """List saved audiences with their version and, when built, their members. Example: ``herald audience list``"""
    from herald.audiences.service import list_audiences

    rows = list_audiences(project)
    if not rows:
        print("No audience saved yet: add a YAML file under specs/audiences/ (see docs/audiences.md).")
        return 0

    table = [
        (
            r.name,
            r.version,
            ", ".join(r.groups),
            "not built" if r.members is None else f"{r.members:,}",
            r.build_id or "",
            f"invalid: {r.error}" if r.error else r.description,
        )
        for r in rows
    ]
    print(format_table(("NAME", "VERSION", "GROUPS", "MEMBERS", "BUILD", "DESCRIPTION"), table, right={3}))
    return 0


def cmd_audience_count(args: argparse.Namespace, project: Project) -> int:
    """Count an audience live on the published warehouse. Example: ``herald audience count vip_customers``"""
    from herald.audiences.library import AudienceLibrary
    from herald.audiences.live import open_live

    spec = AudienceLibrary.of(project).resolve_file_or_name(args.audience)
    with open_live(project) as live:
        count = live.count(spec)
        build_id = live.build_id
    print(f"{spec.name}: {count.total:,} members (build {build_id})")
    if len(count.groups) > 1:
        for group, n in count.groups:
            print(f"  {group}: {n:,}")
    return 0


def cmd_audience_sql(args: argparse.Namespace, project: Project) -> int:
    """Print the SQL an audience compiles to. Example: ``herald audience sql vip_customers --dialect postgres``"""
    from herald.audiences.library import AudienceLibrary
    from herald.audiences.live import open_live

    spec = AudienceLibrary.of(project).resolve_file_or_name(args.audience)
    with open_live(project) as live:
        print(live.sql(spec, args.dialect))
    return 0


def cmd_audience_build(args: argparse.Namespace, project: Project) -> int:
    """Materialize audiences (all, or NAMEs) and publish. Example: ``herald audience build vip_customers``"""
    from herald.audiences.service import build_and_report

    result = build_and_report(project, args.names)
    print(f"Published build {result.build_id} in {result.seconds:.1f}s.")
    return 0


def cmd_audience_generate(args: argparse.Namespace, project: Project) -> int:
    """Regenerate the audience dbt models from their specs. Example: ``herald audience generate --check``"""
    from herald.audiences.models import drift, write

    if args.check:
        problems = drift(project)
        for problem in problems:
            print(problem)
        if problems:
            print("Run `herald audience generate` to bring the models in line with the specs.")
            return 1
        print("Audience models match their specs.")
        return 0
    for path in write(project):
        print(f"wrote {path}")
    return 0


def cmd_prepare(args: argparse.Namespace, project: Project) -> int:
    """Prepare a new run of a delivery and publish it. Example: ``herald prepare winter_sale_email``"""
    from herald.campaigns.prepare import prepare
    from herald.campaigns.report import format_report, run_report

    run = prepare(project, args.delivery, quiet=not args.verbose)
    print(f"Prepared run {run.run_id} in {run.seconds:.1f}s (build {run.build_id}).")
    print(format_report(run_report(project, run.run_id)))
    if run.blocked:
        print("The run is blocked by its control rules: fix them and prepare again.", file=sys.stderr)
        return 1
    return 0


def cmd_runs_list(args: argparse.Namespace, project: Project) -> int:
    """List prepared runs, newest first. Example: ``herald runs list winter_sale_email``"""
    from herald.campaigns.report import list_runs

    runs = list_runs(project, args.delivery)
    if not runs:
        print("No prepared run yet: `herald prepare DELIVERY` makes one.")
        return 0

    header = ("RUN", "CHANNEL", "SEND", "CONTROL", "EXCLUDED", "DIGEST")
    rows = [
        (r.run_id, r.channel, f"{r.send_count:,}", f"{r.control_count:,}", f"{r.excluded_count:,}", r.digest)
        for r in runs
    ]
    print(format_table(header, rows, right={2, 3, 4}))
    return 0


def cmd_runs_report(args: argparse.Namespace, project: Project) -> int:
    """Show a run's preparation report. Example: ``herald runs report RUN_ID --samples 3``"""
    from herald.campaigns.report import format_report, run_report, sample_messages

    print(format_report(run_report(project, args.run)))
    for recipient, message, error in sample_messages(project, args.run, args.samples) if args.samples else []:
        print(f"--- {recipient}")
        print(f"Subject: {message.subject}\n\n{message.text}" if message is not None else error)
    return 0


def cmd_runs_check(args: argparse.Namespace, project: Project) -> int:
    """May a run be sent now? Exit 0 if so. Example: ``herald runs check RUN_ID``"""
    from herald.campaigns.approvals import check_send

    check = check_send(project, args.run)
    if check.allowed:
        who = f" (approved by {check.approval.approver})" if check.approval else ""
        print(f"Run {args.run} may be sent{who}.")
        return 0
    for reason in check.reasons:
        print(f"refused: {reason}", file=sys.stderr)
    return 1


def cmd_approve(args: argparse.Namespace, project: Project) -> int:
    """Approve a prepared run's target and content. Example: ``herald approve RUN_ID --by anna``"""
    from herald.campaigns.approvals import approve

    record = approve(project, args.run, args.by, args.note or "")
    print(
        f"Run {record.run_id} approved by {record.approver} at {record.approved_at:%Y-%m-%d %H:%M} UTC "
        f"(content {record.content_hash})."
    )
    return 0


def cmd_run(args: argparse.Namespace, project: Project) -> int:
    """Run the workflows that are due, as JSON-lines logs. Example: ``herald run --now 2026-12-03T02:00:00Z``"""
    import datetime as dt

    from orchestration.breakers import record_override
    from orchestration.scheduler import run_scheduler

    if args.override:
        if not args.reason or not args.by:
            raise HeraldError("--override needs --reason TEXT and --by NAME (both are recorded)")
        o = record_override(project, args.override, by=args.by, reason=args.reason)
        print(f"Override {o.id} recorded: {o.delivery} may send despite its breakers, once ({o.by}: {o.reason}).")
    now = None
    if args.now:
        try:
            now = dt.datetime.fromisoformat(args.now)
        except ValueError:
            raise HeraldError(f"--now {args.now!r} is not an ISO date and time, e.g. 2026-12-03T02:00:00Z") from None
        now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    # A run often builds, refreshes audiences and prepares: its dbt commands fork from one warm helper.
    warm_dbt.enable()
    return run_scheduler(
        project, now=now, workflow=args.workflow, start=args.start, dry_run=args.dry_run, wait=args.wait
    )


def cmd_render_dbt_yaml(args: argparse.Namespace, project: Project) -> int:
    """Regenerate the dbt files derived from herald/raw_schema.py and herald/domains.py.

    Example: ``herald dev render-dbt-yaml``"""
    from herald.dbt_sources import write_all

    for path in write_all(project.root):
        print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    rendered = terminal_help(__doc__)
    parser = argparse.ArgumentParser(
        prog="herald", description=rendered["description"], formatter_class=rendered["formatter_class"]
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str,
        handler: Handler | None = None,
        *,
        doc: str | None = None,
        under: argparse._SubParsersAction[argparse.ArgumentParser] | None = None,
        **kwargs: Any,
    ) -> argparse.ArgumentParser:
        """A command (or, ``under`` a command's subparsers, a subcommand) whose help and description come from
        ``doc``, else from its handler's docstring, rendered for the terminal."""
        text = doc if doc is not None else handler.__doc__ if handler is not None else None
        p = (under or sub).add_parser(name, **{**terminal_help(text), **kwargs})
        if handler is not None:
            p.set_defaults(handler=handler)
        return p

    p = add("init", doc=cmd_init.__doc__)
    p.set_defaults(projectless=cmd_init)
    p.add_argument("path", help="the new project's folder (created if missing; must be empty)")
    p.add_argument("--demo", action="store_true", help="start from the demo's specs (`herald demo` lands its data)")
    p.add_argument("--name", help="its dbt project name (default: from the folder's name)")

    p = add("dbt", cmd_dbt)
    p.add_argument("dbt_args", nargs=argparse.REMAINDER, help="dbt's command and arguments")

    p = add("app", cmd_app)
    p.add_argument("--port", type=int, default=8501, help="the port to serve on (default: 8501)")

    p = add("build", cmd_build)
    p.add_argument("--select", nargs="+", help="dbt selection (default: everything)")
    p.add_argument("--force", action="store_true", help="build even when nothing changed")

    p = add("demo", cmd_demo)
    p.add_argument("--force", action="store_true", help="rebuild even when nothing changed")

    add("status", cmd_status)

    p = add("import", cmd_import)
    # Spelled out: importing herald.importing here would slow every command's start (a test keeps them equal).
    p.add_argument("kind", choices=["profiles", "consents", "orders", "order_lines", "payments"])
    p.add_argument("file", help="CSV or Parquet file")
    p.add_argument("--mapping", help="YAML column mapping (default: match headers automatically)")
    p.add_argument("--rejects", help="where rejected rows go (default: FILE.rejects.csv beside the input)")
    p.add_argument("--encoding", help="file encoding (default: UTF-8, falling back to Latin-1)")
    p.add_argument("--delimiter", help="CSV delimiter (default: sniffed)")
    p.add_argument("--date-order", choices=["auto", "dmy", "mdy", "ymd"], default="auto")
    p.add_argument("--unknown-columns", choices=["error", "ignore", "attributes"], default="error")

    p = add("export", cmd_export)
    p.add_argument("what", help="a mart name (e.g. profiles), or the word `audience`")
    p.add_argument("name", nargs="?", help="the audience name, after `audience`")
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument("--out", required=True, help="output file")

    p = add("generate", cmd_generate)
    p.add_argument("--profiles", type=int, required=True)
    p.add_argument("--events-per-profile", type=int, default=50)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--end-date",
        type=dt.date.fromisoformat,
        help="the last day of the generated data, YYYY-MM-DD (default: yesterday, so the data is current)",
    )
    p.add_argument("--out", required=True, help="output folder (usable as a landing folder)")

    from senders.cli import register as register_senders

    register_senders(add)

    audience = add(
        "audience",
        doc="Audiences: list, count, show SQL, build, generate models. They are saved under specs/audiences/"
        " (see docs/audiences.md). Example: ``herald audience count winter_sale_test``",
    )
    audience_sub = audience.add_subparsers(dest="audience_command", required=True, metavar="AUDIENCE_COMMAND")
    add("list", cmd_audience_list, under=audience_sub)
    p = add("count", cmd_audience_count, under=audience_sub)
    p.add_argument("audience", help="a saved audience name, or a path to an audience YAML file")
    p = add("sql", cmd_audience_sql, under=audience_sub)
    p.add_argument("audience", help="a saved audience name, or a path to an audience YAML file")
    p.add_argument("--dialect", choices=["duckdb", "postgres", "spark"], default="duckdb")
    p = add("build", cmd_audience_build, under=audience_sub)
    p.add_argument("names", nargs="*", help="audiences to rebuild (default: all)")
    p = add("generate", cmd_audience_generate, under=audience_sub)
    p.add_argument("--check", action="store_true", help="only report models that differ from their specs")

    p = add("prepare", cmd_prepare)
    p.add_argument("delivery", help="a delivery id from specs/plans/")
    p.add_argument("--verbose", action="store_true", help="show dbt's output")

    p = add("approve", cmd_approve)
    p.add_argument("run", help="a run id (see `herald runs list`)")
    p.add_argument("--by", required=True, help="who approves (one of the delivery's approvers)")
    p.add_argument("--note", help="a comment kept with the approval")

    runs = add("runs", doc="Prepared delivery runs: list, report, check. Example: ``herald runs list``")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, metavar="RUNS_COMMAND")
    p = add("list", cmd_runs_list, under=runs_sub)
    p.add_argument("delivery", nargs="?", help="only this delivery's runs")
    p = add("report", cmd_runs_report, under=runs_sub)
    p.add_argument("run", help="a run id")
    p.add_argument("--samples", type=int, default=0, help="render this many messages with their data")
    p = add("check", cmd_runs_check, under=runs_sub)
    p.add_argument("run", help="a run id")

    p = add("run", cmd_run)
    p.add_argument("--now", help="the clock, ISO 8601 (default: now); a simulated clock for tests and backfills")
    p.add_argument("--workflow", help="only this workflow (a paused one too)")
    p.add_argument("--start", action="store_true", help="with --workflow: start a run now, due or not")
    p.add_argument("--dry-run", action="store_true", help="list what is due; run nothing")
    p.add_argument("--wait", action="store_true", help="wait for another `herald run` instead of exiting 75")
    p.add_argument("--override", metavar="DELIVERY", help="let DELIVERY send once despite its circuit breakers")
    p.add_argument("--reason", help="why the override (recorded)")
    p.add_argument("--by", help="who overrides (recorded)")

    dev = add("dev", doc="Maintenance commands for Herald's own developers.")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True, metavar="DEV_COMMAND")
    add("render-dbt-yaml", cmd_render_dbt_yaml, under=dev_sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        projectless: ProjectlessHandler | None = getattr(args, "projectless", None)
        if projectless is not None:
            return projectless(args)
        project = find_project()
        # Credentials in the variables herald.yml names, under the names Herald's senders read.
        os.environ.update(provider_environment(read_settings(project.root), os.environ))
        code: int = args.handler(args, project)
        return code
    except HeraldError as exc:
        print(f"herald: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("herald: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
