"""Benchmark: a send while SendGrid answers a share of requests 429, beside the same send clean.

    .venv/bin/python bench/bench_rate_limits.py [--profiles 4675] [--rate-limited 0.1] [--concurrency 8]

What is measured: ``SendJob(...).run()`` (what ``herald send RUN`` runs) for the ``logic_email`` run of a world made
by ``bench_send.make_world`` (per-recipient logic: one request per recipient), against the strict fake SendGrid
in its own process (``python -m tests.fakes.sendgrid --lean``, ``--latency`` added to every request), over real
HTTP with the official ``sendgrid`` client. Two runs, each from an empty ledger and with a fresh fake:

* clean: no faults;
* rate limited: the fake answers a random ``--rate-limited`` share of requests ``429`` with ``Retry-After: 1`` and
  ``X-RateLimit-Reset`` one second ahead (its ``storm`` of ``429`` faults); nothing of such a request is recorded.

Printed per run: seconds, recipients per second, the 429s served, the governor's rate decreases, CPU seconds of the
sender and of the fake, and the highest load average seen at its start or end (the machine may be shared); then
the ratio of the two runs (goal: at most 2). Every run must record each message exactly once at the fake (no
duplicate, none lost) and end with every message accepted, otherwise the script fails. No assertions on time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_send import (  # noqa: E402
    World,
    bench_env,
    check_exactly_once,
    fake_sendgrid,
    fresh_ledger,
    make_world,
    measured_usage,
)

from senders.job import SendJob  # noqa: E402
from senders.options import SendOptions  # noqa: E402

DEFAULT_WORKDIR = Path("/tmp/herald-bench-rate-limits")
DEFAULT_PROFILES = 4675
DELIVERY = "logic_email"


@dataclass(frozen=True, slots=True)
class Run:
    """One measured send."""

    case: str
    recipients: int
    seconds: float
    served_429: int
    rate_limited: int  # 429s the sender saw (each retried)
    decreases: int  # of them, how many lowered the shared rate
    cpu_sender: float
    cpu_fake: float
    load: tuple[float, ...]

    def line(self) -> str:
        return (
            f"{self.case:<22} {self.recipients:>6,} recipients in {self.seconds:6.1f} s "
            f"({self.recipients / self.seconds:6.1f}/s); 429 served {self.served_429:>4}, retried "
            f"{self.rate_limited:>4}, rate lowered {self.decreases:>3}x; CPU sender {self.cpu_sender:5.1f} s, "
            f"fake {self.cpu_fake:5.1f} s; load {'/'.join(f'{x:.1f}' for x in self.load)}"
        )


def _storm(url: str, rate: float) -> None:
    body = json.dumps({"storm": {"rate": rate, "kinds": ["429"]}}).encode()
    request = urllib.request.Request(f"{url}/_fake/faults", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as r:
        r.read()


def measure(world: World, *, case: str, rate_limited: float, concurrency: int, latency: float) -> Run:
    project, run_id = world.project, world.runs[DELIVERY]
    fresh_ledger(project, run_id)
    with fake_sendgrid(latency) as fake:
        if rate_limited:
            _storm(fake.url, rate_limited)
        job = SendJob(project, run_id, SendOptions(concurrency=concurrency), env=bench_env(project, fake.url))
        with measured_usage(fake) as usage:
            started = time.perf_counter()
            summary = job.run()
            seconds = time.perf_counter() - started
    stats = usage.stats
    accepted = summary.states.get("accepted", 0)
    if accepted != summary.total or not summary.complete:
        raise SystemExit(f"{case}: not every message was accepted: {summary}")
    check_exactly_once(stats, accepted, case)
    state = job.gate.governor.state()
    fresh_ledger(project, run_id)
    return Run(
        case=case,
        recipients=accepted,
        seconds=seconds,
        served_429=int(stats["faults_served"].get("429", 0)),
        rate_limited=int(summary.provider_events.get("rate_limited", 0)),
        decreases=state.decreases,
        cpu_sender=usage.cpu_sender,
        cpu_fake=usage.cpu_fake,
        load=usage.load,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profiles", type=int, default=DEFAULT_PROFILES, help="profiles of a new world")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="the world: made once, then reused")
    parser.add_argument("--rate-limited", type=float, default=0.1, help="share of requests answered 429")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (herald send's default)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds the fake adds to every request")
    parser.add_argument("--repeat", type=int, default=1, help="measure each case this many times (best kept)")
    args = parser.parse_args()

    world = make_world(args.workdir, args.profiles)
    how = "reused" if world.reused else "made"
    print(f"world {how} in {args.workdir}: {world.made['profiles']:,} profiles, {world.made['seconds']}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"fake latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency}, "
        f"{args.rate_limited:.0%} of requests answered 429 (Retry-After: 1) in the second case"
    )
    cases = (("clean", 0.0), (f"{args.rate_limited:.0%} answered 429", args.rate_limited))
    best: dict[str, Run] = {}
    for _ in range(max(1, args.repeat)):
        for case, share in cases:
            run = measure(world, case=case, rate_limited=share, concurrency=args.concurrency, latency=args.latency)
            print(run.line(), flush=True)
            if case not in best or run.seconds < best[case].seconds:
                best[case] = run
    clean, limited = best[cases[0][0]], best[cases[1][0]]
    ratio = limited.seconds / clean.seconds
    print(f"ratio (rate limited / clean): {ratio:.2f}x (goal <= 2x): {'met' if ratio <= 2 else 'NOT met'}")
    print("every run: each message recorded exactly once at the fake, none lost, every message accepted")


if __name__ == "__main__":
    main()
