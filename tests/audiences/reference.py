"""A small marketing database in plain Python, the same rows in DuckDB, and a plain-Python audience evaluator.

The evaluator is written from the spec's documented meaning (docs/audiences.md), not from the compiler, so
agreement between the two on random specs is evidence that the SQL means what the docs say.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import duckdb

from herald.audiences.spec import (
    Attribute,
    AudienceSpec,
    Condition,
    Consent,
    Group,
    InAudience,
    Not,
    Reachable,
    Related,
)

AS_OF = dt.datetime(2026, 6, 15, 12, 0, 0)
COUNTRIES = ("FR", "DE", "BE", "US", "", None)
EVENT_TYPES = ("page_view", "product_view", "add_to_cart")
CATEGORIES = ("shoes", "bags", None)
CHANNELS = ("email", "sms")
TOPICS = ("newsletter", "promotions")
NAMES = ("Anne", "anne-marie", "Bob", "O'Brien", "Zoë", None)

Row = dict[str, Any]


@dataclass(frozen=True)
class Dataset:
    tables: dict[str, list[Row]]
    types: dict[str, dict[str, str]]

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        for table, columns in self.types.items():
            con.execute(f"create table {table} ({', '.join(f'{c} {t}' for c, t in columns.items())})")
            rows = self.tables[table]
            if rows:
                placeholders = ", ".join("?" for _ in columns)
                con.executemany(f"insert into {table} values ({placeholders})", [[r[c] for c in columns] for r in rows])


def make_dataset(seed: int = 7, profiles: int = 60) -> Dataset:
    """Deterministic rows with nulls, ties, boundary dates and Feb 29 birthdays."""
    import random

    rnd = random.Random(seed)

    def maybe(value: Any, p: float = 0.15) -> Any:
        return None if rnd.random() < p else value

    def ts(days_ago: float) -> dt.datetime:
        return AS_OF - dt.timedelta(days=days_ago)

    people, orders, events, messages, consents = [], [], [], [], []
    for i in range(profiles):
        pid = f"P{i:03d}"
        birth = maybe(dt.date(rnd.choice([1980, 1984, 1990, 2000]), rnd.randint(1, 12), rnd.randint(1, 28)))
        if i % 17 == 0:
            birth = dt.date(1992, 2, 29)
        if i % 13 == 0:  # birthdays right around as_of
            birth = dt.date(1985, AS_OF.month, AS_OF.day + rnd.choice([-1, 0, 3, 7, 8]))
        people.append(
            {
                "profile_id": pid,
                "first_name": rnd.choice(NAMES),
                "country_code": rnd.choice(COUNTRIES),
                "email": maybe(f"user{i}@{rnd.choice(['example.com', 'Herald.invalid', 'mail.fr'])}"),
                "lifetime_value": maybe(float(rnd.randint(0, 500))),
                "order_count": maybe(rnd.randint(0, 6)),
                "is_email_reachable": maybe(rnd.random() < 0.6),
                "is_sms_reachable": maybe(rnd.random() < 0.3),
                "birth_date": birth,
                "last_order_at": maybe(ts(rnd.choice([0, 1, 29.5, 30, 90, 400]))),
            }
        )
        for j in range(rnd.randint(0, 4)):
            orders.append(
                {
                    "order_id": f"O{i:03d}-{j}",
                    "profile_id": pid if rnd.random() > 0.05 else None,
                    "total_amount_eur": maybe(float(rnd.randint(5, 200)), 0.1),
                    "is_completed": rnd.random() < 0.8,
                    "ordered_at": ts(rnd.choice([0, 2, 10, 30, 31, 100, 200, 400])),
                }
            )
        for j in range(rnd.randint(0, 6)):
            events.append(
                {
                    "event_id": f"E{i:03d}-{j}",
                    "profile_id": pid,
                    "event_type": rnd.choice(EVENT_TYPES),
                    "category": rnd.choice(CATEGORIES),
                    "occurred_at": ts(rnd.choice([0, 1, 3, 7, 8, 30, 60])),
                }
            )
        for j in range(rnd.randint(0, 3)):
            opened = rnd.random() < 0.5
            messages.append(
                {
                    "message_id": f"M{i:03d}-{j}",
                    "profile_id": pid,
                    "campaign_id": rnd.choice(["C1", "C2"]),
                    "channel": rnd.choice(CHANNELS),
                    "is_opened": opened,
                    "is_clicked": opened and rnd.random() < 0.5,
                    "sent_at": ts(rnd.choice([1, 5, 20, 40])),
                    "first_opened_at": ts(rnd.choice([0, 4, 19])) if opened else None,
                    "first_clicked_at": ts(rnd.choice([0, 3, 18])) if opened else None,
                }
            )
        for channel in CHANNELS:
            for topic in TOPICS:
                if rnd.random() < 0.4:
                    consents.append(
                        {
                            "profile_id": pid,
                            "channel": channel,
                            "topic": topic,
                            "is_opted_in": rnd.random() < 0.7,
                        }
                    )
    types = {
        "profiles": {
            "profile_id": "varchar",
            "first_name": "varchar",
            "country_code": "varchar",
            "email": "varchar",
            "lifetime_value": "double",
            "order_count": "bigint",
            "is_email_reachable": "boolean",
            "is_sms_reachable": "boolean",
            "birth_date": "date",
            "last_order_at": "timestamp",
        },
        "orders": {
            "order_id": "varchar",
            "profile_id": "varchar",
            "total_amount_eur": "double",
            "is_completed": "boolean",
            "ordered_at": "timestamp",
        },
        "profile_events": {
            "event_id": "varchar",
            "profile_id": "varchar",
            "event_type": "varchar",
            "category": "varchar",
            "occurred_at": "timestamp",
        },
        "messages": {
            "message_id": "varchar",
            "profile_id": "varchar",
            "campaign_id": "varchar",
            "channel": "varchar",
            "is_opened": "boolean",
            "is_clicked": "boolean",
            "sent_at": "timestamp",
            "first_opened_at": "timestamp",
            "first_clicked_at": "timestamp",
        },
        "profile_consents": {
            "profile_id": "varchar",
            "channel": "varchar",
            "topic": "varchar",
            "is_opted_in": "boolean",
        },
    }
    tables = {
        "profiles": people,
        "orders": orders,
        "profile_events": events,
        "messages": messages,
        "profile_consents": consents,
    }
    return Dataset(tables=tables, types=types)


# ---------------------------------------------------------------------------------------------- profile rollup

# The rollup of the tests holds fewer windows, event types and topics than the project's vars, so that
# conditions on the others (8 or 31 days, add_to_cart, promotions) take the subquery form beside those it answers.
ROLLUP_DAYS = (7, 30, 90, 180, 365)
ROLLUP_EVENT_TYPES = ("page_view", "product_view")
ROLLUP_CONSENT_TOPICS = ("newsletter",)


def profile_rollups(data: Dataset, as_of: dt.datetime = AS_OF) -> Dataset:
    """``profile_rollups`` computed in plain Python from its documented meaning: per profile and window of D days,
    what happened from as_of - D days to as_of, both included, and whether a consent row opts it in to each
    channel (and topic). The model has a row for every profile; here a profile with nothing to count has none,
    to show that one the rollup lacks counts as one that did nothing (the compiler does not rely on every
    profile having a row)."""

    def within(value: dt.datetime, days: int) -> bool:
        return as_of - dt.timedelta(days=days) <= value <= as_of

    rows: list[Row] = []
    for profile in data.tables["profiles"]:
        pid = profile["profile_id"]
        events = [e for e in data.tables["profile_events"] if e["profile_id"] == pid]
        orders = [o for o in data.tables["orders"] if o["profile_id"] == pid]
        opted_in = [
            (c["channel"], c["topic"])
            for c in data.tables["profile_consents"]
            if c["profile_id"] == pid and c["is_opted_in"] is True
        ]
        row: Row = {"profile_id": pid}
        for days in ROLLUP_DAYS:
            recent = [e for e in events if within(e["occurred_at"], days)]
            row[f"event_count_{days}_days"] = len(recent)
            for event_type in ROLLUP_EVENT_TYPES:
                row[f"{event_type}_event_count_{days}_days"] = sum(e["event_type"] == event_type for e in recent)
            for prefix, keep in (("order", lambda o: True), ("completed_order", lambda o: o["is_completed"])):
                chosen = [o for o in orders if within(o["ordered_at"], days) and keep(o)]
                row[f"{prefix}_count_{days}_days"] = len(chosen)
                amounts = [o["total_amount_eur"] for o in chosen if o["total_amount_eur"] is not None]
                row[f"{prefix}_total_amount_eur_{days}_days"] = float(sum(amounts))
        for channel in CHANNELS:
            row[f"is_{channel}_opted_in"] = any(ch == channel for ch, _ in opted_in)
            for topic in ROLLUP_CONSENT_TOPICS:
                row[f"is_{channel}_{topic}_opted_in"] = (channel, topic) in opted_in
        row["built_at"] = as_of
        if any(v for k, v in row.items() if k not in ("profile_id", "built_at")):
            rows.append(row)

    def sql_type(name: str) -> str:
        if name in ("profile_id", "built_at"):
            return "varchar" if name == "profile_id" else "timestamp"
        return "boolean" if name.startswith("is_") else "double" if "amount" in name else "integer"

    return Dataset(tables={"profile_rollups": rows}, types={"profile_rollups": {n: sql_type(n) for n in rows[0]}})


# ---------------------------------------------------------------------------------------------- evaluator

RELATED = {
    "orders": ("orders", "ordered_at"),
    "events": ("profile_events", "occurred_at"),
    "messages": ("messages", "sent_at"),
}


def _md5_hex8(text: str) -> int:
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16)


class Reference:
    """Evaluates specs row by row over ``Dataset`` tables."""

    def __init__(self, data: Dataset, resolve: Callable[[str], AudienceSpec], as_of: dt.datetime = AS_OF) -> None:
        self.data = data
        self.resolve = resolve
        self.as_of = as_of
        self._saved: dict[str, dict[str, str]] = {}  # members of saved audiences, computed once

    def members(self, spec: AudienceSpec) -> dict[str, str]:
        """profile_id → group."""
        chosen = [p for p in self.data.tables["profiles"] if self._in(spec, p)]
        if spec.limit is not None:
            if spec.limit.order_by:
                col, desc = spec.limit.order_by, spec.limit.descending
                with_value = sorted((p for p in chosen if p[col] is not None), key=lambda p: p["profile_id"])
                with_value.sort(key=lambda p: p[col], reverse=desc)  # stable: ties stay in profile order
                chosen = with_value + sorted((p for p in chosen if p[col] is None), key=lambda p: p["profile_id"])
            else:
                salt = spec.salt or spec.name
                chosen.sort(
                    key=lambda p: (
                        hashlib.md5(f"{salt}:limit:{p['profile_id']}".encode()).hexdigest()[:8],
                        p["profile_id"],
                    )
                )
            chosen = chosen[: spec.limit.count]
        return {p["profile_id"]: self._group(spec, p["profile_id"]) for p in chosen}

    def _group(self, spec: AudienceSpec, pid: str) -> str:
        if not spec.split:
            return "target"
        bucket = _md5_hex8(f"{spec.salt or spec.name}:{pid}")
        cumulative = 0.0
        for group in spec.split[:-1]:
            cumulative += group.percent
            if bucket < round(cumulative / 100 * 16**8):
                return group.name
        return spec.split[-1].name

    def _in(self, spec: AudienceSpec, p: Row) -> bool:
        ok = True
        if spec.where is not None:
            ok = ok and self.holds(spec.where, p, p)
        if spec.union:
            ok = ok and any(self._member_of(n, (), p) for n in spec.union)
        ok = ok and all(self._member_of(n, (), p) for n in spec.intersection)
        ok = ok and not any(self._member_of(n, (), p) for n in spec.exclude)
        return ok

    def _member_of(self, name: str, groups: tuple[str, ...], p: Row) -> bool:
        if name not in self._saved:
            self._saved[name] = self.members(self.resolve(name))
        members = self._saved[name]
        return p["profile_id"] in members and (not groups or members[p["profile_id"]] in groups)

    def holds(self, c: Condition, row: Row, profile: Row) -> bool:
        if isinstance(c, Group):
            results = [self.holds(i, row, profile) for i in c.items]
            return all(results) if c.kind == "all" else any(results)
        if isinstance(c, Not):
            return not self.holds(c.item, row, profile)
        if isinstance(c, Attribute):
            return self.attribute(c, row.get(c.column))
        if isinstance(c, Reachable):
            return profile.get(f"is_{c.channel}_reachable") is True
        if isinstance(c, Consent):
            return any(
                r["profile_id"] == profile["profile_id"]
                and r["channel"] == c.channel
                and r["is_opted_in"] is True
                and (c.topic is None or r["topic"] == c.topic)
                for r in self.data.tables["profile_consents"]
            )
        if isinstance(c, InAudience):
            return self._member_of(c.name, c.groups, profile)
        assert isinstance(c, Related)
        return self.related(c, profile)

    def _window(self, value: Any, days: int) -> bool:
        if value is None:
            return False
        now: Any = self.as_of.date() if type(value) is dt.date else self.as_of
        return now - dt.timedelta(days=days) <= value <= now

    def attribute(self, c: Attribute, v: Any) -> bool:
        op, x = c.op, c.value
        if op == "ne":
            return not self.attribute(Attribute(c.column, "eq", x), v)
        if op == "not_in":
            return not self.attribute(Attribute(c.column, "in", x), v)
        if op == "not_contains":
            return not self.attribute(Attribute(c.column, "contains", x), v)
        if op == "is_not_empty":
            return not self.attribute(Attribute(c.column, "is_empty", x), v)
        if op == "not_in_last_days":
            return not self.attribute(Attribute(c.column, "in_last_days", x), v)
        if op == "is_empty":
            return v is None or (isinstance(v, str) and v.strip(" ") == "")
        if v is None:
            return False
        x = _coerce(x, v)
        if op == "eq":
            return bool(v == x)
        if op == "in":
            return v in tuple(_coerce(i, v) for i in x)
        if op in ("lt", "before"):
            return bool(v < x)
        if op == "lte":
            return bool(v <= x)
        if op in ("gt", "after"):
            return bool(v > x)
        if op == "gte":
            return bool(v >= x)
        if op == "between":
            low, high = (_coerce(i, v) for i in c.value)  # type: ignore[union-attr]
            return bool(low <= v <= high)
        if op == "contains":
            return x.lower() in v.lower()
        if op == "starts_with":
            return bool(v.lower().startswith(x.lower()))
        if op == "in_last_days":
            return self._window(v, c.value)  # type: ignore[arg-type]
        if op == "birthday_within_days":
            today = self.as_of.date()
            day = 28 if (v.month, v.day) == (2, 29) else v.day
            for year in (today.year, today.year + 1):
                candidate = dt.date(year, v.month, day)
                if today <= candidate <= today + dt.timedelta(days=c.value):  # type: ignore[arg-type]
                    return True
            return False
        raise AssertionError(op)

    def related(self, c: Related, profile: Row) -> bool:
        table, default_time = RELATED[c.source]
        time_column = c.time_column or default_time
        rows = [
            r
            for r in self.data.tables[table]
            if r["profile_id"] == profile["profile_id"]
            and (c.within_days is None or self._window(r[time_column], c.within_days))
            and (c.where is None or self.holds(c.where, r, profile))
        ]
        if c.measure == "count":
            measure: float | None = len(rows)
        else:
            values = [r[c.column] for r in rows if r[c.column] is not None]  # type: ignore[index]
            if c.measure == "sum":
                measure = sum(values) if values else 0
            else:
                measure = (min if c.measure == "min" else max)(values) if values else None
        if measure is None:
            return False
        return {
            "eq": measure == c.value,
            "ne": measure != c.value,
            "lt": measure < c.value,
            "lte": measure <= c.value,
            "gt": measure > c.value,
            "gte": measure >= c.value,
        }[c.op]


def _coerce(x: Any, like: Any) -> Any:
    """A spec value in the column's Python type (dates in specs may be strings)."""
    if isinstance(like, dt.datetime) and isinstance(x, dt.date) and not isinstance(x, dt.datetime):
        return dt.datetime(x.year, x.month, x.day)
    if isinstance(like, dt.datetime) and isinstance(x, str):
        return dt.datetime.fromisoformat(x)
    if type(like) is dt.date and isinstance(x, str):
        return dt.date.fromisoformat(x)
    return x
