"""A draft (``herald.audiences.drafts``) turned into the spec it describes, and errors placed at their rows.

``compose`` turns the draft into the mapping ``parse_spec`` reads, leaving out the rows not filled in yet (so the
rest still counts) and recording where each row lands (``where.all[2]``); ``locate`` then places an
``AudienceSpecError`` that names a condition next to the row it came from, or at the part of the form its key
names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from herald.audiences import drafts
from herald.audiences.spec import NAME_PATTERN, AudienceSpec, parse_spec
from herald.errors import AudienceSpecError
from herald.safe_text import yaml_text

# The part of the form each top-level key of a spec is edited in.
_SECTIONS = {
    "name": "name",
    "description": "name",
    "owner": "name",
    "limit": "limit",
    "split": "split",
    "salt": "split",
    "union": "sets",
    "intersection": "sets",
    "exclude": "sets",
}
_CONDITION_PATH = re.compile(r"^condition (\S+): ")
# "audience: `name` must be …", "audience: split: …" (parse errors), "limit.order_by: …" (compile errors).
_SPEC_KEY = re.compile(r"^(?:audience: `?)?(\w+)")


@dataclass(frozen=True, slots=True)
class Issue:
    """Why a row is left out of the spec: not filled in yet (``incomplete``) or unreadable (``error``)."""

    message: str
    severity: Literal["incomplete", "error"] = "incomplete"


@dataclass(frozen=True, slots=True)
class Problem:
    """An error to show: next to ``row`` (a condition row id) or ``section`` ("name", "limit", "split",
    "sets"), or above the form when both are None."""

    message: str
    row: str | None = None
    section: str | None = None


@dataclass(frozen=True, slots=True)
class Composed:
    """The mapping ``parse_spec`` reads, where each included row landed, and the rows left out."""

    data: dict[str, Any]
    paths: dict[str, str]
    left_out: dict[str, Issue]

    @classmethod
    def empty(cls) -> Composed:
        return cls(data={}, paths={}, left_out={})


class _Missing(Exception):
    """A row is not complete enough to be part of the spec."""


def _need(value: Any, message: str) -> Any:
    if value is None or value == "" or value == [] or value == ():
        raise _Missing(message)
    return value


def whole(x: int | float) -> int | float:
    """Whole floats as ints: a number input gives 100.0 for 100 and the spec should say 100."""
    return int(x) if isinstance(x, float) and x.is_integer() else x


def _attribute_value(row: drafts.AttributeRow, fields: drafts.Fields) -> Any:
    widget = drafts.widget_of(row, fields)
    raw = row.values.get(widget)
    kind = fields.kinds[row.column]
    if widget == "none":
        return True
    if widget == "days":
        return _need(raw, "Enter a number of days.")
    if widget == "choices":
        return list(_need(raw, "Pick at least one value."))
    if widget == "lines":
        return _need(drafts.parse_lines(raw or "", kind), "Enter at least one value, one per line.")
    if widget in ("int_range", "float_range", "date_range"):
        low, high = raw if isinstance(raw, tuple | list) and len(raw) == 2 else (None, None)
        if low is None or high is None:
            raise _Missing("Enter both ends of the range.")
        return [whole(low), whole(high)] if widget != "date_range" else [low, high]
    if widget == "choice":
        return _need(raw, "Pick a value.")
    if widget == "text":
        return _need(raw, "Enter a text.")
    if widget == "bool":
        return True if raw is None else bool(raw)
    value = _need(raw, "Enter a value." if widget != "date" else "Pick a date.")
    return whole(value) if widget in ("int", "float") else value


def _within(row: drafts.OrdersRow | drafts.EventsRow | drafts.MessagesRow, body: dict[str, Any]) -> dict[str, Any]:
    if row.within_days is not None:
        body["within_days"] = row.within_days
    return body


def _leaf_dict(row: drafts.LeafRow, fields: drafts.Fields) -> dict[str, Any]:
    """The spec mapping of one leaf row (without its `not`); _Missing when incomplete."""
    if isinstance(row, drafts.AttributeRow):
        if row.column not in fields.kinds:
            raise _Missing(f"The published warehouse has no column {row.column!r} any more.")
        return {row.column: {row.op: _attribute_value(row, fields)}}
    if isinstance(row, drafts.OrdersRow):
        body: dict[str, Any] = {"where": {"is_completed": {"eq": True}}} if row.completed_only else {}
        measure: dict[str, Any] = {row.compare: whole(_need(row.amount, "Enter a number to compare with."))}
        if row.measure != "count":
            measure = {"column": row.column, **measure}
        return {"orders": {**_within(row, body), row.measure: measure}}
    if isinstance(row, drafts.EventsRow):
        body = {"type": row.event_type} if row.event_type else {}
        body["at_least"] = _need(row.at_least, "Enter how many times.")
        if row.did_not:
            body["did_not"] = True
        return {"events": _within(row, body)}
    if isinstance(row, drafts.MessagesRow):
        body = {"action": row.action}
        if row.campaign:
            body["campaign"] = row.campaign
        if row.channel:
            body["channel"] = row.channel
        count = {"lt" if row.did_not else "gte": _need(row.at_least, "Enter how many times.")}
        return {"messages": {**_within(row, body), "count": count}}
    if isinstance(row, drafts.ConsentRow):
        return {"consent": {"channel": row.channel, **({"topic": row.topic} if row.topic else {})}}
    if isinstance(row, drafts.ReachableRow):
        return {"reachable": row.channel}
    if isinstance(row, drafts.InAudienceRow):
        name = _need(row.audience, "Pick a saved audience.")
        return {"in_audience": {"name": name, **({"groups": list(row.groups)} if row.groups else {})}}
    return _yaml_condition(row)


def _yaml_condition(row: drafts.YamlRow) -> dict[str, Any]:
    text = row.text.strip()
    if not text:
        raise _Missing("Write one condition in YAML, e.g. `city: {eq: Paris}`.")
    try:
        parsed: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _Missing(f"Not valid YAML: {exc}") from None
    return {"": parsed} if not isinstance(parsed, dict) else parsed  # a non-mapping: parse_spec says why


def row_mapping(row: drafts.Row, fields: drafts.Fields, base: str, out: Composed) -> dict[str, Any] | None:
    """The spec mapping of ``row`` placed at path ``base``, or None when it is left out; records paths and
    left-out rows in ``out``."""
    inner_base = f"{base}.not" if row.negate else base
    if isinstance(row, drafts.GroupRow):
        items: list[dict[str, Any]] = []
        for child in row.children:
            child_dict = row_mapping(child, fields, f"{inner_base}.{row.match}[{len(items)}]", out)
            if child_dict is not None:
                items.append(child_dict)
        if not items:
            out.left_out[row.id] = Issue("Add a condition to this group." if not row.children else "")
            return None
        body: dict[str, Any] = {row.match: items}
    else:
        try:
            body = _leaf_dict(row, fields)
        except _Missing as missing:
            severity: Literal["incomplete", "error"] = (
                "error" if isinstance(row, drafts.YamlRow) and row.text else "incomplete"
            )
            out.left_out[row.id] = Issue(str(missing), severity)
            return None
    out.paths[row.id] = base
    return {"not": body} if row.negate else body


def compose(draft: drafts.Draft, fields: drafts.Fields) -> Composed:
    """The spec mapping of ``draft``; rows not filled in yet are left out (and listed) so the rest still counts."""
    out = Composed.empty()
    name = draft.name.strip()
    out.data["name"] = name if NAME_PATTERN.match(name) else drafts.STAND_IN_NAME
    for key in ("description", "owner"):
        text = getattr(draft, key)
        if text.strip():
            out.data[key] = text  # as typed: trimming would change a saved spec that was only opened
    where = _where(draft, fields, out)
    if where is not None:
        out.data["where"] = where
    for key in ("union", "intersection", "exclude"):
        names = getattr(draft, key)
        if names:
            out.data[key] = list(names)
    if draft.limit_on and draft.limit_count is not None:
        limit: dict[str, Any] = {"count": int(draft.limit_count)}
        if draft.limit_order_by:
            limit["order_by"] = draft.limit_order_by
            limit["descending"] = draft.limit_descending
        out.data["limit"] = limit
    if draft.split_on:
        out.data["split"] = {
            "groups": [{"name": g.name, "percent": whole(g.percent or 0.0)} for g in draft.split],
        }
    if draft.salt.strip():
        out.data["salt"] = draft.salt
    return out


def _where(draft: drafts.Draft, fields: drafts.Fields, out: Composed) -> dict[str, Any] | None:
    # Compose once to learn which rows are complete, then place them: indices count only included rows.
    trial = Composed.empty()
    included = [r for r in draft.rows if row_mapping(r, fields, "where", trial) is not None]
    bare = len(included) == 1 and not draft.wrap_single
    items: list[dict[str, Any]] = []
    for r in draft.rows:
        base = "where" if bare else f"where.{draft.match}[{len(items)}]"
        item = row_mapping(r, fields, base, out)
        if item is not None:
            items.append(item)
    if not items:
        return None
    return items[0] if bare else {draft.match: items}


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be saved, or None."""
    name = name.strip()
    if not name:
        return "Give the audience a name to save it."
    if not NAME_PATTERN.match(name):
        return "A name is lower-case letters, digits and underscores, starting with a letter (at most 63)."
    return None


def locate(message: str, paths: Mapping[str, str]) -> Problem:
    """Where the AudienceSpecError ``message`` belongs: the row whose path is the longest prefix of the path
    it names, else the form section its key names, else the form as a whole."""
    found = _CONDITION_PATH.match(message)
    if found:
        path = found.group(1)
        best: tuple[int, str] | None = None
        for row_id, base in paths.items():
            inside = path == base or path.startswith((f"{base}.", f"{base}["))
            if inside and (best is None or len(base) > best[0]):
                best = (len(base), row_id)
        if best is not None:
            return Problem(message, row=best[1])
        head = re.split(r"[.\[]", path, maxsplit=1)[0]
        return Problem(message, section=_SECTIONS.get(head))
    key = _SPEC_KEY.match(message)
    return Problem(message, section=_SECTIONS.get(key.group(1)) if key else None)


def build_spec(composed: Composed) -> AudienceSpec | Problem:
    """The spec of a composed draft, or the problem that stops it, placed by ``locate``."""
    try:
        return parse_spec(composed.data)
    except AudienceSpecError as exc:
        return locate(str(exc), composed.paths)


def yaml_of(mapping: Mapping[str, Any]) -> str:
    """YAML of a spec mapping that does not parse yet, to show what the form says."""
    return yaml_text(dict(mapping), width=100)
