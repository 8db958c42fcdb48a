"""Benchmark: `herald send` throughput, end to end, beside a naive one-request-per-message baseline.

    .venv/bin/python bench/bench_send.py [--profiles 170000] [--workdir /tmp/herald-bench-send] [--profile]

What is measured: ``SendJob(...).run()`` (what ``herald send RUN`` runs: load the run's send list from the
published warehouse, re-check suppressions, render through the one renderer, claim in the fsynced ledger, call
the provider through the official ``sendgrid`` client, record outcomes) for runs prepared through dbt, against the
strict fake SendGrid (``tests.fakes.sendgrid``) with 100 ms added to every request. The fake runs in its own
process (``--lean``: it validates every body and records every message id, but keeps no content), so the sender
and the fake each have a core of this 2-core machine.

Two templates, from ``tests/senders/conftest.py``:

* ``bulk_email`` / ``bulk_news``: simple personalization (fallbacks, links). The sender sends it as shared bodies
  with per-recipient substitutions, up to 1,000 recipients per request. The whole run is sent at each
  ``--bulk-concurrency`` (default 4 and 8), from an empty ledger each time; the best is reported. Goal: >= 10M
  recipients/hour.
* ``logic_email`` / ``logic_news``: per-recipient logic (an ``if`` and a ``for``): one request per recipient.
  Sent at each ``--logic-concurrency`` (default 64 and 128), from an empty ledger each time, time-boxed: once
  ``--logic-limit`` messages were accepted the run is paused (``herald pause``), the job stops after its current
  window, and the figures use the count it reports. Goal: >= 1M recipients/hour.

Seconds are the wall time of ``SendJob.run()``, which includes loading the *whole* run's send list (also for a
time-boxed slice) and reading the ledger back for the summary.

Baseline, in the same run, for each template: a naive loop over the first messages of the run, one sequential
``SendGridAPIClient.send()`` per message with the official client as it ships (a new connection per request), the
message fully rendered by the same ``Composer`` and built with ``sendgrid.helpers.mail``; no ledger, no
suppression checks. It runs for ``--baseline-seconds`` (default 25) and its rate is extrapolated.

Every measurement gets a fresh fake process, whose ``/_fake/stats`` must show each message recorded exactly once
(as many distinct message ids as messages, no duplicates, no invalid request, none without a message id) and as
many messages as the ledger says were accepted; otherwise the script fails.

The world (project + warehouse with ``--profiles`` generated profiles, built and both deliveries prepared through
dbt) is made once in ``--workdir`` and reused while its ``world.json`` is there; how it was made is printed.
Each job run prints where the sender's main thread spent its time (load, suppressions, render, ledger, waiting
for provider calls: the sender's own functions timed while patched), the CPU seconds of the sender and of the
fake, and the highest load average seen at its start or end (the machine may be shared). ``--profile`` also runs
one slice of each template under cProfile (main thread and worker threads) and prints the top functions, then
the CPU microseconds per recipient of each step (render, link tokens, journal lines, request body, provider call)
in one thread against a fake without latency. No assertions on time: the figures go to BENCHMARKS.md with the
machine they ran on.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import io
import json
import os
import platform
import pstats
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sendgrid import SendGridAPIClient  # noqa: E402
from sendgrid.helpers.mail import CustomArg, Header, Mail  # noqa: E402

from herald import landing  # noqa: E402
from herald.build import build  # noqa: E402
from herald.campaigns.catalog import Catalog  # noqa: E402
from herald.campaigns.plans import Sender  # noqa: E402
from herald.campaigns.prepare import prepare  # noqa: E402
from herald.content.render import Renderer  # noqa: E402
from herald.generate.core import generate  # noqa: E402
from herald.project import Project  # noqa: E402
from senders import job as job_module  # noqa: E402
from senders import ledger  # noqa: E402
from senders.batch import BatchSend  # noqa: E402
from senders.compose import Composer, Recipient  # noqa: E402
from senders.exactly_once import ExactlyOnce  # noqa: E402
from senders.job import SendJob, load_run  # noqa: E402
from senders.links import Links  # noqa: E402
from senders.options import Progress, SendOptions  # noqa: E402
from senders.providers.sendgrid import SendGridProvider, SendGridSettings  # noqa: E402
from senders.runs import RunInfo, run_composer  # noqa: E402
from senders.suppression import Suppressions  # noqa: E402
from senders.workers import Flight  # noqa: E402
from tests.conftest import make_scratch_project  # noqa: E402
from tests.senders.conftest import API_KEY, SPECS, sender_env  # noqa: E402

DEFAULT_WORKDIR = Path("/tmp/herald-bench-send")
DEFAULT_PROFILES = 170_000
EVENTS_PER_PROFILE = 2
LATENCY = 0.1
DELIVERIES = {"bulk": "bulk_email", "logic": "logic_email"}
GOALS = {"bulk": 10_000_000, "logic": 1_000_000}  # recipients per hour
TEMPLATES = {"bulk": "bulk_news (simple personalization)", "logic": "logic_news (per-recipient if + for)"}


# ---------------------------------------------------------------------------------------------------- the world


@dataclass(frozen=True)
class World:
    project: Project
    runs: dict[str, str]  # delivery id → run id
    made: dict[str, Any]  # how it was made: profiles, seconds per step, when
    reused: bool = False


def bench_specs() -> dict[str, str]:
    """The sender tests' specs, with the two email deliveries only, both addressed to every profile (the tests
    narrow some audiences to stay fast)."""
    specs = dict(SPECS)
    for name, text in SPECS.items():
        if name.startswith("plans/"):
            plan = yaml.safe_load(text)
            for campaign in plan["campaigns"]:
                campaign["deliveries"] = [d for d in campaign["deliveries"] if d["id"] in DELIVERIES.values()]
                for delivery in campaign["deliveries"]:
                    delivery["audience"] = "everyone"
            specs[name] = yaml.safe_dump(plan, sort_keys=False, allow_unicode=True)
    return specs


def _digest(specs: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(specs, sort_keys=True).encode()).hexdigest()[:12]


def make_world(workdir: Path, profiles: int) -> World:
    """The project, warehouse and prepared runs in ``workdir``: reused when ``world.json`` is there."""
    marker = workdir / "world.json"
    if marker.exists():
        made = json.loads(marker.read_text())
        project = Project(root=workdir / "project", warehouse_dir=workdir / "warehouse")
        return World(project, made["runs"], made, reused=True)
    if workdir.exists():
        shutil.rmtree(workdir)  # a half-made world (interrupted): start again
    workdir.mkdir(parents=True)
    project = make_scratch_project(workdir)
    specs = bench_specs()
    for name, text in specs.items():
        path = project.specs_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    landing.ensure_initialized(project)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    generate(project.landing_dir, profiles=profiles, events_per_profile=EVENTS_PER_PROFILE)
    seconds["generate"] = time.monotonic() - started
    started = time.monotonic()
    build(project, quiet=True)
    seconds["dbt build"] = time.monotonic() - started
    runs = {}
    for delivery in DELIVERIES.values():
        started = time.monotonic()
        runs[delivery] = prepare(project, delivery).run_id
        seconds[f"prepare {delivery}"] = time.monotonic() - started
    made = {
        "profiles": profiles,
        "events_per_profile": EVENTS_PER_PROFILE,
        "runs": runs,
        "seconds": seconds,
        "made_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "specs_digest": _digest(specs),
    }
    marker.write_text(json.dumps(made, indent=2))
    return World(project, runs, made)


# ---------------------------------------------------------------------------------------------------- the fake


class FakeProcess:
    """``python -m tests.fakes.sendgrid --lean`` in its own process: its URL, its stats, its CPU seconds."""

    def __init__(self, latency: float) -> None:
        command = [sys.executable, "-m", "tests.fakes.sendgrid", "--lean", "--port", "0", "--latency", str(latency)]
        self.proc = subprocess.Popen(
            [*command, "--api-key", API_KEY],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.stop()
            raise SystemExit(f"the fake SendGrid did not start: {line!r}")
        self.url = line.removeprefix("listening on ")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_fake/stats", timeout=30) as r:
            return dict(json.loads(r.read()))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def fake_sendgrid(latency: float) -> Iterator[FakeProcess]:
    fake = FakeProcess(latency)
    try:
        yield fake
    finally:
        fake.stop()


def bench_env(project: Project, url: str) -> dict[str, str]:
    env = sender_env(project, SimpleNamespace(url=url))  # type: ignore[arg-type]
    env["HERALD_SENDGRID_TIMEOUT"] = "30"  # the production default: a busy machine must not make calls ambiguous
    return env


def check_exactly_once(stats: dict[str, Any], accepted: int, what: str) -> None:
    """Fail loudly unless the fake recorded each accepted message exactly once and refused nothing."""
    problems = []
    if stats["duplicates"] or stats["duplicate_deliveries"]:
        problems.append(f"{stats['duplicates']} message ids recorded more than once")
    if stats["invalid_requests"]:
        problems.append(f"{stats['invalid_requests']} requests refused as invalid")
    if stats["missing_message_id"]:
        problems.append(f"{stats['missing_message_id']} messages without a message id")
    if stats["messages"] != stats["distinct_message_ids"]:
        problems.append(f"{stats['messages']} messages but {stats['distinct_message_ids']} distinct ids")
    if stats["messages"] != accepted:
        problems.append(f"the fake recorded {stats['messages']} messages, the sender says {accepted} were accepted")
    if problems:
        raise SystemExit(f"{what}: NOT exactly once: " + "; ".join(problems) + f"\nfake stats: {stats}")


# ---------------------------------------------------------------------------------------------------- phases


class Phases:
    """Wall and CPU seconds spent inside the sender's functions, by phase, while patched in (``with``).

    The main thread loads, checks suppressions, renders, writes the ledger and waits; worker threads make the
    provider calls. A phase's time is summed over calls (over threads, for provider calls)."""

    MAIN = (
        ("check the run may be sent", SendJob, "_check"),
        ("load run (DuckDB, payload JSON)", job_module, "load_run"),
        ("suppressions", Suppressions, "__init__"),
        ("suppressions", Suppressions, "refresh"),
        ("suppressions", Suppressions, "reason"),
        ("render (compose)", Composer, "compose_shared"),
        ("render (compose)", Composer, "compose"),
        ("ledger write + fsync", ledger.Shard, "append"),
        ("ledger write + fsync", ledger.Shard, "sync"),
        ("ledger read", ledger.Shard, "_open"),
        ("ledger read", ledger, "read_run"),
        ("ledger read", ledger, "read_shard"),
        ("hand calls to the workers", Flight, "submit"),
        ("waiting for provider calls", Flight, "_ended"),
        ("progress report", BatchSend, "report"),
    )
    WORKER = (("provider call (request body, HTTP, 100 ms latency)", SendGridProvider, "send"),)

    def __init__(self) -> None:
        self.wall: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._saved: list[tuple[Any, str, Any]] = []

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            w, c = time.perf_counter(), time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                dw, dc = time.perf_counter() - w, time.thread_time() - c
                with self._lock:
                    self.wall[name] += dw
                    self.cpu[name] += dc
                    self.calls[name] += 1

        return timed

    def __enter__(self) -> Phases:
        for name, owner, attr in self.MAIN + self.WORKER:
            original = owner.__dict__[attr] if isinstance(owner, type) else getattr(owner, attr)
            self._saved.append((owner, attr, original))
            setattr(owner, attr, self._wrap(name, original))
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, attr, original in reversed(self._saved):
            setattr(owner, attr, original)
        self._saved.clear()

    def report(self, elapsed: float) -> list[str]:
        main = [n for n in dict.fromkeys(n for n, _, _ in self.MAIN)]
        lines = [f"    {'main thread':<52} {'wall s':>8} {'CPU s':>8} {'share':>6} {'calls':>8}"]
        accounted = 0.0
        for name in main:
            accounted += self.wall[name]
            lines.append(
                f"    {name:<52} {self.wall[name]:>8.2f} {self.cpu[name]:>8.2f} {self.wall[name] / elapsed:>6.0%}"
                f" {self.calls[name]:>8,}"
            )
        rest = elapsed - accounted
        rest_name = "the rest (outcome entries, grouping, setup)"
        lines.append(f"    {rest_name:<52} {rest:>8.2f} {'':>8} {rest / elapsed:>6.0%}")
        for name, _, _ in self.WORKER:
            n = self.calls[name]
            lines.append(
                f"    worker threads: {name}: {n:,} calls, {self.wall[name]:.1f} s wall summed"
                f" ({self.wall[name] / max(n, 1) * 1000:.0f} ms each), {self.cpu[name]:.2f} s CPU"
                f" ({self.cpu[name] / max(n, 1) * 1000:.2f} ms each)"
            )
        return lines


# ---------------------------------------------------------------------------------------------------- measurements


@dataclass
class Usage:
    """What a measured block cost: CPU of this process and of the fake, the higher load average of its two ends,
    and the fake's stats at its end."""

    cpu_sender: float = 0.0
    cpu_fake: float = 0.0
    load: tuple[float, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def requests(self) -> int:
        return int(self.stats["accepted_requests"])

    def summary(self) -> str:
        load = "/".join(f"{x:.1f}" for x in self.load)
        return f"CPU sender {self.cpu_sender:.1f} s, fake {self.cpu_fake:.1f} s; load {load}"


@contextlib.contextmanager
def measured_usage(fake: FakeProcess) -> Iterator[Usage]:
    """Measure the block's ``Usage`` (filled in when it ends)."""
    usage = Usage()
    load_before = os.getloadavg()
    fake_cpu, cpu = fake.cpu_seconds(), _cpu_self()
    yield usage
    usage.cpu_sender, usage.cpu_fake = _cpu_self() - cpu, fake.cpu_seconds() - fake_cpu
    usage.load = tuple(max(a, b) for a, b in zip(load_before, os.getloadavg(), strict=True))
    usage.stats = fake.stats()


@dataclass(frozen=True, slots=True)
class Measurement:
    case: str
    recipients: int
    seconds: float
    detail: str
    usage: Usage
    phases: list[str]

    @property
    def per_hour(self) -> float:
        return self.recipients / self.seconds * 3600 if self.seconds else 0.0

    def summary(self) -> str:
        return (
            f"{self.case}: {self.recipients:,} in {self.seconds:.1f} s = {self.per_hour:,.0f}/h ({self.detail});"
            f" {self.usage.summary()}"
        )


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def fresh_ledger(project: Project, run_id: str) -> None:
    """Forget every previous send of the run (this bench's own ledger): the next job starts from nothing."""
    shutil.rmtree(ledger.run_dir(project, run_id), ignore_errors=True)


class _PauseAfter:
    """A progress callback that pauses the run (as ``herald pause`` does) once ``limit`` messages settled."""

    def __init__(self, project: Project, run_id: str, limit: int | None) -> None:
        self.project, self.run_id, self.limit = project, run_id, limit
        self.paused = False

    def __call__(self, p: Progress) -> None:
        if self.limit is not None and not self.paused and p.done >= self.limit:
            ledger.set_control(self.project, self.run_id, "paused", by="bench_send", reason="time box reached")
            self.paused = True


def measure_job(world: World, kind: str, concurrency: int, limit: int | None, *, profile: bool = False) -> Measurement:
    project, run_id = world.project, world.runs[DELIVERIES[kind]]
    fresh_ledger(project, run_id)
    profilers: list[cProfile.Profile] = []
    with fake_sendgrid(LATENCY) as fake:
        env = bench_env(project, fake.url)
        job = SendJob(
            project,
            run_id,
            SendOptions(concurrency=concurrency),
            env=env,
            progress=_PauseAfter(project, run_id, limit),
        )
        with measured_usage(fake) as usage, contextlib.ExitStack() as stack:
            phases = stack.enter_context(Phases())
            if profile:
                stack.enter_context(_profiled_workers(profilers))
                main = cProfile.Profile()
                profilers.insert(0, main)
                main.enable()
            started = time.perf_counter()
            summary = job.run()
            seconds = time.perf_counter() - started
            if profile:
                main.disable()
    accepted = summary.states.get("accepted", 0)
    what = f"{kind} at concurrency {concurrency}"
    bad = {k: v for k, v in summary.states.items() if k not in ("accepted", "pending")}
    if bad or summary.provider_events or accepted != summary.sent_now:
        raise SystemExit(f"{what}: not a clean send: {summary}")
    if limit is None and not summary.complete:
        raise SystemExit(f"{what}: the run was not sent completely: {summary}")
    check_exactly_once(usage.stats, accepted, what)
    sliced = f"first {accepted:,} of {summary.total:,}, paused after {limit:,}" if limit else f"all {accepted:,}"
    detail = f"{sliced}; {usage.requests:,} requests"
    m = Measurement(f"{kind}, job, concurrency {concurrency}", accepted, seconds, detail, usage, phases.report(seconds))
    if profile:
        _print_profile(kind, profilers)
    fresh_ledger(project, run_id)
    return m


@contextlib.contextmanager
def _profiled_workers(profilers: list[cProfile.Profile]) -> Iterator[None]:
    """Run every provider call of the job's worker threads under one cProfile profiler per thread."""
    local = threading.local()
    original = ExactlyOnce.call

    def call(self: ExactlyOnce, messages: Any) -> Any:
        prof = getattr(local, "prof", None)
        if prof is None:
            prof = local.prof = cProfile.Profile()
            profilers.append(prof)
        return prof.runcall(original, self, messages)

    ExactlyOnce.call = call  # type: ignore[method-assign]
    try:
        yield
    finally:
        ExactlyOnce.call = original  # type: ignore[method-assign]


def _print_profile(kind: str, profilers: list[cProfile.Profile], top: int = 18) -> None:
    for label, profs in (("main thread", profilers[:1]), ("worker threads, summed", profilers[1:])):
        if not profs:
            continue
        out = io.StringIO()
        stats = pstats.Stats(profs[0], stream=out)
        for p in profs[1:]:
            stats.add(p)
        stats.sort_stats("tottime").print_stats(top)
        body = out.getvalue()
        start = body.find("   ncalls")
        print(f"\n  cProfile, {kind}, {label} (by own time; cProfile slows everything down, read the shares):")
        print("\n".join("    " + ln for ln in body[start:].rstrip().splitlines()))


def load_email_run(project: Project, run_id: str) -> tuple[RunInfo, list[Recipient], Sender]:
    """The run, its sendable recipients and its delivery's sender."""
    info, recipients = load_run(project, run_id)
    sender = Catalog.of(project).delivery(info.delivery_id).delivery.sender
    if sender is None:
        raise SystemExit(f"delivery {info.delivery_id} has no sender")
    return info, recipients, sender


def measure_baseline(world: World, kind: str, budget: float) -> Measurement:
    """One sequential ``SendGridAPIClient.send()`` per fully rendered message, for ``budget`` seconds."""
    project, run_id = world.project, world.runs[DELIVERIES[kind]]
    info, recipients, sender = load_email_run(project, run_id)
    with fake_sendgrid(LATENCY) as fake:
        env = bench_env(project, fake.url)
        composer = run_composer(Renderer(project.specs_dir / "templates"), info, Links.from_env(env))
        client = SendGridAPIClient(API_KEY, host=fake.url)
        render = http = 0.0
        sent = 0
        with measured_usage(fake) as usage:
            started = time.perf_counter()
            for r in recipients:
                t0 = time.perf_counter()
                mail = naive_mail(composer, r, sender.from_email, sender.from_name)
                t1 = time.perf_counter()
                response = client.send(mail)
                http += time.perf_counter() - t1
                render += t1 - t0
                if response.status_code != 202:
                    raise SystemExit(f"baseline: SendGrid answered {response.status_code}")
                sent += 1
                if time.perf_counter() - started >= budget:
                    break
            seconds = time.perf_counter() - started
    check_exactly_once(usage.stats, sent, f"{kind} baseline")
    phases = [
        f"    render + build Mail: {render:.2f} s ({render / sent * 1000:.2f} ms each);"
        f" SendGridAPIClient.send: {http:.2f} s ({http / sent * 1000:.1f} ms each)"
    ]
    return Measurement(
        f"{kind}, naive baseline", sent, seconds, f"first {sent:,} messages, one request each", usage, phases
    )


def naive_mail(composer: Composer, r: Recipient, from_email: str, from_name: str) -> Mail:
    """The message as a plain integration would send it: fully rendered, one recipient, built with the helpers."""
    m = composer.compose(r)
    mail = Mail(
        from_email=(from_email, from_name),
        to_emails=m.address,
        subject=m.subject,
        plain_text_content=m.text or None,
        html_content=m.html or None,
    )
    mail.custom_arg = CustomArg("message_id", m.message_id)
    for name, value in m.headers.items():
        mail.header = Header(name, value)
    return mail


def cpu_breakdown(world: World, kind: str, n: int = 5000) -> list[str]:
    """CPU microseconds per recipient of each step of the send path, one thread, no latency (``--profile``)."""
    project, run_id = world.project, world.runs[DELIVERIES[kind]]
    info, recipients, sender = load_email_run(project, run_id)
    sample = recipients[:n]
    rows: list[tuple[str, float]] = []

    def per(label: str, fn: Callable[[Any], Any], items: list[Any], recipients: int | None = None) -> None:
        started = time.process_time()
        for item in items:
            fn(item)
        rows.append((label, (time.process_time() - started) / (recipients or len(items)) * 1e6))

    with fake_sendgrid(0.0) as fake:
        env = bench_env(project, fake.url)
        composer = run_composer(Renderer(project.specs_dir / "templates"), info, Links.from_env(env))

        def compose(r: Recipient) -> Any:
            return composer.compose_shared(r) or composer.compose(r)

        messages = [compose(r) for r in sample]  # also warms the template caches

        def line(r: Recipient) -> bytes:
            return ledger.Entry(
                message_id=r.message_id,
                state="claimed",
                attempt=1,
                run_id=run_id,
                recipient_id=r.recipient_id,
                profile_id=r.profile_id or "",
                channel=info.channel,
                delivery_id=info.delivery_id,
                content_hash=composer.spec.content_hash,
            ).line()

        per("render: the whole message (as the job composes it)", compose, sample)
        per(
            "  of which the signed link token, 2 URLs, List-Unsubscribe",
            lambda r: (composer.context(r, token := composer.links.token(r.message_id)), composer._headers(r, token)),
            sample,
        )
        if kind == "bulk":
            per("  for comparison: a full render of each message instead", composer.compose, sample)
        per("ledger: the message's 2 journal lines (claimed, accepted)", lambda r: (line(r), line(r)), sample)
        provider = SendGridProvider(
            SendGridSettings.from_env(env),
            sender=sender,
            run_id=run_id,
            delivery_id=info.delivery_id,
            campaign_id=info.campaign_id,
        )
        try:
            if kind == "bulk":
                groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
                for m in messages:
                    groups[(m.html, m.text)].append(m)
                batches = [g[i : i + 1000] for g in groups.values() for i in range(0, len(g), 1000)]
                per(
                    "request: body + JSON (1,000 recipients a request)",
                    lambda b: json.dumps(provider.body(b)),
                    batches,
                    len(messages),
                )
                per("request: provider.send, whole call, per recipient", provider.send, batches, len(messages))
            else:
                per("request: body + JSON", lambda m: json.dumps(provider.body([m])), messages)
                per("request: provider.send, whole call (one request)", lambda m: provider.send([m]), messages)
                per(
                    "  of which urllib.request.build_opener() (unused)",
                    lambda m: urllib.request.build_opener(),
                    messages,
                )
        finally:
            provider.close()
        check_exactly_once(fake.stats(), len(messages), f"{kind} CPU breakdown")
    return [f"    {label:<58} {us:>8.0f} µs" for label, us in rows]


# ---------------------------------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=DEFAULT_PROFILES, help="profiles of a new world")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="the world: made once, then reused")
    parser.add_argument("--bulk-concurrency", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--logic-concurrency", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--logic-limit", type=int, default=20_000, help="pause the per-recipient run after N (0: all)")
    parser.add_argument("--baseline-seconds", type=float, default=25.0)
    parser.add_argument("--profile", action="store_true", help="also run a slice of each template under cProfile")
    parser.add_argument("--only", choices=sorted(DELIVERIES), help="measure one template only")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average at start: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    world = make_world(args.workdir.resolve(), args.profiles)
    made = world.made
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in made["seconds"].items())
    print(
        f"world {args.workdir}: {made['profiles']:,} profiles, {made['events_per_profile']} events each, made"
        f" {made['made_at']} ({steps}); {'reused' if world.reused else 'made now'}"
    )
    if made.get("specs_digest") != _digest(bench_specs()):
        print("  note: the specs in tests/senders/conftest.py changed since this world was made (its own copy is used;")
        print("  delete the workdir to make a world from the current ones)")
    for delivery in DELIVERIES.values():
        _, recipients = load_run(world.project, world.runs[delivery])
        print(f"  {delivery}: run {world.runs[delivery]}, {len(recipients):,} sendable recipients")
    print(f"fake SendGrid: own process, --lean, {LATENCY * 1000:.0f} ms added per request\n")

    results: dict[str, tuple[Measurement, Measurement]] = {}
    table: list[Measurement] = []
    for kind, levels, limit in (
        ("bulk", args.bulk_concurrency, None),
        ("logic", args.logic_concurrency, args.logic_limit or None),
    ):
        if args.only and kind != args.only:
            continue
        runs = []
        for c in levels:
            m = measure_job(world, kind, c, limit)
            print(m.summary())
            print("\n".join(m.phases))
            runs.append(m)
            table.append(m)
        base = measure_baseline(world, kind, args.baseline_seconds)
        print(base.summary())
        print("\n".join(base.phases) + "\n")
        table.append(base)
        best = max(runs, key=lambda m: m.per_hour)
        results[kind] = (best, base)

    print(
        f"{'case':<34} {'recipients':>10} {'seconds':>8} {'recipients/h':>13} {'baseline/h':>11} {'ratio':>7}"
        f" {'goal/h':>11}  met?"
    )
    for m in table:
        kind = m.case.split(",")[0]
        best, base = results[kind]
        if m is base:
            print(f"{m.case:<34} {m.recipients:>10,} {m.seconds:>8.1f} {m.per_hour:>13,.0f}")
            continue
        met = "yes" if m.per_hour >= GOALS[kind] else "NO"
        print(
            f"{m.case + (' *' if m is best else ''):<34} {m.recipients:>10,} {m.seconds:>8.1f} {m.per_hour:>13,.0f}"
            f" {base.per_hour:>11,.0f} {m.per_hour / base.per_hour:>6.0f}x {GOALS[kind]:>11,}  {met}"
        )
    print("* the better concurrency, reported for the template")
    for kind, (best, base) in results.items():
        met = "met" if best.per_hour >= GOALS[kind] else "MISSED"
        print(
            f"{TEMPLATES[kind]}: {best.per_hour:,.0f} recipients/h at concurrency {best.case.rsplit(' ', 1)[1]},"
            f" {best.per_hour / base.per_hour:,.0f}x the naive baseline; goal {GOALS[kind]:,}/h {met}"
        )
    print("\nevery measurement: each message recorded once by the fake, none refused (checked)")
    print(f"load average at end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")

    if args.profile:
        kinds = [args.only] if args.only else list(DELIVERIES)
        if "bulk" in kinds:
            measure_job(world, "bulk", max(args.bulk_concurrency), 20_000, profile=True)
        if "logic" in kinds:
            measure_job(world, "logic", max(args.logic_concurrency), 5_000, profile=True)
        for kind in kinds:
            print(f"\n  CPU per recipient, {TEMPLATES[kind]}, one thread, fake without latency (first 5,000):")
            print("\n".join(cpu_breakdown(world, kind)))


if __name__ == "__main__":
    main()
