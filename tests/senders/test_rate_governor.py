"""The shared rate governor: a 429 delays the request that got it and lowers the shared rate for a moment, an
exhausted ``X-RateLimit-Remaining`` holds every worker until the reset, and the rate recovers after successes.
Unit tests run on an injected clock (no timing assertions); the end-to-end test sends a run against the fake
SendGrid while it answers 429s and checks that every message went out exactly once."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from herald.project import Project
from senders import ledger
from senders.dispatch import Gate, RetryPolicy, call
from senders.governor import GovernorSettings, RateGovernor
from senders.http import KeepAlive
from senders.job import SendJob, load_run
from senders.options import SendOptions
from senders.providers.base import Outcome, OutgoingMessage, RateLimited
from tests.fakes.base import FakeProvider, Reply
from tests.fakes.sendgrid import FakeSendGrid
from tests.senders.conftest import SendWorld, sender_env

WALL_AT_START = 1_800_000_000.0


class Clock:
    """Monotonic and wall time that move only when someone sleeps (or a test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return WALL_AT_START + (self.now - 100.0)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


def governor(clock: Clock, **settings: Any) -> RateGovernor:
    return RateGovernor(GovernorSettings(**settings), clock=clock.monotonic, wall=clock.wall, sleep=clock.sleep)


def run_at(clock: Clock, gov: RateGovernor, per_second: float, seconds: float) -> None:
    """Requests answered without a 429, started as the governor allows, at most ``per_second``."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 1 / per_second
        gov.acquire()
        gov.succeeded()


def test_an_unpaced_governor_lets_every_request_start_at_once() -> None:
    clock = Clock()
    gov = governor(clock)
    assert [gov.reserve() for _ in range(50)] == [0.0] * 50
    assert gov.rate is None and gov.state().held_for == 0


def test_a_429_delays_only_the_request_that_got_it_and_lowers_the_shared_rate() -> None:
    clock = Clock()
    gov = governor(clock, backoff=0.75, burst=4)
    run_at(clock, gov, 100, 1.0)
    assert gov.rate is None

    delay = gov.rate_limited(2.0, {"Retry-After": "2"})

    assert delay == 2.0  # that request waits out its Retry-After
    rate = gov.rate
    assert rate is not None and 60 <= rate <= 80  # about three quarters of the 100/s just achieved
    # The other workers are paced, not frozen: at the same instant, eight of them start within a few intervals.
    waits = [gov.reserve() for _ in range(8)]
    assert waits[:4] == [pytest.approx(0.0, abs=1e-9)] * 4  # the burst
    assert waits == sorted(waits) and 0 < waits[-1] <= 5 / rate < delay


def test_429s_of_requests_already_in_flight_lower_the_rate_once_per_cooldown() -> None:
    clock = Clock()
    gov = governor(clock, cooldown=1.0)
    run_at(clock, gov, 100, 1.0)
    for _ in range(5):
        gov.rate_limited(1.0)
        clock.now += 0.05
    assert gov.state().decreases == 1 and gov.state().rate_limited == 5
    clock.now += 1.0
    gov.rate_limited(1.0)
    assert gov.state().decreases == 2


def test_remaining_0_makes_every_worker_wait_until_the_reset() -> None:
    clock = Clock()
    gov = governor(clock)
    reset = int(clock.wall()) + 5
    gov.succeeded({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})

    assert gov.state().held_for == pytest.approx(5.0)
    waits = [gov.reserve() for _ in range(3)]  # three workers asking at the same instant
    assert waits == [pytest.approx(5.0)] * 3
    gov.acquire()  # sleeps on the injected clock
    assert clock.wall() >= reset and gov.reserve() == 0.0


def test_a_reset_given_in_seconds_and_a_429_saying_remaining_0_hold_everyone_too() -> None:
    clock = Clock()
    gov = governor(clock)
    delay = gov.rate_limited(1.0, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "7"})
    assert delay == 1.0 and gov.state().held_for == pytest.approx(7.0)
    assert gov.reserve() == pytest.approx(7.0)


def test_the_remaining_budget_is_spread_until_the_reset() -> None:
    clock = Clock()
    gov = governor(clock, burst=1)
    gov.succeeded({"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": str(int(clock.wall()) + 5)})
    assert gov.rate == pytest.approx(2.0)
    assert [gov.reserve() for _ in range(3)] == [0.0, pytest.approx(0.5), pytest.approx(1.0)]
    clock.now += 6  # the window turned: its budget no longer applies
    assert gov.rate is None


def test_stale_or_unreadable_headers_change_nothing() -> None:
    clock = Clock()
    gov = governor(clock)
    gov.succeeded({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(clock.wall()) - 3)})
    gov.succeeded({"X-RateLimit-Remaining": "soon", "X-RateLimit-Reset": "later"})
    assert gov.rate is None and gov.state().held_for == 0


def test_the_rate_recovers_after_successes_and_the_governor_is_unpaced_again() -> None:
    clock = Clock()
    gov = governor(clock, backoff=0.5, cooldown=1.0, recovery=1.0)
    run_at(clock, gov, 100, 1.0)
    gov.rate_limited(1.0)
    lowered = gov.rate
    assert lowered is not None and lowered < 60

    run_at(clock, gov, 100, 1.5)  # back to the rate the provider pushed back at within a second, still paced
    grown = gov.rate
    assert grown is not None and 90 <= grown < 200
    run_at(clock, gov, 100, 12.0)  # then probing beyond it, until it no longer binds
    assert gov.rate is None
    assert [gov.reserve() for _ in range(10)] == [0.0] * 10


def test_a_fixed_rate_is_a_ceiling_that_recovery_never_passes() -> None:
    clock = Clock()
    gov = governor(clock, rate=20.0, backoff=0.5)
    gov.rate_limited(1.0)
    assert gov.rate == pytest.approx(10.0)
    run_at(clock, gov, 50, 5.0)
    assert gov.rate == pytest.approx(20.0)


def test_no_more_than_in_flight_requests_run_at_once_and_waits_hold_no_slot() -> None:
    gov = RateGovernor(GovernorSettings(in_flight=2))
    third_started = threading.Event()

    def third() -> None:
        with gov.turn():
            third_started.set()

    with contextlib.ExitStack() as two:
        two.enter_context(gov.turn())
        two.enter_context(gov.turn())
        worker = threading.Thread(target=third)
        worker.start()
        assert not third_started.wait(0.2)  # blocked while both slots are taken
    worker.join(10)
    assert third_started.is_set()


@pytest.mark.parametrize(
    "bad",
    [{"backoff": 1.0}, {"backoff": 0.0}, {"in_flight": 0}, {"rate": 0.0}, {"burst": 0}, {"recovery": 0.0}],
)
def test_settings_refuse_values_that_cannot_govern(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        GovernorSettings(**bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------- dispatch


class Flaky:
    """A provider answering 429 ``limited`` times, then accepting; it exposes its last answer's headers."""

    channel = "email"
    max_batch = 10

    def __init__(self, limited: int, headers: Mapping[str, str] | None = None) -> None:
        self.limited = limited
        self.rate_headers: Mapping[str, str] = dict(headers or {})
        self.sent: list[str] = []

    def send(self, messages: Sequence[OutgoingMessage]) -> list[Outcome]:
        if self.limited:
            self.limited -= 1
            raise RateLimited("injected 429", retry_after=3.0)
        self.sent.extend(m.message_id for m in messages)
        return [Outcome(m.message_id, "accepted", "x-1") for m in messages]

    def lookup(self, message_ids: Sequence[str], **_: Any) -> Mapping[str, bool | None]:
        return dict.fromkeys(message_ids)

    def close(self) -> None:
        pass


def _message(i: int) -> OutgoingMessage:
    return OutgoingMessage(f"m-{i}", "run-1", f"r-{i}", "email", f"person{i}@example.com")


def test_a_call_answered_429_waits_its_retry_after_then_is_sent_once() -> None:
    clock = Clock()
    gov = governor(clock)
    run_at(clock, gov, 100, 1.0)
    provider = Flaky(limited=1)
    waited: list[float] = []
    parked: list[int] = []
    gate = Gate(governor=gov)

    def wait(seconds: float) -> None:
        waited.append(seconds)
        parked.append(gate.parked)  # the job keeps this many more calls in hand while they wait

    [settled] = call(provider, [_message(1)], gate, RetryPolicy(sleep=wait))

    assert settled.state == "accepted" and settled.attempts == 1  # a 429 is not a failed attempt
    assert provider.sent == ["m-1"]
    assert len(waited) == 1 and 3.0 <= waited[0] <= 3.25  # Retry-After plus a little jitter, this call only
    assert parked == [1] and gate.parked == 0
    assert gate.events["rate_limited"] == 1 and gov.state().decreases == 1
    assert gov.state().held_for == 0  # nobody else is held


def test_a_call_passes_the_answers_rate_limit_headers_to_the_governor() -> None:
    clock = Clock()
    gov = governor(clock)
    reset = str(int(clock.wall()) + 4)
    provider = Flaky(limited=0, headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})

    call(provider, [_message(2)], Gate(governor=gov), RetryPolicy(sleep=lambda s: None))

    assert gov.state().held_for == pytest.approx(4.0)


class Limits(FakeProvider):
    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        return Reply(200, {}, {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "30"})


def test_the_transport_keeps_the_last_answers_rate_limit_headers() -> None:
    with Limits() as server, KeepAlive(server.url, timeout=5) as http:
        http.request("GET", "/anything")
        assert http.rate_headers == {
            "x-ratelimit-limit": "600",
            "x-ratelimit-remaining": "12",
            "x-ratelimit-reset": "30",
        }


# ---------------------------------------------------------------------------------------------------- end to end


@pytest.mark.slow
def test_a_send_answered_429s_sends_every_message_exactly_once(
    send_world: SendWorld, send_project: Project, fake_sendgrid: FakeSendGrid
) -> None:
    run_id = send_world.runs["logic_email"]  # one request per recipient: many 429s
    fake_sendgrid.retry_after = 1
    fake_sendgrid.storm(0.1, ("429",))
    _, recipients = load_run(send_project, run_id)

    summary = SendJob(
        send_project, run_id, SendOptions(concurrency=8), env=sender_env(send_project, fake_sendgrid)
    ).run()

    assert summary.states == {"accepted": len(recipients)}, summary
    assert summary.provider_events["rate_limited"] >= 1, summary.provider_events
    assert fake_sendgrid.stats()["faults_served"]["429"] == summary.provider_events["rate_limited"]
    assert fake_sendgrid.duplicates() == {}  # none sent twice
    assert fake_sendgrid.accepted_ids() == {r.message_id for r in recipients}  # none lost
    latest = ledger.read_run(send_project, run_id)
    assert {m for m, e in latest.items() if e.state == "accepted"} == fake_sendgrid.accepted_ids()
