"""The one clock every part of Herald reads: build reference times, landing and ledger stamps, the demo's anchor.

By default it is the wall clock (UTC). ``HERALD_CLOCK_OFFSET_SECONDS`` moves it by a fixed number of seconds in
every process that inherits the variable: the clock keeps ticking, and stamps taken in different processes stay
in order. A test suite pins its reference time this way (``pin_environment``), so that what it asserts does not
depend on the day it runs; an operator can rehearse a future day the same way.

Times exchanged with a provider (webhook signature timestamps, rate-limit reset times) are the provider's wall
clock and stay on ``time.time``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import MutableMapping

OFFSET_ENV = "HERALD_CLOCK_OFFSET_SECONDS"


def offset() -> dt.timedelta:
    """How far this process's clock is moved from the wall clock (zero unless the environment says otherwise)."""
    value = os.environ.get(OFFSET_ENV, "").strip()
    if not value:
        return dt.timedelta(0)
    try:
        return dt.timedelta(seconds=float(value))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"{OFFSET_ENV}={value!r} is not a number of seconds") from exc


def now() -> dt.datetime:
    """The current time, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC) + offset()


def timestamp() -> float:
    """The current time as seconds since the epoch (for APIs that take ``time.time``'s shape)."""
    return now().timestamp()


def utc_naive() -> dt.datetime:
    """The current time in UTC without a time zone: the type of every ``*_at`` column in the warehouse."""
    return now().replace(tzinfo=None)


def today() -> dt.date:
    """The current UTC date."""
    return now().date()


def pin_environment(at: dt.datetime, environ: MutableMapping[str, str] | None = None) -> None:
    """Set the environment so that the clock reads ``at`` now, and keeps ticking from there."""
    target = os.environ if environ is None else environ
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.UTC)
    target[OFFSET_ENV] = repr((at - dt.datetime.now(dt.UTC)).total_seconds())
