"""The one audience compiler: a spec becomes one SQL query, for live counts, previews, exports and dbt models.

The query returns one row per member: ``profile_id`` and ``audience_group`` (a split group, or ``target``).
It is built as a sqlglot expression tree, never as text: tables and columns come only from the ``Schema``
allow-list, operators from a fixed table, and every user value becomes a typed literal node that sqlglot
escapes for the dialect. The tree is rendered for DuckDB, PostgreSQL and Spark.

Logic is two-valued: a missing value never matches (a WHERE drops unknown like false), and every negation
wraps what it negates in ``coalesce(…, false)``, so ``not`` always means the complement (``country_code ≠ FR``
keeps profiles without a country).

Conditions that a column of ``profile_rollups`` (one row per profile) holds exactly are read from it, joined
once as ``agg``, instead of aggregating a fact table: a count or sum of events or orders over one of its fixed
windows (no other filter than the event type, or completed orders), and consent to a channel (or a channel and
topic). Its windows are the same closed interval [as_of − D days, as_of] and its flags the same test as the
subqueries', so both forms select the same profiles. The caller says whether the rollup was built at this
compiler's ``as_of`` (``rollups``); everything else keeps the subquery form.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from herald.audiences.schema import CONSENTS, PROFILE_ROLLUPS, PROFILES, RELATED_TABLES, ColumnKind, Schema
from herald.audiences.spec import (
    DEFAULT_GROUP,
    Attribute,
    AudienceSpec,
    Condition,
    Consent,
    Group,
    InAudience,
    Not,
    Reachable,
    Related,
    as_sequence,
)
from herald.errors import AudienceNotFound, AudienceSpecError

Dialect = Literal["duckdb", "postgres", "spark"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "postgres", "spark")

# Which column kinds each operator accepts.
_ORDERED: frozenset[ColumnKind] = frozenset({"integer", "number", "date", "timestamp"})
_TEMPORAL: frozenset[ColumnKind] = frozenset({"date", "timestamp"})
_ALL: frozenset[ColumnKind] = frozenset({"string", "integer", "number", "boolean", "date", "timestamp"})
OPERATOR_KINDS: Mapping[str, frozenset[ColumnKind]] = {
    "eq": _ALL,
    "ne": _ALL,
    "in": _ALL - {"boolean"},
    "not_in": _ALL - {"boolean"},
    "lt": _ORDERED,
    "lte": _ORDERED,
    "gt": _ORDERED,
    "gte": _ORDERED,
    "between": _ORDERED,
    "contains": frozenset({"string"}),
    "not_contains": frozenset({"string"}),
    "starts_with": frozenset({"string"}),
    "is_empty": _ALL,
    "is_not_empty": _ALL,
    "in_last_days": _TEMPORAL,
    "not_in_last_days": _TEMPORAL,
    "before": _TEMPORAL,
    "after": _TEMPORAL,
    "birthday_within_days": frozenset({"date"}),
}
# Bucket space of the split hash: the first 8 hex digits of an MD5 (32 bits).
HASH_DIGITS = 8
HASH_SPACE = 16**HASH_DIGITS
# Event types and consent topics the rollup can have a column for (the names its vars accept).
_ROLLUP_NAME = re.compile(r"[a-z][a-z0-9_]*")
_COMPLETED = Attribute("is_completed", "eq", True)


def split_thresholds(percents: tuple[float, ...]) -> tuple[int, ...]:
    """Upper bounds (exclusive) in the hash space of every group but the last, which takes the rest."""
    bounds, total = [], 0.0
    for p in percents[:-1]:
        total += p
        bounds.append(round(total / 100 * HASH_SPACE))
    return tuple(bounds)


def hash_key(salt: str, profile_id: str, purpose: str = "") -> str:
    """The hex digits the SQL compares for ``profile_id``: anyone with the salt can recompute a group."""
    import hashlib

    return hashlib.md5(f"{salt}:{purpose}{profile_id}".encode()).hexdigest()[:HASH_DIGITS]


@dataclass(slots=True)
class _Joins:
    """What one query's conditions read beside ``profiles p`` (filled while compiling, so not frozen)."""

    rollups: bool = False


@dataclass(frozen=True, slots=True)
class Compiler:
    """Compiles specs against ``schema``. ``resolve`` finds another audience's spec by name (for
    ``in_audience`` and set algebra); ``table`` turns a mart name into the table node to read; ``as_of`` is
    the reference time of every relative window. ``rollups`` allows reading conditions from
    ``profile_rollups`` when the schema has it: only true when it was built at ``as_of``."""

    schema: Schema
    resolve: Callable[[str], AudienceSpec]
    as_of: exp.Expr
    table: Callable[[str], exp.Table] = lambda name: exp.to_table(name)
    rollups: bool = True

    # ------------------------------------------------------------------ entry points

    def query(self, spec: AudienceSpec) -> exp.Select:
        """The members of ``spec``: ``select profile_id, audience_group``."""
        return self._query(spec, stack=())

    def sql(self, spec: AudienceSpec, dialect: Dialect = "duckdb", *, pretty: bool = True) -> str:
        return self.query(spec).sql(dialect=dialect, pretty=pretty)

    def check(self, spec: AudienceSpec) -> None:
        """Raise AudienceSpecError if ``spec`` (or an audience it reads) does not compile."""
        self.query(spec)

    # ------------------------------------------------------------------ the query

    def _query(self, spec: AudienceSpec, stack: tuple[str, ...]) -> exp.Select:
        if spec.name in stack:
            cycle = " → ".join((*stack[stack.index(spec.name) :], spec.name))
            raise AudienceSpecError(f"audience {spec.name!r}: cycle between audiences: {cycle}")
        stack = (*stack, spec.name)
        joins = _Joins()
        where = self._membership_condition(spec, stack, joins)
        profiles = self.table(PROFILES).as_("p")
        pid = exp.column("profile_id", table="p")
        matched = exp.select(pid.copy()).from_(profiles)
        if joins.rollups:
            matched = matched.join(
                self.table(PROFILE_ROLLUPS).as_("agg"),
                join_type="left",
                on=exp.EQ(this=exp.column("profile_id", table="agg"), expression=pid.copy()),
            )
        if where is not None:
            matched = matched.where(where)
        members: exp.Select = matched
        if spec.limit is not None:
            members = self._limited(spec, matched)
        return exp.select(
            exp.column("profile_id", table="m"),
            exp.alias_(self._group(spec, exp.column("profile_id", table="m")), "audience_group"),
        ).from_(members.subquery("m"))

    def _membership_condition(self, spec: AudienceSpec, stack: tuple[str, ...], joins: _Joins) -> exp.Expr | None:
        parts: list[exp.Expr] = []
        if spec.where is not None:
            parts.append(self._condition(spec.where, PROFILES, "p", stack, joins))
        if spec.union:
            parts.append(exp.or_(*(self._in_audience(InAudience(n, path=f"union[{n}]"), stack) for n in spec.union)))
        for n in spec.intersection:
            parts.append(self._in_audience(InAudience(n, path=f"intersection[{n}]"), stack))
        for n in spec.exclude:
            parts.append(exp.not_(self._in_audience(InAudience(n, path=f"exclude[{n}]"), stack)))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else exp.and_(*parts)

    def _limited(self, spec: AudienceSpec, matched: exp.Select) -> exp.Select:
        assert spec.limit is not None
        m = exp.column("profile_id", table="l")
        order: list[exp.Ordered] = []
        if spec.limit.order_by:
            col = spec.limit.order_by
            kind = self.schema.kind(PROFILES, col, "limit.order_by")
            if kind == "boolean":
                raise AudienceSpecError(f"limit.order_by: cannot order by true/false column {col!r}")
            matched = matched.select(exp.alias_(exp.column(col, table="p"), "sort_key"))
            key = exp.column("sort_key", table="l")
            # Missing values last on every engine (their defaults differ), ties broken by profile.
            order.append(
                exp.Ordered(
                    this=exp.Case().when(key.is_(exp.null()), exp.Literal.number(1)).else_(exp.Literal.number(0))
                )
            )
            order.append(exp.Ordered(this=key.copy(), desc=spec.limit.descending))
        else:
            order.append(exp.Ordered(this=self._hash(spec.effective_salt, m.copy(), "limit:")))
        order.append(exp.Ordered(this=m.copy()))
        return (
            exp.select(m.copy())
            .from_(matched.subquery("l"))
            .order_by(*order)
            .limit(exp.Literal.number(spec.limit.count))
        )

    def _group(self, spec: AudienceSpec, pid: exp.Expr) -> exp.Expr:
        if not spec.split:
            return exp.Literal.string(DEFAULT_GROUP)
        bucket = self._hash(spec.effective_salt, pid, "")
        case = exp.Case()
        for group, bound in zip(spec.split, split_thresholds(tuple(g.percent for g in spec.split)), strict=False):
            case = case.when(exp.LT(this=bucket.copy(), expression=_hex(bound)), exp.Literal.string(group.name))
        return case.else_(exp.Literal.string(spec.split[-1].name))

    @staticmethod
    def _hash(salt: str, pid: exp.Expr, purpose: str) -> exp.Expr:
        text = exp.Concat(expressions=[exp.Literal.string(f"{salt}:{purpose}"), pid], safe=True)
        return exp.Substring(
            this=exp.MD5(this=text), start=exp.Literal.number(1), length=exp.Literal.number(HASH_DIGITS)
        )

    # ------------------------------------------------------------------ conditions

    def _condition(
        self, c: Condition, table: str, alias: str, stack: tuple[str, ...], joins: _Joins | None = None
    ) -> exp.Expr:
        if isinstance(c, Group):
            parts = [self._condition(i, table, alias, stack, joins) for i in c.items]
            if not parts:
                raise AudienceSpecError(f"condition {c.path}: empty group")
            return exp.and_(*parts) if c.kind == "all" else exp.or_(*parts)
        if isinstance(c, Not):
            return exp.not_(_known(self._condition(c.item, table, alias, stack, joins)))
        if isinstance(c, Attribute):
            return self._attribute(c, table, alias)
        if isinstance(c, Related):
            # Related conditions exist only on profiles (the spec forbids nesting them), where joins is given.
            assert joins is not None
            return self._related(c, joins)
        if isinstance(c, Consent):
            assert joins is not None  # consent, like related data, is a condition on profiles only
            return self._consent(c, joins)
        if isinstance(c, Reachable):
            col = f"is_{c.channel}_reachable"
            self.schema.kind(PROFILES, col, c.path)
            return _true(exp.column(col, table="p"))
        if isinstance(c, InAudience):
            return self._in_audience(c, stack)
        raise AudienceSpecError(f"unsupported condition {c!r}")  # pragma: no cover - closed union

    def _attribute(self, c: Attribute, table: str, alias: str) -> exp.Expr:
        kind = self.schema.kind(table, c.column, c.path)
        if kind not in OPERATOR_KINDS[c.op]:
            allowed = ", ".join(sorted(OPERATOR_KINDS[c.op]))
            raise AudienceSpecError(
                f"condition {c.path}: operator {c.op!r} does not apply to {c.column} ({kind}); it takes {allowed}"
            )
        col = exp.column(c.column, table=alias)
        op = c.op
        if op in ("ne", "not_in", "not_contains", "is_not_empty", "not_in_last_days"):
            positive = {
                "ne": "eq",
                "not_in": "in",
                "not_contains": "contains",
                "is_not_empty": "is_empty",
                "not_in_last_days": "in_last_days",
            }[op]
            return exp.not_(_known(self._attribute(Attribute(c.column, positive, c.value, c.path), table, alias)))
        if op == "is_empty":
            empty: exp.Expr = col.is_(exp.null())
            if kind == "string":
                empty = exp.or_(empty, exp.EQ(this=exp.Trim(this=col.copy()), expression=exp.Literal.string("")))
            return exp.paren(empty)
        if op == "in_last_days":
            now = self._now(kind)
            start = exp.Sub(this=now.copy(), expression=_days(_int(c.value)))
            return _true(exp.and_(exp.GTE(this=col, expression=start), exp.LTE(this=col.copy(), expression=now)))
        if op == "birthday_within_days":
            return _true(self._birthday_within(col, _int(c.value)))
        if op == "in":
            values = [_literal(v, kind, c) for v in as_sequence(c.value)]
            return _true(exp.In(this=col, expressions=values))
        if op == "between":
            low, high = (_literal(v, kind, c) for v in as_sequence(c.value))
            return _true(exp.Between(this=col, low=low, high=high))
        if op in ("contains", "starts_with"):
            found = exp.StrPosition(this=exp.Lower(this=col), substr=exp.Lower(this=_literal(c.value, kind, c)))
            test = exp.GT if op == "contains" else exp.EQ
            return _true(test(this=found, expression=exp.Literal.number(0 if op == "contains" else 1)))
        value = _literal(c.value, kind, c)
        cls = {
            "eq": exp.EQ,
            "lt": exp.LT,
            "lte": exp.LTE,
            "gt": exp.GT,
            "gte": exp.GTE,
            "before": exp.LT,
            "after": exp.GT,
        }[op]
        return _true(cls(this=col, expression=value))

    def _now(self, kind: ColumnKind) -> exp.Expr:
        as_of = self.as_of.copy()
        return exp.Cast(this=as_of, to=exp.DataType.build("date")) if kind == "date" else as_of

    def _birthday_within(self, col: exp.Expr, days: int) -> exp.Expr:
        # Next birthday this year or next; 29 February counts as 28 February in every year.
        today = self._now("date")
        month = exp.Cast(this=exp.Month(this=col.copy()), to=exp.DataType.build("int"))
        day = (
            exp.Case()
            .when(
                exp.and_(
                    exp.EQ(this=month.copy(), expression=exp.Literal.number(2)),
                    exp.EQ(this=exp.Day(this=col.copy()), expression=exp.Literal.number(29)),
                ),
                exp.Literal.number(28),
            )
            .else_(exp.Cast(this=exp.Day(this=col.copy()), to=exp.DataType.build("int")))
        )
        year = exp.Cast(this=exp.Year(this=today.copy()), to=exp.DataType.build("int"))
        end = exp.Add(this=today.copy(), expression=_days(days))
        checks = []
        for offset in (0, 1):
            y = year.copy() if offset == 0 else exp.Add(this=year.copy(), expression=exp.Literal.number(1))
            date = exp.Anonymous(this="MAKE_DATE", expressions=[y, month.copy(), day.copy()])
            checks.append(exp.Between(this=date, low=today.copy(), high=end.copy()))
        return exp.and_(col.copy().is_(exp.not_(exp.null())), exp.or_(*checks))

    def _related(self, c: Related, joins: _Joins) -> exp.Expr:
        # The subquery form is compiled either way: it checks every name and value, so a spec is valid or
        # invalid whichever form answers it.
        subquery = self._related_subquery(c)
        column = self._rollup_column(c)
        if column is None:
            return subquery
        joins.rollups = True
        value: exp.Expr = exp.column(column, table="agg")
        if _compare(0, c.op, c.value):
            # Holds for a profile that did nothing, so also for one the rollup lacks (no row: count and sum 0).
            value = exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
        cls = {"eq": exp.EQ, "ne": exp.NEQ, "lt": exp.LT, "lte": exp.LTE, "gt": exp.GT, "gte": exp.GTE}[c.op]
        return cls(this=value, expression=_number(c.value, c.path))

    def _rollup_column(self, c: Related) -> str | None:
        """The column of ``profile_rollups`` that holds exactly ``c``'s measure, if there is one."""
        available = self.schema.tables.get(PROFILE_ROLLUPS)
        if not self.rollups or available is None or c.within_days is None:
            return None
        _, default_time = RELATED_TABLES[c.source]
        if (c.time_column or default_time) != default_time:
            return None
        days = f"{c.within_days}_days"
        name: str | None = None
        if c.source == "events" and c.measure == "count":
            if c.where is None:
                name = f"event_count_{days}"
            elif (
                isinstance(c.where, Attribute)
                and (c.where.column, c.where.op) == ("event_type", "eq")
                and isinstance(c.where.value, str)
                and _ROLLUP_NAME.fullmatch(c.where.value)
            ):
                name = f"{c.where.value}_event_count_{days}"
        elif c.source == "orders" and (c.measure == "count" or (c.measure, c.column) == ("sum", "total_amount_eur")):
            # `is` rather than ==: True == 1, and `eq: 1` on a boolean is an error the subquery form reports.
            completed = c.where == _COMPLETED and isinstance(c.where, Attribute) and c.where.value is True
            prefix = "order" if c.where is None else "completed_order" if completed else None
            if prefix is not None:
                name = f"{prefix}_count_{days}" if c.measure == "count" else f"{prefix}_total_amount_eur_{days}"
        return name if name is not None and name in available else None

    def _related_subquery(self, c: Related) -> exp.Expr:
        mart, default_time = RELATED_TABLES[c.source]
        time_column = c.time_column or default_time
        r_pid = exp.column("profile_id", table="r")
        filters: list[exp.Expr] = [r_pid.copy().is_(exp.not_(exp.null()))]
        if c.within_days is not None:
            kind = self.schema.kind(mart, time_column, f"{c.path}.time_column")
            if kind not in _TEMPORAL:
                raise AudienceSpecError(f"condition {c.path}: time_column {time_column!r} is not a date or time")
            now = self._now(kind)
            col = exp.column(time_column, table="r")
            filters.append(exp.GTE(this=col, expression=exp.Sub(this=now.copy(), expression=_days(c.within_days))))
            filters.append(exp.LTE(this=col.copy(), expression=now))
        if c.where is not None:
            filters.append(self._condition(c.where, mart, "r", ()))
        if c.measure == "count":
            measure: exp.Expr = exp.Count(this=exp.Star())
        else:
            assert c.column is not None
            kind = self.schema.kind(mart, c.column, f"{c.path}.{c.measure}")
            if kind not in ("integer", "number"):
                raise AudienceSpecError(f"condition {c.path}: {c.measure} needs a numeric column; {c.column} is {kind}")
            agg = {"sum": exp.Sum, "min": exp.Min, "max": exp.Max}[c.measure]
            measure = agg(this=exp.column(c.column, table="r"))
            if c.measure == "sum":
                measure = exp.Coalesce(this=measure, expressions=[exp.Literal.number(0)])
        cls = {"eq": exp.EQ, "ne": exp.NEQ, "lt": exp.LT, "lte": exp.LTE, "gt": exp.GT, "gte": exp.GTE}[c.op]
        test = cls(this=measure, expression=_number(c.value, c.path))
        holds_at_zero = c.measure in ("count", "sum") and _compare(0, c.op, c.value)
        having = exp.not_(exp.paren(test)) if holds_at_zero else test
        sub = (
            exp.select(r_pid.copy())
            .from_(self.table(mart).as_("r"))
            .where(exp.and_(*filters))
            .group_by(r_pid.copy())
            .having(having)
        )
        inside = exp.column("profile_id", table="p").isin(query=sub)
        # Profiles without rows satisfy a count/sum test that holds at 0: take the complement of those failing it.
        return exp.not_(inside) if holds_at_zero else inside

    def _consent(self, c: Consent, joins: _Joins) -> exp.Expr:
        subquery = self._consent_subquery(c)
        topic = "" if c.topic is None else f"_{c.topic}"
        column = f"is_{c.channel}{topic}_opted_in"
        available = self.schema.tables.get(PROFILE_ROLLUPS) or {}
        if not self.rollups or (c.topic is not None and not _ROLLUP_NAME.fullmatch(c.topic)) or column not in available:
            return subquery
        joins.rollups = True
        return _true(exp.column(column, table="agg"))

    def _consent_subquery(self, c: Consent) -> exp.Expr:
        columns = self.schema.columns(CONSENTS)
        for needed in ("profile_id", "channel", "topic", "is_opted_in"):
            if needed not in columns:
                raise AudienceSpecError(f"condition {c.path}: {CONSENTS} has no column {needed}")
        filters: list[exp.Expr] = [
            exp.EQ(this=exp.column("channel", table="c"), expression=exp.Literal.string(c.channel)),
            _true(exp.column("is_opted_in", table="c")),
        ]
        if c.topic is not None:
            filters.append(exp.EQ(this=exp.column("topic", table="c"), expression=exp.Literal.string(c.topic)))
        sub = (
            exp.select(exp.column("profile_id", table="c"))
            .from_(self.table(CONSENTS).as_("c"))
            .where(exp.and_(exp.column("profile_id", table="c").is_(exp.not_(exp.null())), *filters))
        )
        return exp.column("profile_id", table="p").isin(query=sub)

    def _in_audience(self, c: InAudience, stack: tuple[str, ...]) -> exp.Expr:
        try:
            other = self.resolve(c.name)
        except AudienceNotFound as exc:
            raise AudienceSpecError(f"condition {c.path}: {exc}") from None
        unknown = [g for g in c.groups if g not in other.groups]
        if unknown:
            raise AudienceSpecError(
                f"condition {c.path}: audience {c.name!r} has no group {', '.join(unknown)}; "
                f"its groups are {', '.join(other.groups)}"
            )
        inner = self._query(other, stack).subquery("a")
        sub = exp.select(exp.column("profile_id", table="a")).from_(inner)
        if c.groups:
            sub = sub.where(
                exp.In(
                    this=exp.column("audience_group", table="a"), expressions=[exp.Literal.string(g) for g in c.groups]
                )
            )
        return exp.column("profile_id", table="p").isin(query=sub)


# ---------------------------------------------------------------------------------------------- values


def _true(predicate: exp.Expr) -> exp.Expr:
    """A leaf predicate as it stands. Unknown (null) acts as false in a WHERE, so leaves need no coalesce;
    only a negation does (see ``_known``). Bare leaves let DuckDB push filters into the table scan."""
    return exp.paren(predicate) if isinstance(predicate, exp.Connector) else predicate


def _known(predicate: exp.Expr) -> exp.Expr:
    """``coalesce(predicate, false)``, for what is negated: `not` of unknown must hold, as `not` of false does."""
    inner = exp.paren(predicate) if isinstance(predicate, exp.Connector) else predicate
    return exp.Coalesce(this=inner, expressions=[exp.false()])


def _days(n: int) -> exp.Expr:
    return exp.Interval(this=exp.Literal.string(str(n)), unit=exp.var("DAY"))


def _hex(bound: int) -> exp.Expr:
    return exp.Literal.string(f"{bound:0{HASH_DIGITS}x}")


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def _compare(a: float, op: str, b: float) -> bool:
    return {"eq": a == b, "ne": a != b, "lt": a < b, "lte": a <= b, "gt": a > b, "gte": a >= b}[op]


def _number(value: object, path: str) -> exp.Expr:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AudienceSpecError(f"condition {path}: expected a finite number, got {value!r}")
    return exp.Literal.number(repr(value) if isinstance(value, float) else str(value))


def _literal(value: object, kind: ColumnKind, c: Attribute) -> exp.Expr:
    """``value`` as a typed literal for a column of ``kind``, or an error naming the condition."""

    def wrong(expected: str) -> AudienceSpecError:
        hint = " (quote it to compare as text)" if kind == "string" and isinstance(value, int | float) else ""
        return AudienceSpecError(f"condition {c.path}: {c.column} is {kind}; {value!r} is not {expected}{hint}")

    if kind == "string":
        if not isinstance(value, str):
            raise wrong("text")
        return exp.Literal.string(value)
    if kind in ("integer", "number"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong("a number")
        if kind == "integer" and isinstance(value, float) and not value.is_integer():
            raise wrong("a whole number")
        return _number(int(value) if kind == "integer" else value, c.path)
    if kind == "boolean":
        if not isinstance(value, bool):
            raise wrong("true or false")
        return exp.true() if value else exp.false()
    if kind == "date":
        date = _as_date(value)
        if date is None:
            raise wrong("a date (YYYY-MM-DD)")
        return exp.Cast(this=exp.Literal.string(date.isoformat()), to=exp.DataType.build("date"))
    stamp = _as_datetime(value)
    if stamp is None:
        raise wrong("a date or time (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS)")
    return timestamp_literal(stamp)


def timestamp_literal(stamp: dt.datetime) -> exp.Expr:
    """A TIMESTAMP literal (UTC, no zone: the marts store UTC)."""
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.UTC).replace(tzinfo=None)
    return exp.Cast(
        this=exp.Literal.string(stamp.isoformat(sep=" ", timespec="microseconds")),
        to=exp.DataType.build("timestamp"),
    )


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _as_datetime(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None
