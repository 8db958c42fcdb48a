"""When messages of a send may go out: the recipients' local send window, and an hourly cap."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from senders.errors import SendRefused


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Local hours (in each recipient's time zone) during which messages may go out: [start, end). Equal when
    both ends are."""

    start: dt.time
    end: dt.time

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        try:
            a, b = text.split("-")
            return cls(dt.time.fromisoformat(a.strip()), dt.time.fromisoformat(b.strip()))
        except ValueError as exc:
            raise SendRefused(f"send window {text!r} is not HH:MM-HH:MM") from exc

    def allows(self, now_utc: dt.datetime, time_zone: str, fallback: str) -> bool:
        try:
            tz = zoneinfo.ZoneInfo(time_zone or fallback)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = zoneinfo.ZoneInfo(fallback)
        local = now_utc.astimezone(tz).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # a window across midnight


class Throttle:
    """At most ``per_hour`` messages per hour, spread evenly: a token bucket holding one minute's worth."""

    def __init__(
        self,
        per_hour: int | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = per_hour / 3600 if per_hour else None
        self.tokens = (self.rate or 0) * 60
        self.clock, self.sleep = clock, sleep
        self.stamp = clock()

    def take(self, n: int) -> None:
        """Wait until ``n`` more messages keep the rate; the bucket may go into debt, so a window larger than
        the bucket waits exactly as long as the rate requires."""
        if self.rate is None:
            return
        now = self.clock()
        self.tokens = min(self.rate * 60, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= n
        if self.tokens < 0:
            self.sleep(-self.tokens / self.rate)
