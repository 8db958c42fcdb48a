"""Payments: a shop's payment export imports on its own, and orders without a total take it from their payments.

Payment rows are transactions: captured money is paid, a refunded row is money given back (with a positive
amount), other statuses move none. The orders mart adds them up per order (paid_amount, refunded_amount) and, when
the shop's order export carries no total, uses captured minus refunded as the order's total.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from herald.build import build
from herald.domains import PAYMENT_STATUS
from herald.importing import MissingColumnsError, import_file
from herald.project import Project
from herald.warehouse import connect
from tests.importing.helpers import latest, rejects_by_line, write_text

_STATUSES = ", ".join(PAYMENT_STATUS.values)

# A provider's export, with its own header names and spellings, and the mistakes such files have.
_PAYMENTS = (
    "Transaction ID,Order,Payment status,Payment method,Currency,Payment amount,Paid at\n"
    "t1,w1,Settled,Visa,€,60.00,2026-01-02 10:05:00\n"
    "t2,w1,Refund,Visa,eur,15,2026-01-09T10:00:00Z\n"
    "t3,w1,DECLINED,card,EUR,60,2026-01-02 10:00:00\n"
    "t4,w2,lost,card,EUR,10,2026-01-02 10:00:00\n"
    "t5,w2,captured,card,EUR,-5,2026-01-02 10:00:00\n"
    "t6,w2,captured,card,XYZ,5,2026-01-02 10:00:00\n"
    "t7,w2,captured,card,EUR,5,\n"
    ",w2,captured,card,EUR,5,2026-01-02 10:00:00\n"
    "t8,w2,captured,card,EUR,abc,2026-01-02 10:00:00\n"
    "t9,,captured,card,EUR,5,2026-01-02 10:00:00\n"
    "t10,w2,authorised,,,7.5,2026-01-02 10:00:00\n"
)


def test_a_payments_file_maps_its_headers_and_spellings_and_rejects_bad_rows(project: Project, tmp_path: Path) -> None:
    report = import_file(project, "payments", write_text(tmp_path / "payments.csv", _PAYMENTS))

    assert (report.table, report.rows_read, report.rows_inserted, report.rows_rejected) == ("shop_payments", 11, 4, 7)
    assert {(m.source, m.column, m.method) for m in report.matches} == {
        ("Transaction ID", "payment_id", "synonym"),
        ("Order", "order_id", "synonym"),
        ("Payment status", "status", "synonym"),
        ("Payment method", "method", "synonym"),
        ("Currency", "currency", "exact"),
        ("Payment amount", "amount", "synonym"),
        ("Paid at", "processed_at", "synonym"),
    }
    assert report.rejects_path is not None
    assert rejects_by_line(report.rejects_path) == {
        5: f'status: "lost" is not a payment status ({_STATUSES})',
        6: 'amount: "-5" is below the minimum 0 (amount)',
        7: 'currency: "XYZ" is not an ISO 4217 currency code (e.g. EUR)',
        8: "processed_at: missing (required)",
        9: "payment_id: missing (required)",
        10: 'amount: "abc" is not a number',
        11: "order_id: missing (required)",
    }
    rows = latest(project, "shop_payments", "payment_id")
    assert {k: (r["order_id"], r["status"], r["method"], r["currency"], r["amount"]) for k, r in rows.items()} == {
        "t1": ("w1", "captured", "Visa", "EUR", 60.0),
        "t2": ("w1", "refunded", "Visa", "EUR", 15.0),
        "t3": ("w1", "failed", "card", "EUR", 60.0),
        "t10": ("w2", "authorized", None, None, 7.5),
    }
    assert str(rows["t2"]["processed_at"]) == "2026-01-09 10:00:00"


def test_payment_headers_do_not_leak_into_orders(project: Project, tmp_path: Path) -> None:
    """ "Payment status" names a payment's status only: in an orders file it is not the order's status."""
    orders = "order_id,external_key,ordered_at,Payment status\no1,c1,2026-01-02 10:00:00,paid\n"
    report = import_file(project, "orders", write_text(tmp_path / "o.csv", orders), unknown_columns="ignore")
    assert report.unmatched == ("Payment status",)
    assert latest(project, "shop_orders", "order_id")["o1"]["status"] is None


def test_a_file_without_statuses_needs_a_default(project: Project, tmp_path: Path) -> None:
    """A status is what makes a payment count: a file without one is refused, unless a mapping gives it."""
    source = write_text(tmp_path / "p.csv", "id,order_id,amount,date\np1,o1,10,2026-01-02\n")
    with pytest.raises(MissingColumnsError, match="no column for status"):
        import_file(project, "payments", source)
    mapping = write_text(tmp_path / "m.yml", "defaults:\n  status: Paid\n")
    report = import_file(project, "payments", source, mapping_path=mapping)
    assert report.rows_inserted == 1
    assert latest(project, "shop_payments", "payment_id")["p1"]["status"] == "captured"


def test_orders_without_a_total_take_it_from_their_payments(scratch_project: Project, tmp_path: Path) -> None:
    """One real dbt build on DuckDB over the demo plus imported orders without totals and their payments."""
    project = scratch_project
    orders = (
        "order_id,external_key,status,currency,total_amount,ordered_at\n"
        "w1,c1,completed,EUR,,2026-01-02 09:59:00\n"  # no total: captured 60 - refunded 15
        "w2,c1,completed,,,2026-01-02 09:59:00\n"  # no total, no currency: both from the payments
        "w3,c1,completed,EUR,99,2026-01-02 09:59:00\n"  # the shop's own total wins
        "w4,c1,cancelled,EUR,,2026-01-02 09:59:00\n"  # payments that moved no money: no total
        "w5,c1,completed,EUR,,2026-01-02 09:59:00\n"  # paid in another currency: not added
    )
    assert import_file(project, "orders", write_text(tmp_path / "orders.csv", orders)).rows_rejected == 0
    payments = (
        "payment_id,order_id,status,currency,amount,processed_at\n"
        "w1-a,w1,failed,EUR,60,2026-01-02 10:00:00\n"
        "w1-b,w1,captured,EUR,60,2026-01-02 10:01:00\n"
        "w1-c,w1,refunded,EUR,15,2026-01-09 10:00:00\n"
        "w2-a,w2,captured,GBP,20,2026-01-02 10:01:00\n"
        "w3-a,w3,captured,EUR,99,2026-01-02 10:01:00\n"
        "w4-a,w4,authorized,EUR,30,2026-01-02 10:01:00\n"
        "w4-b,w4,voided,EUR,30,2026-01-03 10:01:00\n"
        "w5-a,w5,captured,USD,12,2026-01-02 10:01:00\n"
        "w9-a,w9,captured,EUR,5,2026-01-02 10:01:00\n"  # its order has not landed: waits for it
    )
    assert import_file(project, "payments", write_text(tmp_path / "payments.csv", payments)).rows_rejected == 0

    build(project, quiet=True)  # raises BuildError when any model or test fails

    with connect(project) as con:
        got = con.execute(
            "select order_id, currency, total_amount, total_amount_source, payment_count, paid_amount, "
            "refunded_amount, cast(paid_at as varchar), cast(refunded_at as varchar) "
            "from orders where order_id like 'w%' order by order_id"
        ).fetchall()
        demo = con.execute(
            "select count(*), count(*) filter (where paid_amount > 0), count(*) filter (where refunded_amount > 0), "
            "count(*) filter (where total_amount_source = 'order') from orders where order_id like 'O%'"
        ).fetchone()
    assert got == [
        ("w1", "EUR", 45.0, "payments", 3, 60.0, 15.0, "2026-01-02 10:01:00", "2026-01-09 10:00:00"),
        ("w2", "GBP", 20.0, "payments", 1, 20.0, 0.0, "2026-01-02 10:01:00", None),
        ("w3", "EUR", 99.0, "order", 1, 99.0, 0.0, "2026-01-02 10:01:00", None),
        ("w4", "EUR", None, None, 2, 0.0, 0.0, None, None),
        ("w5", "EUR", None, None, 1, None, None, None, None),
    ]
    # The demo's payments land with it: nearly every order was paid, some were refunded.
    assert demo is not None
    orders_total, paid, refunded, own_total = demo
    assert own_total == orders_total
    assert paid > 0.9 * orders_total and 0 < refunded < 0.2 * orders_total
