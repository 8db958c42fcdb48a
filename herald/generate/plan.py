"""The derived parameters of one generation run, shared by every table's SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from herald.generate._sql import coprime_multiplier, epoch

SESSION_LENGTH = 5  # app events come in sessions of this many consecutive event numbers
ACTIVE_SHARE = 0.78  # profiles that ever show up in app events; the rest never use the site or app
YEAR = 365 * 86400
CREATED_SPAN = 6 * YEAR  # the oldest customer signed up six years before the end date
CREATED_SKEW = 1.6  # > 1: more sign-ups in recent years

# Messy records forced onto the first profiles, so even a tiny run has every case (larger runs add more by hash).
FORCED_MESS: dict[int, str] = {
    2: "update",
    3: "dup",
    4: "invalid_email",
    5: "invalid_email",
    6: "empty",
    7: "odd_phone",
    8: "odd_phone",
    9: "dup",
    10: "update",
}
# Deliverability stories forced onto the next profiles: hard bounce, quarantine (soft bounces on every send),
# reset (soft bounces, then delivered), spam complaint.
FORCED_FATE: dict[int, str] = {
    11: "hard",
    12: "hard",
    13: "quarantine",
    14: "quarantine",
    15: "reset",
    16: "reset",
    17: "complainer",
    18: "complainer",
}
FIRST_RANDOM_PROFILE = 21


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes, time window and seed of a run; equal plans generate identical rows."""

    profiles: int
    events_per_profile: int
    seed: int
    end_date: dt.date

    @property
    def first_day(self) -> dt.date:
        """The data window is the 365 days that end with ``end_date`` (included)."""
        return self.end_date - dt.timedelta(days=364)

    @property
    def start_epoch(self) -> int:
        return epoch(self.first_day)

    @property
    def end_epoch(self) -> int:
        """Exclusive end of the data window: midnight after ``end_date``."""
        return epoch(self.end_date + dt.timedelta(days=1))

    @property
    def total_events(self) -> int:
        return self.profiles * self.events_per_profile

    @property
    def active_profiles(self) -> int:
        return max(1, round(self.profiles * ACTIVE_SHARE))

    @property
    def permutation(self) -> tuple[int, int]:
        """Multiplier and offset of the activity-rank → profile permutation."""
        return coprime_multiplier(self.profiles), (self.seed * 7919) % self.profiles

    @property
    def key_digits(self) -> int:
        return max(7, len(str(self.profiles * 2)))

    @property
    def event_digits(self) -> int:
        return max(7, len(str(self.total_events)))
