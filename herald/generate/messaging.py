"""Consent, past campaigns, the messages they sent, and the email provider's events about them.

Each campaign went to a share of the people who had consented to its channel and topic when it went out; an
unsubscribe keeps that person out of every later campaign on the same topic.
"""

from __future__ import annotations

import duckdb

from herald.generate._sql import epoch, lit, str_list
from herald.generate.plan import Plan
from herald.generate.reference import CAMPAIGNS, CONSENT_FORMS, IP_FIRST_OCTETS

# channel, topic, share of eligible people who opted in
_CONSENT_SPECS: tuple[tuple[str, str, float], ...] = (
    ("email", "newsletter", 0.62),
    ("email", "promotions", 0.5),
    ("email", "product_updates", 0.25),
    ("sms", "promotions", 0.24),
    ("sms", "newsletter", 0.05),
    ("push", "promotions", 0.6),
    ("push", "product_updates", 0.5),
    ("in_app", "product_updates", 0.7),
    ("in_app", "promotions", 0.45),
    ("direct_mail", "newsletter", 0.12),
    ("direct_mail", "promotions", 0.08),
)

_GATES = {
    "email": "p.mess IS DISTINCT FROM 'invalid_email'",
    "sms": "NOT p.no_phone AND coalesce(p.mess, '') NOT IN ('odd_phone', 'empty')",
    "push": "p.app_platform IS NOT NULL",
    "in_app": "p.app_platform IS NOT NULL",
    "direct_mail": "TRUE",
}

_SOFT_BOUNCES = (
    ("4.2.2", "452 4.2.2 The email account that you tried to reach is over quota"),
    ("4.7.1", "421 4.7.1 Temporary rate limit exceeded, try again later"),
    ("4.4.2", "421 4.4.2 Connection dropped due to timeout"),
)
_ESP_KINDS = ("processed", "dropped", "deferred", "delivered", "bounce", "open", "click", "spamreport", "unsubscribe")
_DEFERRALS = (
    "451 4.7.650 The mail server has been temporarily rate limited",
    "421 4.7.0 Try again later, closing connection",
)


def _ip(key: str) -> str:
    octets = str_list([str(o) for o in IP_FIRST_OCTETS])
    return (
        f"{octets}[ri({key}, 'ip1', {len(IP_FIRST_OCTETS)}) + 1] || '.' || ri({key}, 'ip2', 256) || '.'"
        f" || ri({key}, 'ip3', 256) || '.' || (1 + ri({key}, 'ip4', 254))"
    )


def create_campaigns(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    rows = []
    for c, campaign in enumerate(CAMPAIGNS, start=1):
        send_e = epoch(campaign.send_date(plan.end_date)) + campaign.hour_utc * 3600
        rows.append(
            f"({c}, {lit(f'CMP{c:02d}')}, {lit(campaign.display_name(plan.end_date))}, {lit(campaign.channel)}, "
            f"{lit(campaign.topic)}, {send_e}, {campaign.share!r}, {lit(campaign.landing_path)})"
        )
    con.execute(
        "CREATE OR REPLACE TABLE camp (c INTEGER, campaign_id VARCHAR, campaign_name VARCHAR, channel VARCHAR, "
        "topic VARCHAR, send_e BIGINT, share DOUBLE, landing_path VARCHAR)"
    )
    con.execute("INSERT INTO camp VALUES " + ", ".join(rows))


def create_consent_state(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Table ``cons``: one row per opted-in (profile, channel, topic) with the opt-in and any later change.

    Only numbers and short codes: evidence and IP addresses are derived from ``ck`` when the events are written.
    """
    end = plan.end_epoch
    specs = ", ".join(f"({lit(ch)}, {lit(t)}, {share!r})" for ch, t, share in _CONSENT_SPECS)
    gates = " ".join(f"WHEN {lit(ch)} THEN {g}" for ch, g in _GATES.items())
    con.execute(f"""
CREATE OR REPLACE TABLE cons AS
WITH spec(channel, topic, share) AS (VALUES {specs}),
cand AS (
    SELECT p.i, p.created_e, p.app_reg_e, p.fate, s.channel, s.topic, hash(p.i, s.channel, s.topic) AS ck
    FROM p, spec s
    WHERE (CASE s.channel {gates} END)
      AND (u(hash(p.i, s.channel, s.topic), 'opt_in') < s.share OR (p.fate <> 'normal' AND s.channel = 'email'))
), opted AS (
    SELECT *,
        CASE WHEN channel IN ('push', 'in_app') THEN 'app'
             WHEN u(ck, 'source') < 0.5 THEN 'web_form'
             WHEN u(ck, 'source') < 0.75 THEN 'checkout'
             WHEN u(ck, 'source') < 0.9 THEN 'import'
             ELSE 'store' END AS in_source,
        least({end} - 120, CASE WHEN channel IN ('push', 'in_app') THEN app_reg_e + 5 + ri(ck, 'in', 600)
             WHEN u(ck, 'at_signup') < 0.6 THEN created_e + 30 + ri(ck, 'in', 900)
             ELSE created_e + floor(({end} - created_e) * 0.5 * u(ck, 'in_later'))::BIGINT END) AS in_e
    FROM cand
), changed AS (
    SELECT *,
        CASE WHEN fate = 'normal' AND u(ck, 'pc_out') < 0.05
             THEN in_e + 60 + floor(({end} - in_e - 120) * u(ck, 'pc_out_at'))::BIGINT END AS out_e
    FROM opted
)
SELECT i, fate, channel, topic, ck, in_e, in_source, out_e,
    CASE WHEN out_e IS NOT NULL AND u(ck, 'reopt') < 0.15
         THEN out_e + 60 + floor(({end} - out_e - 120) * u(ck, 'reopt_at'))::BIGINT END AS re_e
FROM changed
""")


def send_campaigns(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Table ``msg``: every past message with its fate at the provider.

    One pass over all campaigns: each goes to a share of the people consenting to its channel and topic when it
    was sent; someone who unsubscribed from a topic gets nothing more on that topic afterwards.
    """
    con.execute(f"CREATE OR REPLACE TABLE msg AS {_messages_sql(plan)}")
    # Line numbers in send order, sorted on two integer columns rather than on the wide rows.
    con.execute("CREATE OR REPLACE TABLE msg_order AS SELECT mk, row_number() OVER (ORDER BY sent_e, mk) AS n FROM msg")


def _messages_sql(plan: Plan) -> str:
    end = plan.end_epoch
    return f"""
WITH aud AS (
    SELECT p.i, p.external_key, p.fate, p.open_rate, cp.*,
        hash(p.i, cp.c) AS mk,
        CASE cp.channel WHEN 'email' THEN p.email WHEN 'sms' THEN '+' || p.dial || p.nsn ELSE d.token END
            AS address
    FROM camp cp
    JOIN cons k ON k.channel = cp.channel AND k.topic = cp.topic
    JOIN p ON p.i = k.i
    LEFT JOIN devices d ON d.i = k.i AND d.k = 0
    WHERE k.in_e < cp.send_e
      AND NOT (k.out_e IS NOT NULL AND k.out_e < cp.send_e AND (k.re_e IS NULL OR k.re_e > cp.send_e))
      AND (u(hash(k.i, cp.c), 'audience') < cp.share OR (k.fate <> 'normal' AND cp.channel = 'email'))
      AND (cp.channel <> 'push'
           OR (d.registered_e < cp.send_e AND (d.unregistered_e IS NULL OR d.unregistered_e > cp.send_e)))
), sent AS (
    SELECT *,
        send_e + ri(mk, 'throttle', CASE channel WHEN 'email' THEN 7200 WHEN 'sms' THEN 1800 ELSE 600 END)
            AS sent_e
    FROM aud
), story AS (
    -- How many emails someone with a deliverability story got before: their outcome depends on it.
    SELECT mk, row_number() OVER (PARTITION BY i ORDER BY send_e) - 1 AS n_prev
    FROM aud WHERE fate <> 'normal' AND channel = 'email'
), outcomes AS (
    SELECT *,
        CASE WHEN channel <> 'email' THEN 'delivered'
             WHEN fate = 'hard' THEN CASE WHEN n_prev = 0 THEN 'hard' ELSE 'dropped_bounce' END
             WHEN fate = 'quarantine' THEN 'soft'
             WHEN fate = 'reset' THEN CASE WHEN n_prev < 3 THEN 'soft' ELSE 'delivered' END
             WHEN fate = 'complainer' THEN CASE WHEN n_prev = 0 THEN 'complained' ELSE 'dropped_spam' END
             WHEN u(mk, 'outcome') < 0.012 THEN 'soft'
             WHEN u(mk, 'outcome') < 0.035 THEN 'deferred'
             ELSE 'delivered' END AS outcome
    FROM sent LEFT JOIN story USING (mk)
), timed AS (
    SELECT *,
        sent_e + 1 + ri(mk, 'processed', 4) AS processed_e,
        CASE WHEN channel = 'email' AND outcome IN ('delivered', 'deferred', 'complained')
             THEN floor(4.5 * pow(u(mk, 'opens'), 2))::BIGINT END AS open_draw
    FROM outcomes
), engaged AS (
    SELECT *,
        CASE outcome WHEN 'deferred' THEN processed_e + 60 + ri(mk, 'deferred', 1200) END AS deferred_e,
        CASE WHEN outcome = 'deferred' THEN processed_e + 1900 + ri(mk, 'delivered', 5400)
             WHEN outcome IN ('delivered', 'complained') THEN processed_e + 2 + ri(mk, 'delivered', 40)
        END AS delivered_e,
        CASE WHEN open_draw IS NOT NULL AND u(mk, 'open') < open_rate THEN 1 + open_draw ELSE 0 END AS n_opens
    FROM timed
), opened AS (
    SELECT *,
        CASE WHEN n_opens > 0 THEN delivered_e + 60 + floor(259200 * pow(u(mk, 'open_delay'), 3))::BIGINT END
            AS first_open_e,
        CASE WHEN n_opens > 0 AND u(mk, 'click') < 0.28 THEN (CASE WHEN u(mk, 'clicks') < 0.3 THEN 2 ELSE 1 END)
             ELSE 0 END AS n_clicks
    FROM engaged
), unsubscribed AS (
    SELECT *,
        CASE WHEN fate = 'normal' AND channel = 'email' AND n_opens > 0 AND u(mk, 'unsub') < 0.03
                  AND first_open_e + 620 < {end}
                 THEN first_open_e + 20 + ri(mk, 'unsub_at', 600)
             WHEN channel = 'sms' AND u(mk, 'stop') < 0.015 THEN sent_e + 60 + ri(mk, 'stop_at', 7200)
        END AS unsub_e
    FROM opened
), firsts AS (
    -- Nothing more on a topic after the first unsubscribe from it (fates never unsubscribe, so counts hold).
    SELECT i, channel, topic, min(unsub_e) AS first_unsub_e FROM unsubscribed
    WHERE unsub_e IS NOT NULL GROUP BY i, channel, topic
)
SELECT
    campaign_id || '-' || external_key AS message_id,
    u.i, external_key, c, mk, campaign_id, campaign_name, u.channel, u.topic, landing_path, address, sent_e,
    outcome, processed_e, deferred_e, delivered_e, n_opens, first_open_e, n_clicks, unsub_e
FROM unsubscribed u LEFT JOIN firsts f ON f.i = u.i AND f.channel = u.channel AND f.topic = u.topic
WHERE f.first_unsub_e IS NULL OR u.sent_e < f.first_unsub_e
"""


def message_history_sql() -> str:
    return """
SELECT message_id, external_key, campaign_id, campaign_name, channel, address, ts(sent_e) AS sent_at,
    n AS _line_number
FROM msg JOIN msg_order USING (mk)
"""


def consent_events_sql(plan: Plan) -> str:
    """Opt-ins with their evidence, preference-center changes, and the unsubscribes found in past messages.

    Numbered on narrow rows first; evidence and IP strings are built after the sort.
    """
    forms = str_list(list(CONSENT_FORMS))
    return f"""
WITH ev AS (
    SELECT i, channel, topic, 0 AS kind, ck, in_e AS at_e, in_source, NULL::BIGINT AS mk, NULL::INTEGER AS c
    FROM cons
    UNION ALL SELECT i, channel, topic, 1, ck, out_e, NULL, NULL, NULL FROM cons WHERE out_e IS NOT NULL
    UNION ALL SELECT i, channel, topic, 2, ck, re_e, NULL, NULL, NULL FROM cons WHERE re_e IS NOT NULL
    UNION ALL
    SELECT i, channel, topic, 3, hash(i, channel, topic), unsub_e, NULL, mk, c FROM msg WHERE unsub_e IS NOT NULL
), numbered AS (
    SELECT *, row_number() OVER (ORDER BY at_e, i, kind, ck) AS n FROM ev
)
SELECT 'CE' || lpad(n::VARCHAR, {plan.event_digits}, '0') AS consent_event_id,
    key_of(i) AS external_key, channel, topic,
    CASE WHEN kind IN (0, 2) THEN 'opt_in' ELSE 'opt_out' END AS status,
    CASE kind WHEN 0 THEN in_source WHEN 3 THEN (CASE channel WHEN 'sms' THEN 'sms_reply' ELSE 'unsubscribe_link' END)
        ELSE 'preference_center' END AS source,
    CASE kind
        WHEN 3 THEN 'CMP' || lpad(c::VARCHAR, 2, '0') || '-' || key_of(i)
        WHEN 0 THEN (CASE in_source
            WHEN 'web_form' THEN {forms}[ri(ck, 'form', {len(CONSENT_FORMS)}) + 1]
            WHEN 'checkout' THEN 'form-checkout-optin'
            WHEN 'import' THEN 'crm-migration-' || year(ts(at_e))
            WHEN 'store' THEN 'pos-' || (ri(ck, 'store', 90) + 10)
            ELSE 'D' || lpad(i::VARCHAR, {plan.key_digits}, '0') || '-1' END)
        ELSE 'pc-' || hx(ck, 'pc_session')[:12] END AS evidence_id,
    CASE WHEN kind = 0 AND in_source IN ('web_form', 'checkout', 'app') THEN {_ip("ck")}
         WHEN kind IN (1, 2) THEN {_ip("hash(ck, 1)")}
         WHEN kind = 3 AND channel = 'email' THEN {_ip("mk")} END AS ip_address,
    ts(at_e) AS occurred_at,
    n AS _line_number
FROM numbered
"""


def esp_events_sql(plan: Plan) -> str:
    """SendGrid Event Webhook rows for every email message; a few events are posted twice, as SendGrid does.

    Events are first listed as narrow integer rows (message, kind, repeat, time) and numbered, and only then
    given their strings, so the sort that numbers them stays cheap.
    """
    end = plan.end_epoch
    soft_status = str_list([s for s, _ in _SOFT_BOUNCES])
    soft_reason = str_list([r for _, r in _SOFT_BOUNCES])
    deferrals = str_list(list(_DEFERRALS))
    kinds = str_list(list(_ESP_KINDS))
    return f"""
WITH m AS (SELECT * FROM msg WHERE channel = 'email'),
ev AS (
    SELECT mk, 0 AS kind, 0 AS k, processed_e AS at_e FROM m
    UNION ALL SELECT mk, 1, 0, processed_e + 1 FROM m WHERE outcome LIKE 'dropped%'
    UNION ALL SELECT mk, 2, 0, deferred_e FROM m WHERE outcome = 'deferred'
    UNION ALL SELECT mk, 3, 0, delivered_e FROM m WHERE delivered_e IS NOT NULL
    UNION ALL SELECT mk, 4, 0, processed_e + 3 + ri(mk, 'bounce_at', 90) FROM m WHERE outcome IN ('hard', 'soft')
    UNION ALL
    SELECT mk, 5, k, first_open_e + CASE WHEN k = 0 THEN 0 ELSE k * 600 + ri(hash(mk, k), 'reopen', 172800) END
    FROM m, range(n_opens) t(k)
    UNION ALL
    SELECT mk, 6, k, first_open_e + 5 + ri(hash(mk, k), 'click_at', 300) + k * 60 FROM m, range(n_clicks) t(k)
    UNION ALL
    SELECT mk, 7, 0, delivered_e + 3600 + ri(mk, 'complaint_at', 172800) FROM m WHERE outcome = 'complained'
    UNION ALL SELECT mk, 8, 0, unsub_e FROM m WHERE unsub_e IS NOT NULL
), happened AS (
    SELECT * FROM ev WHERE at_e < {end}
), posted AS (
    SELECT *, 1 AS post FROM happened
    UNION ALL
    SELECT *, 2 FROM happened WHERE u(hash(mk, kind, k), 'retry') < 0.004 OR kind = 7
), numbered AS (
    SELECT *, row_number() OVER (ORDER BY at_e, mk, kind, k, post) AS _line_number FROM posted
)
SELECT hx(hash(mk, kind, k), 'sg_event') AS sg_event_id,
    hx(mk, 'sg_message') || '.filter' || (10 + ri(mk, 'filter', 90)) || '.0' AS sg_message_id,
    m.message_id, {kinds}[kind + 1] AS event, m.address AS email,
    CASE WHEN kind = 4 THEN (CASE m.outcome WHEN 'hard' THEN 'bounce' ELSE 'blocked' END) END AS bounce_type,
    CASE kind
        WHEN 1 THEN (CASE m.outcome WHEN 'dropped_bounce' THEN 'Bounced Address' ELSE 'Spam Reporting Address' END)
        WHEN 2 THEN {deferrals}[ri(mk, 'deferral', 2) + 1]
        WHEN 4 THEN (CASE m.outcome WHEN 'hard'
            THEN '550 5.1.1 The email account that you tried to reach does not exist'
            ELSE {soft_reason}[ri(mk, 'soft', 3) + 1] END)
        END AS reason,
    CASE WHEN kind = 4 THEN (CASE m.outcome WHEN 'hard' THEN '5.1.1' ELSE {soft_status}[ri(mk, 'soft', 3) + 1] END)
        END AS status,
    CASE WHEN kind = 6 THEN 'https://shop.example.com' || m.landing_path || '?utm_source=email&utm_campaign='
        || lower(m.campaign_id) END AS url,
    ts(at_e) AS occurred_at,
    _line_number
FROM numbered JOIN m USING (mk)
"""
