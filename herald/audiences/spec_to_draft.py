"""A saved spec opened as a draft (``herald.audiences.drafts``) that composes back to exactly that spec.

Each condition becomes the row that edits it when that row composes to the same condition, printed the same
way; any other condition (deeper nesting, a filter the rows have no field for, a value a browser's input cannot
hold) becomes a YAML row. So opening and saving a spec never changes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from herald.audiences import drafts, spec
from herald.audiences.compiler import OPERATOR_KINDS
from herald.audiences.draft_to_spec import Composed, row_mapping
from herald.errors import AudienceSpecError
from herald.safe_text import yaml_text


def draft_from_spec(audience: spec.AudienceSpec, fields: drafts.Fields) -> drafts.Draft:
    """A draft that composes to ``audience`` exactly; conditions the rows cannot reproduce become YAML rows."""
    draft = drafts.Draft(
        origin=audience.name,
        name=audience.name,
        description=audience.description,
        owner=audience.owner,
        union=list(audience.union),
        intersection=list(audience.intersection),
        exclude=list(audience.exclude),
        salt=audience.salt,
    )
    if audience.limit is not None:
        draft.limit_on = True
        draft.limit_count = audience.limit.count
        draft.limit_order_by = audience.limit.order_by or ""
        draft.limit_descending = audience.limit.descending if audience.limit.order_by else True
    if audience.split:
        draft.split_on = True
        draft.split = [drafts.SplitRow(g.name, g.percent) for g in audience.split]
    where = audience.where
    if isinstance(where, spec.Group):
        draft.match = where.kind
        draft.wrap_single = len(where.items) == 1
        draft.rows = [_row_from(c, draft, fields, top=True) for c in where.items]
    elif where is not None:
        draft.rows = [_row_from(where, draft, fields, top=True)]
    return draft


def condition_yaml(c: spec.Condition) -> str:
    """The YAML of one condition, as a YAML row shows it."""
    return yaml_text(spec.condition_to_dict(c), width=100)


def _row_from(c: spec.Condition, draft: drafts.Draft, fields: drafts.Fields, *, top: bool) -> drafts.Row:
    row_id = draft.new_id()
    negate, inner = (True, c.item) if isinstance(c, spec.Not) and not isinstance(c.item, spec.Not) else (False, c)
    row: drafts.Row | None = None
    if isinstance(inner, spec.Group) and top:
        children: list[drafts.LeafRow] = []
        for item in inner.items:
            child = _row_from(item, draft, fields, top=False)
            assert not isinstance(child, drafts.GroupRow)
            children.append(child)
        row = drafts.GroupRow(row_id, match=inner.kind, children=children)
    elif not isinstance(inner, spec.Group | spec.Not):
        row = _leaf_from(inner, row_id, fields)
    if row is not None:
        row.negate = negate
        if _reproduces(row, c, fields):
            return row
    return drafts.YamlRow(row_id, text=condition_yaml(c))


def _reproduces(row: drafts.Row, c: spec.Condition, fields: drafts.Fields) -> bool:
    body = row_mapping(row, fields, "where", Composed.empty())
    if body is None:
        return False
    try:
        parsed = spec.parse_spec({"name": drafts.STAND_IN_NAME, "where": body}).where
    except AudienceSpecError:
        return False
    # Equal values can still print differently (100 and 100.0): the YAML must match too, or saving would
    # change the spec's version for nothing.
    return parsed is not None and parsed == c and condition_yaml(parsed) == condition_yaml(c)


def _leaf_from(c: spec.Condition, row_id: str, fields: drafts.Fields) -> drafts.LeafRow | None:
    if isinstance(c, spec.Attribute):
        return _attribute_from(c, row_id, fields)
    if isinstance(c, spec.Consent):
        return drafts.ConsentRow(row_id, channel=c.channel, topic=c.topic or "")
    if isinstance(c, spec.Reachable):
        return drafts.ReachableRow(row_id, channel=c.channel)
    if isinstance(c, spec.InAudience):
        return drafts.InAudienceRow(row_id, audience=c.name, groups=list(c.groups))
    if isinstance(c, spec.Related):
        return _related_from(c, row_id)
    return None


def _attribute_from(c: spec.Attribute, row_id: str, fields: drafts.Fields) -> drafts.AttributeRow | None:
    kind = fields.kinds.get(c.column)
    if kind is None or kind not in OPERATOR_KINDS[c.op]:
        return None  # kept as YAML, where the error about it shows
    row = drafts.AttributeRow(row_id, column=c.column, op=c.op)
    widget = drafts.widget_of(row, fields)
    value: Any = c.value
    if widget == "lines" and isinstance(value, tuple):
        value = drafts.format_lines(value)
    elif widget == "choices" and isinstance(value, tuple):
        value = list(value)
    elif widget == "none":
        value = None
    if widget == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    elif widget == "float_range" and isinstance(value, tuple):
        value = tuple(float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value)
    row.values[widget] = value
    if not _fits(widget, value):
        return None
    return row


def _fits(widget: drafts.ValueWidget, value: Any) -> bool:
    """Whether the widget can hold ``value`` (a loaded spec may hold anything YAML can, and a browser's
    number and date inputs refuse what they cannot represent)."""

    def whole(v: Any) -> bool:
        return type(v) is int and abs(v) <= drafts.MAX_SAFE_INTEGER

    def number(v: Any) -> bool:
        return type(v) in (int, float) and abs(v) <= drafts.MAX_SAFE_INTEGER

    def day(v: Any) -> bool:
        return type(v) is dt.date and drafts.DATE_MIN <= v <= drafts.DATE_MAX

    def pair(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
        return lambda v: isinstance(v, tuple) and len(v) == 2 and all(test(x) for x in v)

    checks: dict[str, Callable[[Any], bool]] = {
        "none": lambda v: v is None,
        "text": lambda v: isinstance(v, str),
        "choice": lambda v: isinstance(v, str),
        "choices": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "lines": lambda v: isinstance(v, str),
        "int": whole,
        "float": lambda v: type(v) is float and number(v),
        "int_range": pair(whole),
        "float_range": pair(number),
        "date": day,
        "date_range": pair(day),
        "days": whole,
        "bool": lambda v: isinstance(v, bool),
    }
    return checks[widget](value)


def _related_from(c: spec.Related, row_id: str) -> drafts.LeafRow | None:
    if c.source == "orders":
        completed = c.where == spec.Attribute("is_completed", "eq", True)
        if c.where is not None and not completed:
            return None
        orders = drafts.OrdersRow(row_id, measure=c.measure, compare=c.op, amount=c.value, within_days=c.within_days)
        orders.column = c.column or orders.column  # a count has no column: keep the default for a switch to sum
        orders.completed_only = completed
        return orders
    if c.measure != "count" or c.op not in ("gte", "lt") or not isinstance(c.value, int):
        return None
    if c.source == "events":
        return _events_from(c, row_id, c.value)
    if c.source == "messages":
        return _messages_from(c, row_id)
    return None


def _events_from(c: spec.Related, row_id: str, times: int) -> drafts.EventsRow | None:
    if c.where is not None and not (
        isinstance(c.where, spec.Attribute) and c.where.column == "event_type" and c.where.op == "eq"
    ):
        return None
    event_type = c.where.value if isinstance(c.where, spec.Attribute) else ""
    if not isinstance(event_type, str):
        return None
    did_not = c.op == "lt"
    return drafts.EventsRow(row_id, event_type=event_type, did_not=did_not, at_least=times, within_days=c.within_days)


def _messages_from(c: spec.Related, row_id: str) -> drafts.MessagesRow | None:
    items = () if c.where is None else c.where.items if isinstance(c.where, spec.Group) else (c.where,)
    row = drafts.MessagesRow(row_id, did_not=c.op == "lt", at_least=int(c.value), within_days=c.within_days)
    flags = {flag: action for action, flag in drafts.ACTION_FLAGS.items()}
    for item in items:
        if not isinstance(item, spec.Attribute) or item.op != "eq":
            return None
        if item.column in flags and item.value is True:
            row.action = flags[item.column]
        elif item.column == "campaign_id" and isinstance(item.value, str):
            row.campaign = item.value
        elif item.column == "channel" and isinstance(item.value, str):
            row.channel = item.value
        else:
            return None
    return row  # the round-trip check rejects any order or time column the shorthand would not give
