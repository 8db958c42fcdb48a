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
from herald.generate.plan import SESSION_LENGTH, Plan
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


@dataclass(frozen=True, slots=True)
class Product:
    """One catalogue entry; ``rank`` orders products by popularity (0 = best seller)."""

    product_id: str
    name: str
    category: str
    price_eur: float
    rank: int


def catalogue() -> list[Product]:
    rng = random.Random("herald-catalogue")
    drafts: list[tuple[str, str, float]] = []
    for category, nouns, (low, high) in CATEGORIES:
        for noun in nouns:
            for adjective in rng.sample(PRODUCT_ADJECTIVES, 3):
                price = round(rng.uniform(low, high)) - rng.choice((0.01, 0.05, 0.01))
                drafts.append((f"{adjective} {noun}", category, round(price, 2)))
    ranks = list(range(len(drafts)))
    rng.shuffle(ranks)  # best sellers spread over every category
    return [
        Product(f"P{k + 1:04d}", name, category, price, ranks[k]) for k, (name, category, price) in enumerate(drafts)
    ]


def _black_friday(year: int) -> dt.date:
    first = dt.date(year, 11, 1)
    first_friday = first + dt.timedelta(days=(4 - first.weekday()) % 7)
    return first_friday + dt.timedelta(days=21)


def day_weights(plan: Plan, *, orders: bool) -> list[float]:
    """Relative activity of each of the 365 days of the window."""
    start = plan.end_date - dt.timedelta(days=365)
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


def _time_sql(plan: Plan, key: str, *, orders: bool, created: str = "created_e") -> str:
    """Epoch seconds of an activity keyed by ``key``: a weighted day, a local hour, clamped after sign-up."""
    days = int_list(inverse_cdf(day_weights(plan, orders=orders), DAY_LUT_SIZE))
    hours = int_list(inverse_cdf(_ORDER_HOURS if orders else _EVENT_HOURS, HOUR_LUT_SIZE))
    start, end = plan.start_epoch, plan.end_epoch
    raw = (
        f"({start} + {days}[ri({key}, 'day', {DAY_LUT_SIZE}) + 1] * 86400"
        f" + ({hours}[ri({key}, 'hour', {HOUR_LUT_SIZE}) + 1] - utc_offset) * 3600 + ri({key}, 'second', 3600))"
    )
    wrapped = f"(CASE WHEN {raw} >= {end} THEN {raw} - 86400 WHEN {raw} < {start} THEN {raw} + 86400 ELSE {raw} END)"
    # Someone who signed up during the year is only active after signing up: squeeze their year into the rest.
    return (
        f"(CASE WHEN {created} <= {start} THEN {wrapped} "
        f"ELSE {created} + floor(({wrapped} - {start}) * ({end} - {created}) / {end - start})::BIGINT END)"
    )


class _Catalogue:
    """The catalogue as SQL list literals, indexed by popularity rank (1-based)."""

    def __init__(self) -> None:
        by_rank = sorted(catalogue(), key=lambda p: p.rank)
        categories = [c for c, _, _ in CATEGORIES]
        self.size = len(by_rank)
        self.ids = str_list([p.product_id for p in by_rank])
        self.names = str_list([p.name for p in by_rank])
        self.categories = str_list([p.category for p in by_rank])
        self.prices = float_list([p.price_eur for p in by_rank])
        self.category_names = str_list(categories)
        # For each category, the popularity ranks (1-based) of its products, best sellers first.
        self.ranks_by_category = "[" + ", ".join(
            int_list([k + 1 for k, p in enumerate(by_rank) if p.category == c]) for c in categories
        ) + "]"  # fmt: skip
        self.category_index = {c: k + 1 for k, c in enumerate(categories)}


def _zipf_rank(key: str, salt: str, size: int | str) -> str:
    """A 1-based rank where low ranks are much more likely (best sellers)."""
    return f"(floor({size} * pow(u({key}, '{salt}'), 2.2))::BIGINT + 1)"


def order_lines_sql(plan: Plan) -> str:
    """Internal table of orders × lines (each order's lines, with the order's own fields repeated)."""
    cat = _Catalogue()
    fx_case = "CASE currency " + " ".join(f"WHEN '{c}' THEN {r}" for c, r in FX_FROM_EUR.items()) + " END"
    counts = "[0, 1, 2, 3 + ri(i, 'n_orders', 3), 6 + ri(i, 'n_orders', 7), 13 + ri(i, 'n_orders', 28)]"
    line_lut = int_list([x + 1 for x in inverse_cdf([45, 28, 15, 8, 4], 100)])
    return f"""
WITH orders AS (
    SELECT i, external_key, currency, utc_offset, created_e, app_platform, k,
        hash(i, k) AS ok
    FROM p, range({counts}[seg + 1]) t(k)
), timed AS (
    SELECT *, {_time_sql(plan, "ok", orders=True)} AS ordered_e FROM orders
), numbered AS (
    SELECT *, row_number() OVER (ORDER BY ordered_e, i, k) AS order_no FROM timed
), lined AS (
    SELECT n.*, l.line_no, hash(ok, l.line_no) AS lk
    FROM numbered n, range(1, {line_lut}[ri(ok, 'lines', 100) + 1] + 1) l(line_no)
)
SELECT
    printf('O%0{plan.event_digits}d', order_no) AS order_id,
    order_no, line_no, external_key, ordered_e, currency,
    CASE WHEN u(ok, 'status') < 0.06 THEN 'cancelled' WHEN u(ok, 'status') < 0.10 THEN 'refunded'
         ELSE 'completed' END AS status,
    CASE WHEN u(ok, 'channel') < 0.12 THEN 'store'
         WHEN app_platform IS NOT NULL AND u(ok, 'channel') < 0.5 THEN 'app' ELSE 'web' END AS sales_channel,
    {_zipf_rank("lk", "product", cat.size)} AS product_rank,
    CASE WHEN u(lk, 'qty') < 0.82 THEN 1 WHEN u(lk, 'qty') < 0.96 THEN 2 ELSE 3 END AS quantity,
    {fx_case} AS fx
FROM lined
"""


def shop_order_lines_sql() -> str:
    cat = _Catalogue()
    return f"""
SELECT order_id || '-' || line_no AS order_line_id, order_id,
    {cat.ids}[product_rank] AS product_id,
    {cat.names}[product_rank] AS product_name,
    {cat.categories}[product_rank] AS category,
    quantity,
    ceil({cat.prices}[product_rank] * fx) - 0.01 AS unit_price
FROM order_lines
"""


def shop_orders_sql() -> str:
    cat = _Catalogue()
    return f"""
SELECT order_id, any_value(external_key) AS external_key, any_value(status) AS status,
    any_value(sales_channel) AS sales_channel, any_value(currency) AS currency,
    round(sum(quantity * (ceil({cat.prices}[product_rank] * fx) - 0.01)), 2) AS total_amount,
    ts(any_value(ordered_e)) AS ordered_at
FROM order_lines
GROUP BY order_id
"""


def devices_sql(plan: Plan) -> str:
    """Internal table of push devices: app users have one, a few have a second; some were revoked since."""
    end = plan.end_epoch
    return f"""
WITH d AS (
    SELECT i, external_key, k,
        printf('D%0{plan.key_digits}d-%d', i, k + 1) AS device_id,
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
    ts(registered_e) AS registered_at, ts(unregistered_e) AS unregistered_at
FROM devices
"""


def profile_activity_sql() -> str:
    """Internal table ``pe``: the few profile fields app events need, small enough to join per chunk."""
    return "SELECT i, external_key, created_e, utc_offset, app_platform FROM p"


def app_events_sql(plan: Plan, first: int, last: int) -> str:
    """App events numbered ``first`` .. ``last - 1`` (a chunk); sessions are ``SESSION_LENGTH`` events long.

    A session belongs to one profile, drawn with a long tail (a few very active people, most occasional), and
    browses one category.
    """
    cat = _Catalogue()
    n_active = plan.active_profiles
    mult, offset = plan.permutation
    versions = str_list(list(APP_VERSIONS))
    nv = len(APP_VERSIONS)
    queries = str_list(list(SEARCH_QUERIES))
    pages = str_list(["/", "/sale", "/new", "/stores", "/account", "/c/"])
    type_lut = str_list(
        [["page_view", "product_view", "search", "add_to_cart"][x] for x in inverse_cdf([30, 42, 13, 15], 100)]
    )
    start = plan.start_epoch
    return f"""
WITH ev AS (
    SELECT e, e // {SESSION_LENGTH} AS s, e % {SESSION_LENGTH} AS j FROM range({first}, {last}) t(e)
), who AS (
    SELECT *,
        (floor({n_active} * pow(u(s, 'who'), 1.7))::BIGINT * {mult} + {offset}) % {plan.profiles} + 1 AS i
    FROM ev
), sessions AS (
    SELECT w.*, pe.external_key, pe.utc_offset, pe.created_e,
        CASE WHEN pe.app_platform IS NOT NULL AND u(s, 'platform') < 0.65 THEN pe.app_platform ELSE 'web' END
            AS platform,
        {cat.categories}[{_zipf_rank("s", "interest", cat.size)}] AS category
    FROM who w JOIN pe USING (i)
), timed AS (
    SELECT *,
        {_time_sql(plan, "s", orders=False)} + j * (15 + ri(s, 'gap', 110)) + ri(e, 'jitter', 10) AS occurred_e
    FROM sessions
), typed AS (
    SELECT *,
        CASE WHEN j = 0 THEN (CASE WHEN platform = 'web' THEN 'page_view' ELSE 'app_open' END)
             ELSE {type_lut}[ri(e, 'type', 100) + 1] END AS event_type,
        {cat.ids}[{cat.ranks_by_category}[list_position({cat.category_names}, category)][
            floor(len({cat.ranks_by_category}[list_position({cat.category_names}, category)])
                  * pow(u(e, 'item'), 1.8))::BIGINT + 1]] AS product_id,
        CASE WHEN platform = 'web' OR j > 0 THEN ''
             ELSE ',"app_version":"' || {versions}[greatest(0, least({nv - 1},
                    floor((occurred_e - {start}) * {nv} / {plan.end_epoch - start})::BIGINT
                    - ri(i, 'lag', 3))) + 1] || '"' END AS version_part
    FROM timed
)
SELECT
    printf('E%0{plan.event_digits}d', e + 1) AS event_id,
    external_key,
    event_type,
    '{{' || CASE event_type
        WHEN 'page_view' THEN '"url":"' || (CASE WHEN j = 0 THEN '/' ELSE {pages}[ri(e, 'page', 6) + 1] END)
            || (CASE WHEN j > 0 AND ri(e, 'page', 6) = 5 THEN category ELSE '' END) || '",'
        WHEN 'product_view' THEN '"product_id":"' || product_id || '","category":"' || category || '",'
        WHEN 'add_to_cart' THEN '"product_id":"' || product_id || '","category":"' || category || '","quantity":'
            || (CASE WHEN u(e, 'qty') < 0.9 THEN 1 ELSE 2 END) || ','
        WHEN 'search' THEN '"search_query":"' || {queries}[ri(e, 'query', {len(SEARCH_QUERIES)}) + 1] || '",'
        ELSE '' END
        || '"platform":"' || platform || '"' || version_part || '}}' AS properties,
    ts(least(occurred_e, {plan.end_epoch} - 1)) AS occurred_at,
    e - {first} + 1 AS _line_number
FROM typed
"""
