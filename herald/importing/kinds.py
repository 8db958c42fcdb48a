"""What can be imported, and which raw table each kind lands in."""

from __future__ import annotations

from typing import Literal, get_args

from herald.raw_schema import CONSENT_EVENTS, CRM_CONTACTS, SHOP_ORDER_LINES, SHOP_ORDERS, SHOP_PAYMENTS, RawTable

Kind = Literal["profiles", "consents", "orders", "order_lines", "payments"]
DateOrder = Literal["auto", "dmy", "mdy", "ymd"]
UnknownColumns = Literal["error", "ignore", "attributes"]

KINDS: tuple[Kind, ...] = get_args(Kind)
DATE_ORDERS: tuple[DateOrder, ...] = get_args(DateOrder)
UNKNOWN_COLUMN_MODES: tuple[UnknownColumns, ...] = get_args(UnknownColumns)

KIND_TABLES: dict[Kind, RawTable] = {
    "profiles": CRM_CONTACTS,
    "consents": CONSENT_EVENTS,
    "orders": SHOP_ORDERS,
    "order_lines": SHOP_ORDER_LINES,
    "payments": SHOP_PAYMENTS,
}


def table_for(kind: str) -> RawTable:
    """The raw table a kind lands in; raises ``ValueError`` naming the kinds for anything else."""
    for k, t in KIND_TABLES.items():
        if k == kind:
            return t
    raise ValueError(f"unknown import kind {kind!r}; expected one of: {', '.join(KINDS)}")
