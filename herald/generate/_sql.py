"""Small helpers for writing the generator's SQL.

Randomness is ``hash(key, seed, salt)``: the same key, seed and salt always give the same number, so the
output does not depend on thread scheduling or chunk boundaries (``random()`` would).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import duckdb

_EPOCH = dt.datetime(1970, 1, 1)


def lit(value: str) -> str:
    """A SQL string literal (values are our own constants, quoted defensively anyway)."""
    return "'" + value.replace("'", "''") + "'"


def str_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


def int_list(values: Sequence[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]"


def float_list(values: Sequence[float]) -> str:
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


def epoch(moment: dt.datetime | dt.date) -> int:
    """Seconds since 1970 for a naive UTC datetime (or midnight of a date)."""
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime(moment.year, moment.month, moment.day)
    return int((moment - _EPOCH).total_seconds())


def inverse_cdf(weights: Sequence[float], size: int) -> list[int]:
    """A lookup list: entry k is the index whose cumulative weight covers (k + 0.5) / size.

    Picking ``lut[hash % size]`` then draws indexes in proportion to ``weights`` without a join.
    """
    total = float(sum(weights))
    out: list[int] = []
    acc = 0.0
    idx = 0
    for k in range(size):
        target = (k + 0.5) / size * total
        while idx < len(weights) - 1 and acc + weights[idx] < target:
            acc += weights[idx]
            idx += 1
        out.append(idx)
    return out


def coprime_multiplier(n: int) -> int:
    """A large odd multiplier coprime to ``n``: ``(r * m + b) % n`` is then a permutation of ``range(n)``."""
    m = 2_654_435_761  # a prime near 2**32 / golden ratio
    while math.gcd(m, n) != 1:
        m += 2
    return m


def install_macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """Deterministic draws keyed by (key, salt): ``u`` uniform in [0, 1), ``ri`` integer in [0, n)."""
    s = int(seed)
    con.execute(f"CREATE OR REPLACE MACRO u(k, salt) AS (hash(k, {s}, salt) % 1000000007) / 1000000007.0")
    con.execute(f"CREATE OR REPLACE MACRO ri(k, salt, n) AS (hash(k, {s}, salt) % (n)::UBIGINT)::BIGINT")
    con.execute(f"CREATE OR REPLACE MACRO hx(k, salt) AS printf('%016x', hash(k, {s}, salt))")
    con.execute("CREATE OR REPLACE MACRO ts(e) AS make_timestamp((e)::BIGINT * 1000000)")
