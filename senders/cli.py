"""The delivery side's commands: ``herald send``, ``pause`` / ``resume`` / ``cancel``, ``ledger``, and the
tracking side's ``herald serve`` and ``herald ingest events|flush``.

Thin wrappers over ``senders.job``, ``senders.ledger`` and ``senders.tracking``; ``herald.cli`` registers them.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from herald.project import Project
from herald.terminal import format_table
from senders import ledger
from senders.job import SendJob, SendSummary
from senders.options import Progress, SendOptions
from senders.pacing import SendWindow
from senders.resolve import DECISIONS, parse_age, resolve_unknown

Handler = Callable[[argparse.Namespace, Project], int]


class _Bar:
    """sent / total, rate and ETA on one line of stderr, at most five times a second."""

    def __init__(self) -> None:
        self.last = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and p.done < p.total:
            return
        self.last = now
        share = p.done / p.total if p.total else 1.0
        filled = int(share * 30)
        eta = "--" if p.eta_seconds is None else f"{p.eta_seconds:,.0f}s"
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {p.done:,}/{p.total:,} · {p.rate:,.0f}/s · ETA {eta}"
        print(("\r" if self.tty else "") + line, end="" if self.tty else "\n", file=sys.stderr, flush=True)


def format_summary(s: SendSummary) -> str:
    lines = [
        f"run {s.run_id}: {s.total:,} recipients"
        + (" (dry run: nothing was sent)" if s.dry_run else f", {s.sent_now:,} sent now in {s.elapsed:.1f}s")
    ]
    for state in ("accepted", "valid", "invalid", "failed", "unknown", "skipped", "released", "pending"):
        if s.states.get(state):
            lines.append(f"  {state:<9} {s.states[state]:>9,}")
    if s.reasons:
        lines.append("Reasons:")
        lines += [f"  {n:>9,}  {why}" for why, n in sorted(s.reasons.items(), key=lambda kv: -kv[1])[:15]]
    if s.provider_events:
        lines.append("Provider: " + ", ".join(f"{k} {v:,}" for k, v in sorted(s.provider_events.items())))
    if s.stopped:
        lines.append(f"Stopped: {s.stopped}")
    elif not s.dry_run and s.states.get("pending"):
        lines.append("Messages still pending (outside the send window, or left by a stop): run `herald send` again.")
    if s.states.get("unknown"):
        lines.append(
            f"{s.states['unknown']:,} message(s) unknown: the provider may or may not have them, so they are never"
            " re-sent blindly. Land the provider's events (`herald ingest flush`), then"
            f" `herald resolve {s.run_id} --by NAME` settles those the events prove sent; add"
            " `--as not-sent --older-than 2h` to release the rest for the next `herald send` (docs/senders.md)."
        )
    return "\n".join(lines)


def cmd_send(args: argparse.Namespace, project: Project) -> int:
    """Send a prepared, approved run, exactly once. Example: ``herald send r20261203T080000-winter_sale_email``"""
    options = SendOptions(
        dry_run=args.dry_run or args.sandbox,
        sandbox=args.sandbox,
        concurrency=args.concurrency,
        max_batch=args.batch_size,
        max_per_hour=args.max_per_hour,
        send_window=SendWindow.parse(args.window) if args.window else None,
    )
    job = SendJob(project, args.run, options, progress=None if args.quiet else _Bar())
    summary = job.run()
    if not args.quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    print(format_summary(summary))
    if summary.stopped:
        return 4
    if summary.dry_run:
        return 0
    if not summary.complete:
        return 5
    return 6 if summary.states.get("unknown") else 0


def cmd_resolve(args: argparse.Namespace, project: Project) -> int:
    """Settle a run's unknown messages: from landed provider events, then as decided for those older than
    ``--older-than``. Example: ``herald resolve RUN --by anna --as not-sent --older-than 2h``"""
    try:
        age = parse_age(args.older_than)
    except ValueError as exc:
        print(f"herald: error: --older-than {exc}", file=sys.stderr)
        return 2
    r = resolve_unknown(project, args.run, by=args.by, decision=args.as_, older_than=age, reason=args.reason or "")
    print(f"run {r.run_id}: {r.from_events:,} settled from provider events, {r.decided:,} decided by {args.by}, "
          f"{r.still_unknown:,} still unknown")  # fmt: skip
    if r.busy_shards:
        print(f"{len(r.busy_shards)} shard(s) are held by a running sender and were left alone: run it again later.")
    if r.still_unknown and args.as_ is None:
        print("To settle the rest: --as not-sent (sent again by the next `herald send`), --as sent, or --as failed.")
    return 6 if r.still_unknown else 0


def _control(state: ledger.ControlState) -> Handler:
    def handler(args: argparse.Namespace, project: Project) -> int:
        c = ledger.set_control(project, args.run, state, by=args.by, reason=args.reason or "")
        print(f"run {args.run} is now {c.state} (by {c.by})")
        return 0

    handler.__doc__ = {
        "paused": "Pause a run: senders stop after their current window. Example: ``herald pause RUN --by anna``",
        "active": "Resume a paused run (then run ``herald send`` again). Example: ``herald resume RUN --by anna``",
        "cancelled": "Cancel a run for good: nothing more is sent. Example: ``herald cancel RUN --by anna``",
    }[state]
    return handler


def cmd_ledger(args: argparse.Namespace, project: Project) -> int:
    """What the ledger holds for a run, or for one message. Example: ``herald ledger RUN --message m1a2…``"""
    if args.message:
        history = [e for e in ledger.read_history(project, args.run) if e.message_id == args.message]
        if not history:
            print(f"no message {args.message} in run {args.run}", file=sys.stderr)
            return 1
        rows = [(e.at, e.state, f"{e.attempt}", e.provider_id, e.reason) for e in history]
        print(format_table(("AT", "STATE", "ATTEMPT", "PROVIDER ID", "REASON"), rows, right={2}))
        return 0
    latest = ledger.read_run(project, args.run)
    counts: dict[str, int] = {}
    for e in latest.values():
        counts[e.state] = counts.get(e.state, 0) + 1
    c = ledger.control(project, args.run)
    print(f"run {args.run} ({c.state}): " + ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())))
    return 0


def cmd_proof(args: argparse.Namespace, project: Project) -> int:
    """Send the latest run's proofs to the delivery's seeds and test profiles. Example: ``herald proof D --by anna``"""
    from senders.proof import send_proofs

    results = send_proofs(project, args.delivery, requested_by=args.by)
    rows = [(r.state, r.address, r.data_of, r.provider_id or r.reason) for r in results]
    print(format_table(("STATE", "ADDRESS", "DATA OF", "PROVIDER ID OR REASON"), rows))
    return 0 if all(r.state == "accepted" for r in results) else 1


def cmd_serve(args: argparse.Namespace, project: Project) -> int:
    """Serve the Event Webhook, the SMS / push callbacks, the inbox, the consent pages, transactional messages
    and workflow starts until stopped. Example: ``herald serve --host 0.0.0.0 --port 8700``"""
    from orchestration.workflows_api import workflow_routes
    from senders.tracking.context import ServeContext
    from senders.tracking.server import ROUTE_FACTORIES, ServeOptions, serve

    options = ServeOptions(
        insecure_unsigned_webhook=args.insecure_unsigned_webhook,
        compact_every=args.compact_every or None,
        group_commit=not args.no_group_commit,
    )
    routes = (*ROUTE_FACTORIES, workflow_routes)
    serve(ServeContext.from_env(project), host=args.host, port=args.port, options=options, route_factories=routes)
    return 0


def cmd_ingest(args: argparse.Namespace, project: Project) -> int:
    """Load provider events: ``events FILE`` (a SendGrid export), or ``flush`` (land the webhook spool now).
    Example: ``herald ingest events sendgrid_export.json --rejects bad.jsonl``"""
    return 0  # argparse requires a sub-command; each has its own handler


def cmd_ingest_events(args: argparse.Namespace, project: Project) -> int:
    """Land a JSON array or JSON lines of SendGrid events as one batch; bad events go to a rejects file.
    Example: ``herald ingest events export.jsonl --format jsonl``"""
    from senders.tracking.ingest import ingest_events

    report = ingest_events(
        project, Path(args.file), fmt=args.format, rejects_path=Path(args.rejects) if args.rejects else None
    )
    print(report.summary())
    return 0


def cmd_ingest_flush(args: argparse.Namespace, project: Project) -> int:
    """Land the webhook spool now: every event the server has acknowledged, including those in the segments it
    is still writing (it is asked to seal them; the server also lands the spool every few seconds).
    Example: ``herald ingest flush``"""
    from senders.tracking.spool import flush

    report = flush(project, wait=args.wait)
    r = report.landed
    print(f"{r.segments:,} segment(s): {r.rows:,} events landed in {len(r.batches)} batch(es), {r.rejected:,} rejected")
    if report.still_open:
        print(
            f"{report.still_open:,} segment(s) still open: their server did not seal them within {args.wait:g} s;"
            " they land at its next compaction or the next flush"
        )
    return 0


def register(add: Callable[..., argparse.ArgumentParser]) -> None:
    """Add these commands with ``herald.cli``'s ``add(name, handler, under=subparsers)``, which makes every parser
    (help and description from the handler's docstring, rendered for the terminal)."""
    p = add("proof", cmd_proof)
    p.add_argument("delivery", help="delivery id (its latest prepared run is used)")
    p.add_argument("--by", required=True, help="who asks for the proofs (recorded)")
    p = add("send", cmd_send)
    p.add_argument("run", help="run id (see `herald runs list`)")
    p.add_argument("--dry-run", action="store_true", help="render and validate every message; send nothing")
    p.add_argument("--sandbox", action="store_true", help="dry run, and have the provider validate every request")
    p.add_argument("--concurrency", type=int, default=8, help="provider calls in flight (default 8)")
    p.add_argument("--batch-size", type=int, default=None, help="most messages per provider call")
    p.add_argument("--max-per-hour", type=int, default=None, help="throttle: at most N messages per hour")
    p.add_argument("--window", help="send only between these local hours of each recipient, e.g. 08:00-21:00")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    for name, state in (("pause", "paused"), ("resume", "active"), ("cancel", "cancelled")):
        p = add(name, _control(state))  # type: ignore[arg-type]
        p.add_argument("run")
        p.add_argument("--by", required=True, help="who (recorded in the ledger)")
        p.add_argument("--reason", help="why (recorded)")
    p = add("resolve", cmd_resolve)
    p.add_argument("run")
    p.add_argument("--by", required=True, help="who decides (recorded in the ledger)")
    p.add_argument(
        "--as",
        dest="as_",
        choices=DECISIONS,
        help="settle unknown messages no provider event explains: not-sent (released, sent again by the next"
        " `herald send`), sent (accepted), failed (given up); without it only provider events settle",
    )
    p.add_argument("--older-than", default="2h", help="only messages unknown for longer than this (default 2h)")
    p.add_argument("--reason", help="why (recorded)")
    p = add("ledger", cmd_ledger)
    p.add_argument("run")
    p.add_argument("--message", help="one message id: its whole history")
    p = add("serve", cmd_serve)
    p.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8700, help="port (default 8700)")
    p.add_argument(
        "--insecure-unsigned-webhook",
        action="store_true",
        help="DEVELOPMENT ONLY: accept Event Webhook posts without a verification key",
    )
    p.add_argument("--compact-every", type=float, default=5.0, help="seconds between spool compactions (0: at exit)")
    p.add_argument("--no-group-commit", action="store_true", help=argparse.SUPPRESS)  # the benchmark's baseline
    p = add("ingest", cmd_ingest)
    ingest = p.add_subparsers(dest="ingest_command", required=True, metavar="INGEST_COMMAND")
    sp = add("events", cmd_ingest_events, under=ingest)
    sp.add_argument("file", help="a JSON array or JSON lines of SendGrid events")
    sp.add_argument("--format", choices=["json", "jsonl"], help="default: from the suffix, else sniffed")
    sp.add_argument("--rejects", help="where rejected events go (default: FILE.rejects.jsonl)")
    sp = add("flush", cmd_ingest_flush, under=ingest)
    sp.add_argument(
        "--wait", type=float, default=10.0, help="seconds to wait for a running server to seal (default 10)"
    )
