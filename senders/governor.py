"""One rate governor per provider, shared by every worker of a send: pushing back slows the send, it never stops it.

Each worker asks the governor before a request (``turn()``) and tells it what the provider answered
(``succeeded`` / ``rate_limited``, with the answer's rate-limit headers):

- **Unpaced until the provider pushes back.** A clean send pays an uncontended lock per request.
- **A 429** delays the request that got it by its ``Retry-After``, waited *outside* an in-flight slot so the other
  workers keep sending, and lowers the shared rate to ``backoff`` × the rate just achieved (the rate the provider
  pushed back at). Further 429s within ``cooldown`` do not lower it again (they answer requests sent before the
  decrease). The rate then grows back fast (``recovery``: ×2 per second by default) to the rate pushed back at,
  and beyond it slowly (``probe`` of that rate per second); at twice that rate it no longer binds and the governor
  is unpaced again. A share of random 429s costs about that share of throughput; a real limit is found and kept.
- **``X-RateLimit-Remaining`` and ``X-RateLimit-Reset``** (on any answer): the window's remaining budget is spread
  evenly until the reset; a remaining of 0 holds *every* worker until the reset.
- **In flight**: at most ``in_flight`` requests at once (the send's concurrency). Waits happen before a slot is
  taken, so a request waiting out a 429 never blocks one that could go.

Pacing is a token bucket in its virtual-scheduling form (GCRA): each request reserves the next start time, so
waiters are served in order and a burst of ``burst`` requests may start at once. Waits use a monotonic clock; only
an ``X-RateLimit-Reset`` given as a unix time is read against the wall clock. Both clocks and the sleep are
injectable for tests.

Nothing here decides whether a request may be repeated: a 429 means "not accepted", so ``senders.dispatch`` retries
it; ambiguous failures are never the governor's business.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

__all__ = ["GovernorSettings", "GovernorState", "RateGovernor"]

# X-RateLimit-Reset below this is a number of seconds, not a unix time (no date of interest is < 1e9).
_EPOCH_FLOOR = 1_000_000_000


@dataclass(frozen=True, slots=True)
class GovernorSettings:
    """How one provider's requests are paced. Equal settings govern alike.

    Rates are requests per second. ``rate`` is a fixed ceiling (None: none until the provider pushes back)."""

    in_flight: int | None = None  # requests at once; None: as many as the callers make
    rate: float | None = None
    backoff: float = 0.75  # after a 429: this share of the rate achieved just before
    cooldown: float = 1.0  # seconds after a decrease in which further 429s do not lower the rate again
    recovery: float = 1.0  # below the rate pushed back at, the rate grows by this share per second (1.0: doubles)
    probe: float = 0.1  # above it, the rate grows by this share of it per second
    min_rate: float = 1.0  # no 429 lowers the rate below this
    burst: int = 4  # requests that may start at once when paced
    window: float = 2.0  # seconds of recent request starts over which the achieved rate is measured
    max_wait: float = 300.0  # the longest any Retry-After or reset may make a request wait

    def __post_init__(self) -> None:
        if self.in_flight is not None and self.in_flight < 1:
            raise ValueError(f"in_flight must be at least 1, not {self.in_flight}")
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"rate must be positive, not {self.rate}")
        if not 0 < self.backoff < 1:
            raise ValueError(f"backoff must be between 0 and 1, not {self.backoff}")
        if min(self.recovery, self.probe, self.min_rate, self.window, self.max_wait) <= 0:
            raise ValueError("recovery, probe, min_rate, window and max_wait must be positive")
        if self.cooldown < 0 or self.burst < 1:
            raise ValueError("cooldown must not be negative and burst must be at least 1")


@dataclass(frozen=True, slots=True)
class GovernorState:
    """What the governor does now: ``rate`` None means unpaced; ``held_for`` is the wait every worker has ahead
    of it (an exhausted ``X-RateLimit-Remaining``). Equal when every field is."""

    rate: float | None
    held_for: float
    rate_limited: int  # 429s reported
    decreases: int  # of them, how many lowered the rate


class RateGovernor:
    """The pacing shared by every worker of one send to one provider. Thread-safe."""

    def __init__(
        self,
        settings: GovernorSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or GovernorSettings()
        self._clock, self._wall, self._sleep = clock, wall, sleep
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(self.settings.in_flight) if self.settings.in_flight else None
        now = clock()
        self._rate: float | None = self.settings.rate  # the bucket's rate, lowered by 429s
        self._grown_at = now
        self._cooldown_until = now
        self._budget: float | None = None  # from X-RateLimit-Remaining / -Reset, until _budget_until
        self._budget_until = now
        self._hold_until = now
        self._next = now  # GCRA: the theoretical start of the next request
        self._pushed_back_at: float | None = None  # the rate achieved when the last decrease happened
        self._starts: deque[float] = deque(maxlen=1024)  # recent request starts, for the achieved rate
        self._rate_limited = 0
        self._decreases = 0

    # ------------------------------------------------------------------ before a request

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this request's turn (pacing, holds), then hold an in-flight slot while the body runs."""
        self.acquire()
        if self._slots is None:
            yield
            return
        self._slots.acquire()
        try:
            yield
        finally:
            self._slots.release()

    def acquire(self) -> None:
        """Block until one more request may start (eager: its turn is reserved at the call)."""
        delay = self.reserve()
        if delay > 0:
            self._sleep(delay)
        # A hold that began while this request waited for its turn (another answer said Remaining 0) still applies.
        while (left := self._held_for()) > 0:
            self._sleep(left)

    def reserve(self) -> float:
        """Reserve the next request's start; return the seconds until it (0: now). Callers then wait that long."""
        with self._lock:
            now = self._clock()
            self._refresh(now)
            start = max(now, self._hold_until)
            rate = self._pace(now)
            if rate is None:
                self._next = start  # no debt carried into a later paced period
            else:
                interval = 1.0 / rate
                start = max(start, self._next - (self.settings.burst - 1) * interval)
                self._next = max(self._next, start) + interval
            self._starts.append(start)
            return start - now

    # ------------------------------------------------------------------ after a request

    def succeeded(self, headers: Mapping[str, str] | None = None) -> None:
        """A request was answered (not 429): read its rate-limit headers."""
        with self._lock:
            now = self._clock()
            if headers:
                self._read_headers(headers, now)

    def rate_limited(self, retry_after: float, headers: Mapping[str, str] | None = None) -> float:
        """A request was answered 429: lower the shared rate (at most once per cooldown) and return how long *that*
        request should wait before it is tried again (it waits outside any slot)."""
        with self._lock:
            now = self._clock()
            self._rate_limited += 1
            if headers:
                self._read_headers(headers, now)
            if now >= self._cooldown_until:
                base = [r for r in (self._rate, self._achieved(now)) if r is not None]
                if base:
                    self._pushed_back_at = min(base)
                    self._rate = max(self.settings.min_rate, min(base) * self.settings.backoff)
                    self._next = max(self._next, now)
                    self._decreases += 1
                self._cooldown_until = now + self.settings.cooldown
                self._grown_at = now
            return min(self.settings.max_wait, max(0.0, retry_after))

    # ------------------------------------------------------------------ state

    @property
    def rate(self) -> float | None:
        """Requests per second now allowed (None: unpaced)."""
        with self._lock:
            now = self._clock()
            self._refresh(now)
            return self._pace(now)

    def state(self) -> GovernorState:
        with self._lock:
            now = self._clock()
            self._refresh(now)
            return GovernorState(self._pace(now), max(0.0, self._hold_until - now), self._rate_limited, self._decreases)

    # ------------------------------------------------------------------ inside the lock

    def _held_for(self) -> float:
        with self._lock:
            return self._hold_until - self._clock()

    def _pace(self, now: float) -> float | None:
        rates = [r for r in (self._rate, self._budget if now < self._budget_until else None) if r is not None]
        return min(rates) if rates else None

    def _refresh(self, now: float) -> None:
        """Grow a lowered rate back: fast up to the rate pushed back at, slowly beyond it; unpace at twice it."""
        if self._rate is None or self._pushed_back_at is None or now <= self._grown_at:
            return
        dt, mark, rate = now - self._grown_at, self._pushed_back_at, self._rate
        self._grown_at = now
        if rate < mark:
            fast = math.log(mark / rate) / math.log1p(self.settings.recovery)  # seconds to get back to the mark
            rate = rate * (1.0 + self.settings.recovery) ** min(dt, fast)
            dt -= min(dt, fast)
        rate += self.settings.probe * mark * dt
        if self.settings.rate is not None:
            self._rate = min(self.settings.rate, rate)
        elif rate >= 2 * mark:  # far above where the provider pushed back: a clean stretch costs nothing again
            self._rate, self._pushed_back_at = None, None
        else:
            self._rate = rate

    def _achieved(self, now: float) -> float | None:
        since = now - self.settings.window
        while self._starts and self._starts[0] < since:
            self._starts.popleft()
        if len(self._starts) < 2:
            return None
        span = now - self._starts[0]
        return len(self._starts) / span if span > 0 else None

    def _read_headers(self, headers: Mapping[str, str], now: float) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        remaining = _number(lowered.get("x-ratelimit-remaining"))
        reset = _number(lowered.get("x-ratelimit-reset"))
        if remaining is None or reset is None:
            return
        reset_in = reset - self._wall() if reset >= _EPOCH_FLOOR else reset
        reset_in = min(self.settings.max_wait, reset_in)
        if reset_in <= 0:
            return  # the window has already turned: the figures are stale
        if remaining < 1:
            self._hold_until = max(self._hold_until, now + reset_in)
        else:
            self._budget = remaining / reset_in
            self._budget_until = now + reset_in


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None
