"""Five-field cron expressions (minute hour day-of-month month day-of-week) evaluated in a time zone.

Supports ``*``, lists, ranges, steps and month / weekday names; day-of-month and day-of-week combine as in
Vixie cron (either matches when both are restricted). Times are wall-clock in the schedule's zone: a local time
skipped by a daylight-saving change does not fire, a repeated one fires once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo

_NAMES = {
    **{
        m: i + 1
        for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
    },
    **{d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])},
}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed expression; equal when they fire at the same wall-clock times in the same zone."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    day_restricted: bool
    weekday_restricted: bool
    time_zone: str = "UTC"

    @classmethod
    def parse(cls, text: str, time_zone: str = "UTC") -> Cron:
        """Raises ValueError naming the field at fault."""
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"cron needs five fields (minute hour day month weekday); got {text!r}")
        sets = [_field(f, lo, hi, name) for f, (lo, hi), name in zip(fields, _BOUNDS, _FIELD_NAMES, strict=True)]
        weekdays = frozenset(d % 7 for d in sets[4])  # 7 is Sunday too
        ZoneInfo(time_zone)
        return cls(sets[0], sets[1], sets[2], sets[3], weekdays, fields[2] != "*", fields[4] != "*", time_zone)

    def matches(self, local: dt.datetime) -> bool:
        if local.minute not in self.minutes or local.hour not in self.hours or local.month not in self.months:
            return False
        day_ok = local.day in self.days
        weekday_ok = (local.isoweekday() % 7) in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def between(self, after: dt.datetime, until: dt.datetime) -> Iterator[dt.datetime]:
        """Firing times (UTC, aware) in ``(after, until]``, oldest first. Walks hour by hour and looks at the
        minutes only of hours that can match, so a year back costs a few thousand steps."""
        zone = ZoneInfo(self.time_zone)
        first = after.astimezone(dt.UTC).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        end = until.astimezone(dt.UTC)
        hour = first.replace(minute=0)
        seen: set[dt.datetime] = set()
        while hour <= end:
            edges = (hour.astimezone(zone), (hour + dt.timedelta(minutes=59)).astimezone(zone))
            if any(self._hour_may_match(e) for e in edges):
                for minute in range(60):
                    utc = hour + dt.timedelta(minutes=minute)
                    if utc < first or utc > end:
                        continue
                    naive = utc.astimezone(zone).replace(tzinfo=None)
                    if self.matches(naive) and naive not in seen:
                        seen.add(naive)
                        yield utc
            hour += dt.timedelta(hours=1)

    def _hour_may_match(self, local: dt.datetime) -> bool:
        return self.matches(local.replace(minute=min(self.minutes)))

    def latest(self, until: dt.datetime, *, within: dt.timedelta = dt.timedelta(days=366)) -> dt.datetime | None:
        """The last firing time at or before ``until`` (looking back at most ``within``)."""
        last = None
        for when in self.between(until - within, until):
            last = when
        return last


_FIELD_NAMES = ("minute", "hour", "day", "month", "weekday")


def _value(text: str, name: str) -> int:
    key = text.lower()
    if key in _NAMES and name in ("month", "weekday"):
        return _NAMES[key]
    if not text.isdigit():
        raise ValueError(f"cron {name} field: {text!r} is not a number")
    return int(text)


def _field(text: str, lo: int, hi: int, name: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        base, _, step_text = part.partition("/")
        step = _value(step_text, name) if step_text else 1
        if step < 1:
            raise ValueError(f"cron {name} field: step must be at least 1 in {part!r}")
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, b = base.split("-", 1)
            start, end = _value(a, name), _value(b, name)
        else:
            start = _value(base, name)
            end = hi if step_text else start
        if not lo <= start <= hi or not lo <= end <= hi or start > end:
            raise ValueError(f"cron {name} field: {part!r} is outside {lo}-{hi}")
        out.update(range(start, end + 1, step))
    return frozenset(out)
