"""Shop orders, order lines, behavioural app events and push devices.

Time is drawn from lookup tables built here: a year with growth, weekends, the January sales, a quiet August,
the December run-up, Black Friday and Cyber Monday, and a lift on campaign days; a day in the recipient's own
time zone, busiest in the evening.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from herald.generate._sql import float_list, int_list, inverse_cdf, str_list
from herald.generate.plan import CREATED_SKEW, CREATED_SPAN, SESSION_LENGTH, YEAR, Plan
from herald.generate.reference import (
    APP_VERSIONS,
    CAMPAIGNS,
    CATEGORIES,
    FX_FROM_EUR,
    PRODUCT_ADJECTIVES,
    SEARCH_QUERIES,
)

DAY_LUT_SIZE = 8192
HOUR_LUT_SIZE = 1024

_EVENT_HOURS = (0.6, 0.3, 0.2, 0.15, 0.15, 0.3, 0.8, 1.8, 2.8, 3.2, 3.4, 3.6,
                4.2, 4.0, 3.6, 3.5, 3.7, 4.2, 5.0, 5.8, 6.2, 5.6, 4.0, 2.0)  # fmt: skip
_ORDER_HOURS = (0.4, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.2, 2.2, 3.0, 3.4, 3.8,
                4.4, 4.2, 3.8, 3.6, 3.8, 4.4, 5.4, 6.4, 7.0, 6.2, 4.2, 1.8)  # fmt: skip
_WEEKDAY = (0.95, 0.95, 1.0, 1.0, 1.05, 1.15, 1.2)


# How often each category is browsed and bought.
_CATEGORY_WEIGHTS = {
    "apparel": 26,
    "shoes": 18,
    "beauty": 14,
    "accessories": 12,
    "home": 10,
    "electronics": 8,
    "sports": 7,
    "kids": 5,
}


@dataclass(frozen=True, slots=True)
class Product:
    """One catalogue entry; within a category, lower product ids sell better."""

    product_id: str
    name: str
    category: str
    price_eur: float


def catalogue() -> list[Product]:
    rng = random.Random("herald-catalogue")
    products: list[Product] = []
    for category, nouns, (low, high) in CATEGORIES:
        drafts = [
            (f"{adjective} {noun}", category) for noun in nouns for adjective in rng.sample(PRODUCT_ADJECTIVES, 3)
        ]
        rng.shuffle(drafts)
        for name, cat in drafts:
            price = round(round(rng.uniform(low, high)) - rng.choice((0.01, 0.05, 0.01)), 2)
            products.append(Product(f"P{len(products) + 1:04d}", name, cat, price))
    return products


def _black_friday(year: int) -> dt.date:
    first = dt.date(year, 11, 1)
    first_friday = first + dt.timedelta(days=(4 - first.weekday()) % 7)
    return first_friday + dt.timedelta(days=21)


def day_weights(plan: Plan, *, orders: bool) -> list[float]:
    """Relative activity of each of the 365 days of the window."""
    start = plan.first_day
    campaign_days = {c.send_date(plan.end_date) for c in CAMPAIGNS}
    peak = 1.0 if orders else 0.6  # purchases react more strongly to sales than browsing does
    weights = []
    for d in range(365):
        day = start + dt.timedelta(days=d)
        w = (1.0 + 0.35 * d / 365) * _WEEKDAY[day.weekday()]
        bf = _black_friday(day.year)
        if day == bf:
            w *= 1 + 2.6 * peak
        elif day in (bf + dt.timedelta(days=1), bf + dt.timedelta(days=2)):
            w *= 1 + 1.0 * peak
        elif day == bf + dt.timedelta(days=3):
            w *= 1 + 1.6 * peak  # Cyber Monday
        elif bf - dt.timedelta(days=7) <= day < bf:
            w *= 1 + 0.4 * peak
        if day.month == 12 and day.day <= 22:
            w *= 1 + 0.5 * peak
        elif day.month == 12 and 24 <= day.day <= 26:
            w *= 0.7
        elif day.month == 1 and 2 <= day.day <= 15:
            w *= 1 + 0.25 * peak
        elif day.month == 8:
            w *= 0.85
        if day in campaign_days:
            w *= 1 + 0.5 * peak
        elif day - dt.timedelta(days=1) in campaign_days:
            w *= 1 + 0.2 * peak
        weights.append(w)
    return weights


def _local_time_sql(plan: Plan, key: str, *, orders: bool) -> str:
    """Epoch seconds, read as local wall-clock time, of an activity keyed by ``key``: a weighted day and hour."""
    days = int_list(inverse_cdf(day_weights(plan, orders=orders), DAY_LUT_SIZE))
    hours = int_list(inverse_cdf(_ORDER_HOURS if orders else _EVENT_HOURS, HOUR_LUT_SIZE))
    return (
        f"({plan.start_epoch} + {days}[ri({key}, 'day', {DAY_LUT_SIZE}) + 1] * 86400"
        f" + {hours}[ri({key}, 'hour', {HOUR_LUT_SIZE}) + 1] * 3600 + ri({key}, 'second', 3600))"
    )


def _wrap_sql(plan: Plan, column: str) -> str:
    """Keep a time shifted by a time zone inside the window by moving it one day."""
    start, end = plan.start_epoch, plan.end_epoch
    return (
        f"(CASE WHEN {column} >= {end} THEN {column} - 86400 "
        f"WHEN {column} < {start} THEN {column} + 86400 ELSE {column} END)"
    )


class _Catalogue:
    """The catalogue as SQL list literals indexed by product number (1-based), grouped by category."""

    def __init__(self) -> None:
        products = catalogue()
        categories = [c for c, _, _ in CATEGORIES]
        self.size = len(products)
        self.ids = str_list([p.product_id for p in products])
        self.names = str_list([p.name for p in products])
        self.categories = str_list([p.category for p in products])
        self.prices = float_list([p.price_eur for p in products])
        self.category_names = str_list(categories)
        sizes = [sum(1 for p in products if p.category == c) for c in categories]
        self.offsets = int_list([sum(sizes[:k]) for k in range(len(sizes))])
        self.sizes = int_list(sizes)
        weights = [_CATEGORY_WEIGHTS[c] for c in categories]
        self.category_lut = int_list([k + 1 for k in inverse_cdf(weights, 100)])

    def category(self, key: str, salt: str) -> str:
        """A 1-based category number, drawn by popularity."""
        return f"{self.category_lut}[ri({key}, '{salt}', 100) + 1]"

    def product(self, category: str, key: str, salt: str) -> str:
        """A 1-based product number in ``category``: the first products of a category sell much better."""
        return (
            f"({self.offsets}[{category}] + floor({self.sizes}[{category}] * pow(u({key}, '{salt}'), 1.8))::BIGINT + 1)"
        )


def orders_sql(plan: Plan) -> str:
    """Internal table of orders (without their lines, which are recomputed from the order's hash when needed).

    Order counts are per segment (most people order rarely, loyal customers often) and shrink with a shorter
    tenure, so someone who signed up last month has a month's worth of orders.
    """
    start, end = plan.start_epoch, plan.end_epoch
    counts = "[0, 1, 2, 3 + ri(i, 'n_orders', 3), 6 + ri(i, 'n_orders', 7), 13 + ri(i, 'n_orders', 28)]"
    line_lut = int_list([x + 1 for x in inverse_cdf([45, 28, 15, 8, 4], 100)])
    return f"""
WITH counted AS (
    SELECT i, currency, utc_offset, created_e, app_platform,
        floor({counts}[seg + 1] * least(1.0, ({end} - created_e) / {YEAR}) + u(i, 'order_round'))::BIGINT AS n
    FROM p
), orders AS (
    SELECT c.* EXCLUDE (n), hash(i, k) AS ok FROM counted c, range(n) t(k)
), drawn AS (
    SELECT *, {_local_time_sql(plan, "ok", orders=True)} - utc_offset * 3600 AS raw_e FROM orders
), wrapped AS (
    SELECT *, {_wrap_sql(plan, "raw_e")} AS year_e FROM drawn
), timed AS (
    -- Someone who signed up during the year orders after signing up: the year's shape, squeezed.
    SELECT *, CASE WHEN created_e <= {start} THEN year_e
                   ELSE created_e + floor((year_e - {start}) * ({end} - created_e) / {end - start})::BIGINT END
        AS ordered_e
    FROM wrapped
)
SELECT *, sum(n_lines) OVER (ORDER BY order_no ROWS UNBOUNDED PRECEDING) - n_lines AS lines_before
FROM (
SELECT i, ok, currency, ordered_e, {line_lut}[ri(ok, 'lines', 100) + 1] AS n_lines,
    row_number() OVER (ORDER BY ordered_e, ok) AS order_no,
    CASE WHEN u(ok, 'status') < 0.06 THEN 'cancelled' WHEN u(ok, 'status') < 0.10 THEN 'refunded'
         ELSE 'completed' END AS status,
    CASE WHEN u(ok, 'channel') < 0.12 THEN 'store'
         WHEN app_platform IS NOT NULL AND u(ok, 'channel') < 0.5 THEN 'app' ELSE 'web' END AS sales_channel
FROM timed
)
"""


def _lines_sql(plan: Plan) -> str:
    """Every order's lines: category by popularity, product by best-seller rank, price in the order currency."""
    cat = _Catalogue()
    fx_case = "CASE currency " + " ".join(f"WHEN '{c}' THEN {r}" for c, r in FX_FROM_EUR.items()) + " END"
    return f"""
WITH lined AS (
    SELECT o.*, line_no, hash(ok, line_no) AS lk FROM orders o, range(1, n_lines + 1) t(line_no)
), picked AS (
    SELECT *, {cat.product(cat.category("lk", "category"), "lk", "product")} AS product_no FROM lined
)
SELECT *,
    'O' || lpad(order_no::VARCHAR, {plan.event_digits}, '0') AS order_id,
    CASE WHEN u(lk, 'qty') < 0.82 THEN 1 WHEN u(lk, 'qty') < 0.96 THEN 2 ELSE 3 END AS quantity,
    ceil({cat.prices}[product_no] * {fx_case}) - 0.01 AS unit_price
FROM picked
"""


def shop_order_lines_sql(plan: Plan) -> str:
    cat = _Catalogue()
    return f"""
SELECT order_id || '-' || line_no AS order_line_id, order_id,
    {cat.ids}[product_no] AS product_id,
    {cat.names}[product_no] AS product_name,
    {cat.categories}[product_no] AS category,
    quantity, unit_price, lines_before + line_no AS _line_number
FROM ({_lines_sql(plan)})
"""


def _totals_sql(plan: Plan) -> str:
    """Each order's total: what its lines add up to, in the order currency."""
    lines = _lines_sql(plan)
    return f"SELECT order_no, round(sum(quantity * unit_price), 2) AS total_amount FROM ({lines}) GROUP BY order_no"


def shop_orders_sql(plan: Plan) -> str:
    return f"""
WITH totals AS (
    {_totals_sql(plan)}
)
SELECT 'O' || lpad(o.order_no::VARCHAR, {plan.event_digits}, '0') AS order_id,
    key_of(o.i) AS external_key, o.status, o.sales_channel, o.currency, t.total_amount,
    ts(o.ordered_e) AS ordered_at, o.order_no AS _line_number
FROM orders o JOIN totals t USING (order_no)
"""


_METHODS_ONLINE = ("card", "paypal", "apple_pay", "klarna", "gift_card")
_METHOD_ONLINE_WEIGHTS = (58, 22, 9, 7, 4)
_METHODS_STORE = ("card", "cash", "gift_card")
_METHOD_STORE_WEIGHTS = (74, 22, 4)


def shop_payments_sql(plan: Plan) -> str:
    """Each order's payment transactions, as a payment provider's export has them.

    A completed order was captured in full, sometimes after a declined attempt, and now and then partly refunded
    later; a refunded order was captured, then refunded in full; a cancelled order was authorized and voided, or
    only declined (a cancelled cash sale moved no money). Amounts are the order total in the order currency.
    Every draw is salted ``pay_*``, so adding payments left every other table's rows as they were.
    """
    end = plan.end_epoch
    online = str_list([_METHODS_ONLINE[k] for k in inverse_cdf(_METHOD_ONLINE_WEIGHTS, 100)])
    store = str_list([_METHODS_STORE[k] for k in inverse_cdf(_METHOD_STORE_WEIGHTS, 100)])
    # Refunds come days later, but never after the data window ends (nor all on its last second).
    refund_e = (
        f"captured_e + least(86400 * (1 + ri(ok, 'pay_refund_days', 28)) + ri(ok, 'pay_refund_s', 86400), "
        f"floor(({end} - 1 - captured_e) * u(ok, 'pay_refund_cap'))::BIGINT)"
    )
    return f"""
WITH o AS (
    SELECT o.order_no, o.ok, o.status AS order_status, o.currency, o.ordered_e, t.total_amount AS total,
        CASE WHEN o.sales_channel = 'store' THEN {store}[ri(o.ok, 'pay_method', 100) + 1]
             ELSE {online}[ri(o.ok, 'pay_method', 100) + 1] END AS method,
        o.status <> 'cancelled' AND o.sales_channel <> 'store' AND u(o.ok, 'pay_declined') < 0.05 AS declined_first,
        u(o.ok, 'pay_cancel') < 0.6 AS was_authorized
    FROM orders o JOIN ({_totals_sql(plan)}) t USING (order_no)
), timed AS (
    SELECT *,
        least({end} - 1, ordered_e + CASE WHEN declined_first THEN 60 + ri(ok, 'pay_retry', 540)
                                         ELSE ri(ok, 'pay_delay', 30) END) AS captured_e
    FROM o
), transactions AS (
    SELECT order_no, 0 AS seq, 'failed' AS status, 'card' AS method, currency, total AS amount,
        ordered_e AS processed_e
    FROM timed WHERE declined_first
    UNION ALL
    SELECT order_no, 1, 'captured', method, currency, total, captured_e
    FROM timed WHERE order_status IN ('completed', 'refunded')
    UNION ALL
    SELECT order_no, 2, 'refunded', method, currency, total, {refund_e}
    FROM timed WHERE order_status = 'refunded'
    UNION ALL
    SELECT order_no, 2, 'refunded', method, currency, round(total * (0.2 + 0.4 * u(ok, 'pay_partial_share')), 2),
        {refund_e}
    FROM timed WHERE order_status = 'completed' AND u(ok, 'pay_partial') < 0.05
    UNION ALL
    SELECT order_no, 1, CASE WHEN was_authorized THEN 'authorized' ELSE 'failed' END, method, currency,
        total, captured_e
    FROM timed WHERE order_status = 'cancelled' AND method <> 'cash'
    UNION ALL
    SELECT order_no, 2, 'voided', method, currency, total,
        captured_e + least(3600 + ri(ok, 'pay_void_s', 3 * 86400), {end} - 1 - captured_e)
    FROM timed WHERE order_status = 'cancelled' AND method <> 'cash' AND was_authorized
)
SELECT 'PAY' || lpad(order_no::VARCHAR, {plan.event_digits}, '0') || '-'
        || row_number() OVER (PARTITION BY order_no ORDER BY seq) AS payment_id,
    'O' || lpad(order_no::VARCHAR, {plan.event_digits}, '0') AS order_id,
    status, method, currency, amount, ts(processed_e) AS processed_at,
    row_number() OVER (ORDER BY order_no, seq) AS _line_number
FROM transactions
"""


def devices_sql(plan: Plan) -> str:
    """Internal table of push devices: app users have one, a few have a second; some were revoked since."""
    end = plan.end_epoch
    return f"""
WITH d AS (
    SELECT i, external_key, k,
        'D' || lpad(i::VARCHAR, {plan.key_digits}, '0') || '-' || (k + 1) AS device_id,
        CASE WHEN k = 0 THEN app_platform
             WHEN u(i, 'second_platform') < 0.7 THEN app_platform
             WHEN app_platform = 'ios' THEN 'android' ELSE 'ios' END AS platform,
        md5('tok' || i || '-' || k || '-{plan.seed}')[:22] || ':APA91b'
            || md5('fcm' || i || '-' || k || '-{plan.seed}') AS token,
        CASE WHEN k = 0 THEN app_reg_e
             ELSE app_reg_e + floor(({end} - app_reg_e) * u(i, 'second_reg'))::BIGINT END AS registered_e
    FROM p, range(CASE WHEN u(i, 'second_device') < 0.2 THEN 2 ELSE 1 END) t(k)
    WHERE app_platform IS NOT NULL
)
SELECT *,
    CASE WHEN u(device_id, 'unregistered') < 0.15
         THEN registered_e + 60 + floor(({end} - registered_e - 60) * u(device_id, 'unreg_at'))::BIGINT
    END AS unregistered_e
FROM d
WHERE registered_e < {end} - 60
"""


def push_tokens_sql() -> str:
    return """
SELECT device_id, external_key, platform, token,
    ts(registered_e) AS registered_at, ts(unregistered_e) AS unregistered_at,
    row_number() OVER (ORDER BY i, k) AS _line_number
FROM devices
"""


def app_events_sql(plan: Plan, first: int, last: int) -> str:
    """App events numbered ``first`` .. ``last - 1`` (a chunk, aligned to sessions); no join, so chunks stay cheap.

    A session is ``SESSION_LENGTH`` events of one profile browsing one category. The session's time comes first;
    its profile is drawn with a long tail (a few very active people, most occasional) among the people who had
    signed up by then, so activity grows with the customer base instead of piling up on newcomers.
    """
    cat = _Catalogue()
    n, end, start = plan.profiles, plan.end_epoch, plan.start_epoch
    mult, offset = plan.permutation
    versions = str_list(list(APP_VERSIONS))
    nv = len(APP_VERSIONS)
    queries = str_list(list(SEARCH_QUERIES))
    pages = str_list(["/", "/sale", "/new", "/stores", "/account", "/c/"])
    type_lut = str_list(
        [["page_view", "product_view", "search", "add_to_cart"][x] for x in inverse_cdf([30, 42, 13, 15], 100)]
    )
    product = cat.product("cat_no", "e", "item")
    candidates = ",\n        ".join(
        f"(floor({plan.active_profiles} * pow(u(s, 'who{k}'), 1.7))::BIGINT * {mult} + {offset}) % {n} + 1 AS c{k}"
        for k in range(3)
    )
    signed_up_by = f"greatest(1, floor({n} * (1 - pow(({end} - t_local) / {CREATED_SPAN}, {1 / CREATED_SKEW!r}))))"
    return f"""
WITH sessions AS (
    SELECT s, {_local_time_sql(plan, "s", orders=False)} AS t_local
    FROM range({first // SESSION_LENGTH}, {-(-last // SESSION_LENGTH)}) t(s)
), candidates AS (
    SELECT s, t_local,
        {candidates}
    FROM sessions
), chosen AS (
    SELECT s, t_local,
        CASE WHEN created_of(c0) < t_local THEN c0 WHEN created_of(c1) < t_local THEN c1
             WHEN created_of(c2) < t_local THEN c2
             ELSE 1 + ri(s, 'anyone', {signed_up_by}::BIGINT) END AS i
    FROM candidates
), placed AS (
    SELECT s, i, t_local - offset_of(i) * 3600 AS t_utc, platform_of(i) AS app_platform FROM chosen
), session_rows AS (
    SELECT s, i, key_of(i) AS external_key,
        greatest(created_of(i) + 60, least({_wrap_sql(plan, "t_utc")}, {end} - 900)) AS start_e,
        CASE WHEN app_platform IS NOT NULL AND u(s, 'platform') < 0.65 THEN app_platform ELSE 'web' END
            AS platform,
        {cat.category("s", "interest")} AS cat_no,
        15 + ri(s, 'gap', 110) AS gap
    FROM placed
), ev AS (
    SELECT r.*, j, s * {SESSION_LENGTH} + j AS e FROM session_rows r, range({SESSION_LENGTH}) t(j)
    WHERE s * {SESSION_LENGTH} + j < {last}
), typed AS (
    SELECT *,
        least({end} - 1, start_e + j * gap + ri(e, 'jitter', 10)) AS occurred_e,
        CASE WHEN j = 0 THEN (CASE WHEN platform = 'web' THEN 'page_view' ELSE 'app_open' END)
             ELSE {type_lut}[ri(e, 'type', 100) + 1] END AS event_type
    FROM ev
)
SELECT
    concat('E', lpad((e + 1)::VARCHAR, {plan.event_digits}, '0')) AS event_id,
    external_key,
    event_type,
    -- One concat per event type: each event only builds the properties it has.
    CASE event_type
        WHEN 'product_view' THEN concat('{{"product_id":"P', lpad({product}::VARCHAR, 4, '0'),
            '","category":"', {cat.category_names}[cat_no], '","platform":"', platform, '"}}')
        WHEN 'add_to_cart' THEN concat('{{"product_id":"P', lpad({product}::VARCHAR, 4, '0'),
            '","category":"', {cat.category_names}[cat_no], '","quantity":',
            CASE WHEN u(e, 'qty') < 0.9 THEN '1' ELSE '2' END, ',"platform":"', platform, '"}}')
        WHEN 'search' THEN concat('{{"search_query":"', {queries}[ri(e, 'query', {len(SEARCH_QUERIES)}) + 1],
            '","platform":"', platform, '"}}')
        WHEN 'app_open' THEN concat('{{"platform":"', platform, '","app_version":"',
            {versions}[greatest(0, least({nv - 1}, floor((occurred_e - {start}) * {nv} / {end - start})::BIGINT
                - ri(i, 'lag', 3))) + 1], '"}}')
        ELSE concat('{{"url":"', CASE WHEN j = 0 THEN '/' ELSE {pages}[ri(e, 'page', 6) + 1] END,
            CASE WHEN j > 0 AND ri(e, 'page', 6) = 5 THEN {cat.category_names}[cat_no] ELSE '' END,
            '","platform":"', platform, '"}}')
        END AS properties,
    ts(occurred_e) AS occurred_at,
    e - {first} + 1 AS _line_number
FROM typed
"""
