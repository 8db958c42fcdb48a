"""The audience spec: what an audience file says, as frozen values, parsed with errors that name the condition.

One YAML file per audience under ``specs/audiences/<name>.yml``::

    name: lapsed_vips_fr
    description: French VIPs who bought twice this year but not in the last 60 days
    where:
      all:
        - country_code: {in: [FR, BE]}
        - orders: {within_days: 365, count: {gte: 2}}
        - not: {orders: {within_days: 60, count: {gte: 1}}}
        - events: {type: product_view, at_least: 3, within_days: 30}
        - consent: {channel: email, topic: newsletter}
    exclude: [employees]
    limit: {count: 5000, order_by: lifetime_value, descending: true}
    split: {groups: [{name: A, percent: 45}, {name: B, percent: 45}, {name: control, percent: 10}]}

Parsing checks structure only (which keys, which shapes); the compiler checks names and types against the
warehouse schema. Every condition carries its ``path`` (``where.all[2].not.orders``) so any error can say where.
The docs are in ``docs/audiences.md``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml

from herald.bounds import DAYS, MAGNITUDE, PERCENT, PROFILES, Bound, bounded, bounded_int
from herald.errors import AudienceSpecError
from herald.safe_text import Fail, failing_with, free_text, yaml_text

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Operators on one column, by name in the spec. The compiler decides which types each accepts.
COMPARISONS = ("eq", "ne", "lt", "lte", "gt", "gte")
ATTRIBUTE_OPS = (
    *COMPARISONS,
    "in",
    "not_in",
    "between",
    "contains",
    "not_contains",
    "starts_with",
    "is_empty",
    "is_not_empty",
    "in_last_days",
    "not_in_last_days",
    "before",
    "after",
    "birthday_within_days",
)
# Operators whose value is ignored (written as `true` in YAML).
UNARY_OPS = ("is_empty", "is_not_empty")
MEASURES = ("count", "sum", "min", "max")
# Related data an audience can filter on, with the name used in specs.
RELATED_SOURCES = ("orders", "order_lines", "events", "messages")
CHANNELS = ("email", "sms", "push", "in_app", "direct_mail")
MESSAGE_ACTIONS = ("received", "delivered", "opened", "clicked", "bounced", "unsubscribed")
DEFAULT_GROUP = "target"
MAX_DAYS = int(DAYS.high)
# How many members a limit keeps, and how many times a profile must have done something.
LIMIT_COUNT = Bound(1, PROFILES.high)
TIMES = Bound(1, PROFILES.high)
MAX_DEPTH = 32
# A value is data, never SQL; NUL cannot be stored by PostgreSQL and is never a meaningful filter value.
_FORBIDDEN_CHARS = ("\x00",)

Scalar = str | int | float | bool | dt.date | dt.datetime
Value = Scalar | tuple[Scalar, ...] | None
Measure = Literal["count", "sum", "min", "max"]
Source = Literal["orders", "order_lines", "events", "messages"]


@dataclass(frozen=True, slots=True)
class Attribute:
    """``column op value`` on one row (a profile, or a related row inside a related condition)."""

    column: str
    op: str
    value: Value
    path: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Group:
    """All (``all``) or at least one (``any``) of the items holds. An empty group is an error."""

    kind: Literal["all", "any"]
    items: tuple[Condition, ...]
    path: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition
    path: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Related:
    """A measure over a profile's related rows (within an optional window) compared with a number.

    ``count`` counts matching rows; ``sum`` / ``min`` / ``max`` aggregate ``column``. A profile with no
    matching rows has count 0 and sum 0, and no min or max (a min/max condition is then false).
    """

    source: Source
    where: Condition | None
    within_days: int | None
    measure: Measure
    column: str | None
    op: str
    value: int | float
    time_column: str | None = None
    path: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Consent:
    """The profile is opted in to ``channel`` (and ``topic``, when given)."""

    channel: str
    topic: str | None
    path: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class Reachable:
    """The profile can be sent ``channel`` now: valid address, consent, not quarantined."""

    channel: str
    path: str = field(default="", compare=False)


@dataclass(frozen=True, slots=True)
class InAudience:
    """The profile is a member of audience ``name`` (of one of ``groups``, when given)."""

    name: str
    groups: tuple[str, ...] = ()
    path: str = field(default="", compare=False)


Condition = Attribute | Group | Not | Related | Consent | Reachable | InAudience


@dataclass(frozen=True, slots=True)
class Limit:
    """Keep at most ``count`` members: the first by ``order_by`` (ties by profile), or a salted random pick."""

    count: int
    order_by: str | None = None
    descending: bool = False


@dataclass(frozen=True, slots=True)
class SplitGroup:
    name: str
    percent: float


@dataclass(frozen=True, slots=True)
class AudienceSpec:
    """One audience. ``salt`` seeds the random limit and the split; it defaults to the audience name."""

    name: str
    description: str = ""
    where: Condition | None = None
    union: tuple[str, ...] = ()
    intersection: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    limit: Limit | None = None
    split: tuple[SplitGroup, ...] = ()
    salt: str = ""
    owner: str = ""

    @property
    def effective_salt(self) -> str:
        return self.salt or self.name

    @property
    def groups(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.split) or (DEFAULT_GROUP,)

    def referenced_audiences(self) -> tuple[str, ...]:
        """Names of the audiences this one reads, in order of first mention."""
        names: list[str] = [*self.union, *self.intersection, *self.exclude]
        if self.where is not None:
            names += [c.name for c in walk(self.where) if isinstance(c, InAudience)]
        return tuple(dict.fromkeys(names))


def walk(condition: Condition) -> list[Condition]:
    """``condition`` and every condition nested in it, depth first."""
    out: list[Condition] = [condition]
    if isinstance(condition, Group):
        for item in condition.items:
            out += walk(item)
    elif isinstance(condition, Not):
        out += walk(condition.item)
    elif isinstance(condition, Related) and condition.where is not None:
        out += walk(condition.where)
    return out


# ---------------------------------------------------------------------------------------------- parsing


def load_spec(path: Path) -> AudienceSpec:
    """Read and parse one audience file; the file name (without ``.yml``) must equal the spec's name."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise AudienceSpecError(f"{path}: cannot read the file: {exc}") from exc
    except yaml.YAMLError as exc:
        raise AudienceSpecError(f"{path}: not valid YAML: {exc}") from exc
    try:
        spec = parse_spec(data, source=str(path))
    except AudienceSpecError as exc:
        # Errors inside a condition name its path (where.all[2].orders); the file is named here.
        if str(exc).startswith(str(path)):
            raise
        raise AudienceSpecError(f"{path}: {exc}") from exc
    if spec.name != path.stem:
        raise AudienceSpecError(f"{path}: name {spec.name!r} differs from the file name {path.stem!r}")
    return spec


def parse_spec(data: object, *, source: str = "audience") -> AudienceSpec:
    """An AudienceSpec from the mapping a YAML file holds. Raises AudienceSpecError naming the spot at fault."""
    if not isinstance(data, Mapping):
        raise AudienceSpecError(f"{source}: an audience is a mapping with at least `name`")
    known = {"name", "description", "owner", "where", "union", "intersection", "exclude", "limit", "split", "salt"}
    _no_unknown_keys(data, known, f"{source}: audience")
    name = data.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise AudienceSpecError(
            f"{source}: `name` must be lower-case letters, digits and underscores, starting with a letter "
            f"(at most 63 characters); got {name!r}"
        )
    where_raw = data.get("where")
    where = None if where_raw is None else _condition(where_raw, "where", depth=0, related=False)
    spec = AudienceSpec(
        name=name,
        description=_text(data.get("description", ""), f"{source}: description"),
        owner=_text(data.get("owner", ""), f"{source}: owner"),
        where=where,
        union=_names(data.get("union"), f"{source}: union"),
        intersection=_names(data.get("intersection"), f"{source}: intersection"),
        exclude=_names(data.get("exclude"), f"{source}: exclude"),
        limit=_limit(data.get("limit"), f"{source}: limit"),
        split=_split(data.get("split"), f"{source}: split"),
        salt=_text(_salt(data), f"{source}: salt"),
    )
    if name in spec.referenced_audiences():
        raise AudienceSpecError(f"{source}: audience {name!r} refers to itself")
    return spec


def _salt(data: Mapping[Any, Any]) -> object:
    split = data.get("split")
    if isinstance(split, Mapping) and "salt" in split:
        return split["salt"]
    return data.get("salt", "")


def _fail(path: str, message: str) -> AudienceSpecError:
    return AudienceSpecError(f"condition {path}: {message}")


# For the shared checks: a spec-level field ("<file>: limit.count") and a spot inside a condition.
_SPEC_FAIL: Fail = failing_with(AudienceSpecError)
_CONDITION_FAIL: Fail = _fail


def _no_unknown_keys(data: Mapping[Any, Any], known: set[str], where: str) -> None:
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        raise AudienceSpecError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(known))}"
        )


def _text(value: object, where: str) -> str:
    return free_text(value, where, _SPEC_FAIL)


def _names(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise AudienceSpecError(f"{where}: expected a list of audience names")
    for item in items:
        if not isinstance(item, str) or not NAME_PATTERN.match(item):
            raise AudienceSpecError(f"{where}: {item!r} is not an audience name")
    return tuple(dict.fromkeys(cast(list[str], items)))


def _limit(value: object, where: str) -> Limit | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = {"count": value}
    if not isinstance(value, Mapping):
        raise AudienceSpecError(f"{where}: expected a number or {{count, order_by, descending}}")
    _no_unknown_keys(value, {"count", "order_by", "descending"}, where)
    count = bounded_int(value.get("count"), LIMIT_COUNT, f"{where}.count", _SPEC_FAIL)
    order_by = value.get("order_by")
    if order_by is not None and not isinstance(order_by, str):
        raise AudienceSpecError(f"{where}: `order_by` must be a column name")
    descending = value.get("descending", False)
    if not isinstance(descending, bool):
        raise AudienceSpecError(f"{where}: `descending` must be true or false")
    return Limit(count=count, order_by=order_by, descending=descending)


def _split(value: object, where: str) -> tuple[SplitGroup, ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise AudienceSpecError(f"{where}: expected {{groups: [{{name, percent}}, ...], salt}}")
    _no_unknown_keys(value, {"groups", "salt"}, where)
    raw = value.get("groups")
    if isinstance(raw, Mapping):  # short form: {A: 50, B: 50}
        raw = [{"name": k, "percent": v} for k, v in raw.items()]
    if not isinstance(raw, list) or len(raw) < 2:
        raise AudienceSpecError(f"{where}: a split needs at least two groups")
    groups: list[SplitGroup] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or set(item) != {"name", "percent"}:
            raise AudienceSpecError(f"{where}: group {i + 1} must be {{name, percent}}")
        name, percent = item["name"], item["percent"]
        if not isinstance(name, str) or not NAME_PATTERN.match(name.lower()) or name != name.strip():
            raise AudienceSpecError(f"{where}: group name {name!r} must be letters, digits and underscores")
        percent = bounded(percent, PERCENT, f"{where}: group {name!r}: percent", _SPEC_FAIL)
        groups.append(SplitGroup(name=name, percent=float(percent)))
    names = [g.name for g in groups]
    if len(set(names)) != len(names):
        raise AudienceSpecError(f"{where}: group names repeat: {names}")
    total = sum(g.percent for g in groups)
    if abs(total - 100) > 1e-9:
        raise AudienceSpecError(f"{where}: group percents add up to {total:g}, not 100")
    return tuple(groups)


_STRUCTURAL = ("all", "any", "not", "consent", "reachable", "in_audience", *RELATED_SOURCES)


def _condition(raw: object, path: str, *, depth: int, related: bool) -> Condition:
    if depth > MAX_DEPTH:
        raise _fail(path, f"nested deeper than {MAX_DEPTH} levels")
    if not isinstance(raw, Mapping) or len(raw) != 1:
        keys = list(raw) if isinstance(raw, Mapping) else None
        raise _fail(
            path,
            "a condition is a mapping with exactly one key (a column, all, any, not, orders, events, …)"
            + (f"; got keys {keys}" if keys is not None else f"; got {raw!r}"),
        )
    ((key, body),) = raw.items()
    if not isinstance(key, str):
        raise _fail(path, f"{key!r} is not a column or condition name")
    here = f"{path}.{key}"
    if key in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise _fail(here, f"`{key}` needs a non-empty list of conditions")
        items = tuple(_condition(item, f"{here}[{i}]", depth=depth + 1, related=related) for i, item in enumerate(body))
        return Group(kind=cast(Literal["all", "any"], key), items=items, path=here)
    if key == "not":
        return Not(item=_condition(body, here, depth=depth + 1, related=related), path=here)
    if key in _STRUCTURAL and related:
        raise _fail(here, f"`{key}` cannot be used inside a related-data condition; use the related table's columns")
    if key == "consent":
        return _consent(body, here)
    if key == "reachable":
        channel = body if isinstance(body, str) else None
        if channel not in CHANNELS:
            raise _fail(here, f"`reachable` takes one channel of {', '.join(CHANNELS)}; got {body!r}")
        return Reachable(channel=channel, path=here)
    if key == "in_audience":
        return _in_audience(body, here)
    if key in RELATED_SOURCES:
        return _related(cast(Source, key), body, here, depth)
    return _attribute(key, body, here)


def _attribute(column: str, body: object, path: str) -> Attribute:
    if not isinstance(body, Mapping):
        body = {"eq": body}  # `country_code: FR` is `country_code: {eq: FR}`
    if len(body) != 1:
        raise _fail(path, f"give exactly one operator ({', '.join(ATTRIBUTE_OPS)}); got {list(body)}")
    ((op, value),) = body.items()
    if op not in ATTRIBUTE_OPS:
        raise _fail(path, f"unknown operator {op!r}; expected one of {', '.join(ATTRIBUTE_OPS)}")
    if op in UNARY_OPS:
        if value not in (True, None):
            raise _fail(path, f"`{op}` takes no value (write `{op}: true`)")
        return Attribute(column=column, op=op, value=None, path=path)
    return Attribute(column=column, op=op, value=_value(value, op, path), path=path)


def _value(value: object, op: str, path: str) -> Value:
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise _fail(path, f"`{op}` needs a non-empty list of values")
        return tuple(_scalar(v, path) for v in value)
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise _fail(path, "`between` needs a list of two values [low, high]")
        low, high = (_scalar(v, path) for v in value)
        return (low, high)
    if op in ("in_last_days", "not_in_last_days", "birthday_within_days"):
        return _days(value, path, op)
    return _scalar(value, path)


def _scalar(value: object, path: str) -> Scalar:
    if value is None:
        raise _fail(path, "a value cannot be null; use is_empty / is_not_empty")
    if isinstance(value, str):
        if any(ch in value for ch in _FORBIDDEN_CHARS):
            raise _fail(path, "a value cannot contain a NUL character")
        return free_text(value, path, _CONDITION_FAIL)
    if isinstance(value, bool | dt.date):
        return value
    if isinstance(value, int | float):
        if isinstance(value, float) and value != value:  # NaN
            raise _fail(path, "a value cannot be NaN")
        return bounded(value, MAGNITUDE, path, _CONDITION_FAIL)
    raise _fail(path, f"a value must be text, a number, true/false or a date; got {value!r}")


def _days(value: object, path: str, what: str) -> int:
    return bounded_int(value, DAYS, f"{path}.{what}", _CONDITION_FAIL)


def _consent(body: object, path: str) -> Consent:
    if isinstance(body, str):
        body = {"channel": body}
    if not isinstance(body, Mapping):
        raise _fail(path, "`consent` takes a channel or {channel, topic}")
    _known(body, {"channel", "topic"}, path)
    channel, topic = body.get("channel"), body.get("topic")
    if channel not in CHANNELS:
        raise _fail(path, f"`consent` channel must be one of {', '.join(CHANNELS)}; got {channel!r}")
    if topic is not None and (not isinstance(topic, str) or not topic or "\x00" in topic):
        raise _fail(path, f"`consent` topic must be text; got {topic!r}")
    if topic is not None:
        free_text(topic, f"{path}.topic", _CONDITION_FAIL)
    return Consent(channel=cast(str, channel), topic=topic, path=path)


def _in_audience(body: object, path: str) -> InAudience:
    if isinstance(body, str):
        body = {"name": body}
    if not isinstance(body, Mapping):
        raise _fail(path, "`in_audience` takes an audience name or {name, groups}")
    _known(body, {"name", "groups"}, path)
    name = body.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise _fail(path, f"{name!r} is not an audience name")
    groups = body.get("groups") or []
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise _fail(path, "`groups` must be a list of group names")
    for i, g in enumerate(groups):
        free_text(g, f"{path}.groups[{i}]", _CONDITION_FAIL)
    return InAudience(name=name, groups=tuple(groups), path=path)


def _known(body: Mapping[Any, Any], known: set[str], path: str) -> None:
    unknown = [str(k) for k in body if k not in known]
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(sorted(unknown))}; expected {', '.join(sorted(known))}")


# Shorthands of related conditions, turned into canonical `where` conditions.
_MESSAGE_ACTION_FLAGS = {
    "received": None,
    "delivered": "is_delivered",
    "opened": "is_opened",
    "clicked": "is_clicked",
    "bounced": "is_bounced",
    "unsubscribed": "is_unsubscribed",
}
_MESSAGE_ACTION_TIMES = {"opened": "first_opened_at", "clicked": "first_clicked_at"}


def _related(source: Source, body: object, path: str, depth: int) -> Related:
    if not isinstance(body, Mapping):
        raise _fail(path, f"`{source}` takes a mapping such as {{within_days: 30, count: {{gte: 1}}}}")
    shorthand = {"events": {"type", "at_least", "did_not"}, "messages": {"action", "campaign", "channel"}}.get(
        source, set()
    )
    _known(body, {"where", "within_days", "time_column", *MEASURES, *shorthand}, path)
    extra: list[Condition] = []
    measure: Measure = "count"
    column: str | None = None
    op, value = "gte", cast(int | float, 1)
    measures = [m for m in MEASURES if m in body]
    if len(measures) > 1:
        raise _fail(path, f"give one measure, not {', '.join(measures)}")
    time_column = body.get("time_column")
    if time_column is not None and not isinstance(time_column, str):
        raise _fail(path, "`time_column` must be a column name")
    if source == "events":
        if "type" in body:
            extra.append(Attribute("event_type", "eq", _scalar(body["type"], path), path=f"{path}.type"))
        if "at_least" in body:
            if measures:
                raise _fail(path, "give `at_least` or a measure, not both")
            value = bounded_int(body["at_least"], TIMES, f"{path}.at_least", _CONDITION_FAIL)
        if body.get("did_not"):
            if measures:
                raise _fail(path, "give `did_not` or a measure, not both")
            op = "lt"  # did not do it at least N times (N defaults to once)
    if source == "messages":
        action = body.get("action", "received")
        if action not in MESSAGE_ACTIONS:
            raise _fail(path, f"`action` must be one of {', '.join(MESSAGE_ACTIONS)}; got {action!r}")
        flag = _MESSAGE_ACTION_FLAGS[action]
        if flag:
            extra.append(Attribute(flag, "eq", True, path=f"{path}.action"))
        time_column = time_column or _MESSAGE_ACTION_TIMES.get(action)
        if "campaign" in body:
            extra.append(Attribute("campaign_id", "eq", _scalar(body["campaign"], path), path=f"{path}.campaign"))
        if "channel" in body:
            channel = body["channel"]
            if channel not in CHANNELS:
                raise _fail(path, f"`channel` must be one of {', '.join(CHANNELS)}; got {channel!r}")
            extra.append(Attribute("channel", "eq", channel, path=f"{path}.channel"))
    if measures:
        measure = cast(Measure, measures[0])
        spec = body[measure]
        here = f"{path}.{measure}"
        if not isinstance(spec, Mapping):
            raise _fail(here, f"`{measure}` takes {{op: number}}" + ("" if measure == "count" else " and `column`"))
        spec = dict(spec)
        column = spec.pop("column", None)
        if measure == "count" and column is not None:
            raise _fail(here, "`count` counts rows and takes no column")
        if measure != "count" and not isinstance(column, str):
            raise _fail(here, f"`{measure}` needs `column`: the column to aggregate")
        if len(spec) != 1 or next(iter(spec)) not in COMPARISONS:
            raise _fail(here, f"give one comparison of {', '.join(COMPARISONS)}; got {list(spec)}")
        ((op, raw_value),) = spec.items()
        value = bounded(raw_value, MAGNITUDE, f"{here}.{op}", _CONDITION_FAIL)
    within = body.get("within_days")
    if within is not None:
        within = _days(within, path, "within_days")
    where_raw = body.get("where")
    where = None if where_raw is None else _condition(where_raw, f"{path}.where", depth=depth + 1, related=True)
    if extra:
        items = (*extra, where) if where is not None else tuple(extra)
        where = items[0] if len(items) == 1 else Group("all", tuple(items), path=f"{path}.where")
    return Related(
        source=source,
        where=where,
        within_days=within,
        measure=measure,
        column=column,
        op=op,
        value=value,
        time_column=time_column,
        path=path,
    )


# ---------------------------------------------------------------------------------------------- writing


def spec_to_dict(spec: AudienceSpec) -> dict[str, Any]:
    """The canonical mapping of ``spec``: parsing it gives an equal spec. Shorthands are written out."""
    out: dict[str, Any] = {"name": spec.name}
    if spec.description:
        out["description"] = spec.description
    if spec.owner:
        out["owner"] = spec.owner
    if spec.where is not None:
        out["where"] = condition_to_dict(spec.where)
    for key in ("union", "intersection", "exclude"):
        names = getattr(spec, key)
        if names:
            out[key] = list(names)
    if spec.limit is not None:
        limit: dict[str, Any] = {"count": spec.limit.count}
        if spec.limit.order_by:
            limit["order_by"] = spec.limit.order_by
            limit["descending"] = spec.limit.descending
        out["limit"] = limit
    if spec.split:
        out["split"] = {"groups": [{"name": g.name, "percent": _number(g.percent)} for g in spec.split]}
    if spec.salt:
        out["salt"] = spec.salt
    return out


def condition_to_dict(c: Condition) -> dict[str, Any]:
    if isinstance(c, Group):
        return {c.kind: [condition_to_dict(i) for i in c.items]}
    if isinstance(c, Not):
        return {"not": condition_to_dict(c.item)}
    if isinstance(c, Attribute):
        value: Any = True if c.op in UNARY_OPS else list(c.value) if isinstance(c.value, tuple) else c.value
        return {c.column: {c.op: value}}
    if isinstance(c, Consent):
        return {"consent": {"channel": c.channel, **({"topic": c.topic} if c.topic else {})}}
    if isinstance(c, Reachable):
        return {"reachable": c.channel}
    if isinstance(c, InAudience):
        return {"in_audience": {"name": c.name, **({"groups": list(c.groups)} if c.groups else {})}}
    body: dict[str, Any] = {}
    if c.where is not None:
        body["where"] = condition_to_dict(c.where)
    if c.within_days is not None:
        body["within_days"] = c.within_days
    if c.time_column:
        body["time_column"] = c.time_column
    measure: dict[str, Any] = {c.op: c.value}
    if c.column:
        measure = {"column": c.column, **measure}
    body[c.measure] = measure
    return {c.source: body}


def dump_spec(spec: AudienceSpec) -> str:
    """The YAML text of ``spec`` in canonical form."""
    return yaml_text(spec_to_dict(spec), width=100)


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def as_sequence(value: Value) -> Sequence[Scalar]:
    """The values of an ``in`` / ``between`` condition as a sequence (a lone value becomes one item)."""
    if value is None:
        return ()
    return value if isinstance(value, tuple) else (value,)
