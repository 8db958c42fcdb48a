"""Bounded numbers: every number a spec accepts has a range, and one function checks it.

A number without a bound passes parsing and fails later, far from the file: ``limit: {count: 10^30}`` becomes
``LIMIT 1000000000000000000000000000000``, which the warehouse cannot cast, and the count stops with a traceback.
So each spec field names its ``Bound``, and ``bounded`` refuses anything outside it with one message shape
that names the file, the field and the range::

    specs/audiences/vips.yml: limit.count: expected a whole number from 1 to 1,000,000,000, got a number of 31 digits

The ranges shared by several specs are defined here; a field with a range of its own defines it beside its
parser. The table of every range is in the docs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from herald.safe_text import Fail


@dataclass(frozen=True, slots=True)
class Bound:
    """The numbers a field accepts: from ``low`` to ``high``, each end included unless ``*_open``; only whole
    numbers when ``whole``. ``unit`` (days, hours) is read in the error message."""

    low: float
    high: float
    whole: bool = True
    unit: str = ""
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        kind = ("a whole number" if self.whole else "a number") + (f" of {self.unit}" if self.unit else "")
        if not self.low_open and not self.high_open:
            return f"{kind} from {_number(self.low)} to {_number(self.high)}"
        low = f"{'above' if self.low_open else 'at least'} {_number(self.low)}"
        high = f"{'below' if self.high_open else 'at most'} {_number(self.high)}"
        return f"{kind} {low} and {high}"

    def holds(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


# A century: a longer window or period is a typo.
DAYS = Bound(0, 36_600, unit="days")
# How many profiles an audience, a limit or a test may name: more than any warehouse here will hold.
PROFILES = Bound(0, 1_000_000_000)
# A share of a group, a split or a test.
PERCENT = Bound(0, 100, whole=False, low_open=True)
# A value compared with a column or an aggregate (an amount, a count): within what a double holds exactly.
MAGNITUDE = Bound(-(10**15), 10**15, whole=False)


def bounded(value: object, bound: Bound, where: str, fail: Fail) -> float:
    """``value`` as a number when it is one inside ``bound``; otherwise ``fail(where, ...)`` says the range.
    A whole-number bound also takes 3.0 (as 3); true/false, text, NaN and infinities are never numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(where, f"expected {bound.describe()}, got {_shown(value)}")
    if isinstance(value, float) and (not math.isfinite(value) or (bound.whole and not value.is_integer())):
        raise fail(where, f"expected {bound.describe()}, got {_shown(value)}")
    if not bound.holds(value):
        raise fail(where, f"expected {bound.describe()}, got {_shown(value)}")
    return value


def bounded_int(value: object, bound: Bound, where: str, fail: Fail) -> int:
    """``bounded`` for a whole-number bound, as an int."""
    assert bound.whole, "bounded_int needs a whole-number bound"
    return int(bounded(value, bound, where, fail))


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:,}"


def _shown(value: object) -> str:
    # A huge integer is shown as a power of ten: its digits say nothing more and could fill the terminal.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**16:
        return f"{'-' if value < 0 else ''}a number of {len(str(abs(value)))} digits"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
