"""Consent, past campaigns, the messages they sent, and the email provider's events about them.

Each campaign went to a share of the people who had consented to its channel and topic when it went out; an
unsubscribe keeps that person out of every later campaign on the same topic.
"""

from __future__ import annotations

import duckdb

from herald.generate._sql import epoch, int_list, inverse_cdf, lit, str_list
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
# SendGrid's bounce classification of each soft bounce reason above, in the same order.
_SOFT_CLASSES = ("Mailbox Unavailable", "Frequency or Volume Too High", "Technical")
# Who opens: (share, user agent, machine open). Apple Mail Privacy Protection fetches images on delivery, so
# SendGrid flags its opens sg_machine_open; the Gmail image proxy hides the reader but is a person.
_OPENERS: tuple[tuple[float, str, int], ...] = (
    (0.30, "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", 0),
    (0.22, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", 1),
    (0.20, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148", 0),
    (0.13, "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)", 0),
    (0.15, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36", 0),
)
_CLICKERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Version/17.5 Mobile Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15",
)
# The links of a campaign email, by position (url_offset_index): the campaign's landing page, then the footer's.
_FOOTER_LINKS = ("/new", "/stores")
# SendGrid unsubscribe groups per topic (asm_group_id).
_ASM_GROUPS = {"newsletter": 101, "promotions": 102, "product_updates": 103}

# SMS status callbacks (Twilio): share of messages, final status, error code, Twilio's error text.
# 21614 and 30006 say the number can never receive SMS (quarantine); 30003 and 30008 may pass next time.
_SMS_FAILURES: tuple[tuple[float, str, str, str], ...] = (
    (0.004, "failed", "21614", "To number is not a valid mobile number"),
    (0.005, "undelivered", "30006", "Landline or unreachable carrier"),
    (0.008, "undelivered", "30003", "Unreachable destination handset"),
    (0.003, "undelivered", "30008", "Unknown error"),
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
    """SendGrid Event Webhook rows for every email message; a few events are posted twice, as SendGrid does, and a
    few again under a new sg_event_id (a re-sent webhook batch), so both deduplications have work to do.

    Events are first listed as narrow integer rows (message, kind, repeat, time) and numbered, and only then
    given their strings, so the sort that numbers them stays cheap.
    """
    end = plan.end_epoch
    soft_status = str_list([s for s, _ in _SOFT_BOUNCES])
    soft_reason = str_list([r for _, r in _SOFT_BOUNCES])
    deferrals = str_list(list(_DEFERRALS))
    kinds = str_list(list(_ESP_KINDS))
    footer = str_list(list(_FOOTER_LINKS))
    n_links = len(_FOOTER_LINKS) + 1
    soft_classes = str_list(list(_SOFT_CLASSES))
    opener_lut = int_list(inverse_cdf([share for share, _, _ in _OPENERS], 100))
    opener_agents = str_list([agent for _, agent, _ in _OPENERS])
    opener_machine = int_list([machine for _, _, machine in _OPENERS])
    clickers = str_list(list(_CLICKERS))
    asm_groups = "MAP {" + ", ".join(f"{lit(t)}: {g}" for t, g in _ASM_GROUPS.items()) + "}"
    return f"""
WITH m AS (SELECT * FROM msg WHERE channel = 'email'),
ev AS (
    SELECT mk, 0 AS kind, 0 AS k, processed_e AS at_e FROM m
    UNION ALL SELECT mk, 1, 0, processed_e + 1 FROM m WHERE outcome LIKE 'dropped%'
    UNION ALL
    SELECT mk, 2, k, deferred_e + k * 300 FROM m, range(1 + ri(mk, 'deferrals', 3)) t(k) WHERE outcome = 'deferred'
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
    -- post 2: the same event posted again (same sg_event_id); post 3: posted again under a new sg_event_id.
    SELECT *, 1 AS post FROM happened
    UNION ALL
    SELECT *, 2 FROM happened WHERE u(hash(mk, kind, k), 'retry') < 0.004 OR kind = 7
    UNION ALL
    SELECT *, 3 FROM happened WHERE kind IN (3, 5, 6) AND u(hash(mk, kind, k), 'repost') < 0.003
), numbered AS (
    SELECT *, row_number() OVER (ORDER BY at_e, mk, kind, k, post) AS _line_number FROM posted
)
SELECT CASE WHEN post = 3 THEN hx(hash(mk, kind, k), 'sg_event_again') ELSE hx(hash(mk, kind, k), 'sg_event') END
        AS sg_event_id,
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
    CASE WHEN kind = 6 THEN 'https://shop.example.com'
        || coalesce({footer}[ri(hash(mk, k), 'link', {n_links})], m.landing_path)
        || '?utm_source=email&utm_campaign=' || lower(m.campaign_id) END AS url,
    ts(at_e) AS occurred_at,
    CASE WHEN kind = 4 THEN (CASE m.outcome WHEN 'hard' THEN 'Invalid Address'
        ELSE {soft_classes}[ri(mk, 'soft', 3) + 1] END) END AS bounce_classification,
    CASE WHEN kind = 2 THEN k + 1 END AS attempt,
    CASE kind WHEN 5 THEN {opener_agents}[{opener_lut}[ri(hash(mk, k), 'opener', 100) + 1] + 1]
        WHEN 6 THEN {clickers}[ri(mk, 'clicker', {len(_CLICKERS)}) + 1] END AS useragent,
    CASE WHEN kind IN (5, 6) THEN {_ip("hash(mk, 'reader')")}
        WHEN kind IN (3, 4) THEN '149.72.' || ri(mk, 'mta3', 256) || '.' || (1 + ri(mk, 'mta4', 254)) END AS ip,
    '["' || lower(m.campaign_id) || '","' || m.topic || '"]' AS categories,
    '{{"campaign_id":"' || m.campaign_id || '"}}' AS custom_args,
    NULL::VARCHAR AS run_id,
    {asm_groups}[m.topic] AS asm_group_id,
    CASE WHEN kind = 6 THEN ri(hash(mk, k), 'link', {n_links}) END AS url_offset_index,
    CASE WHEN kind = 5 THEN {opener_machine}[{opener_lut}[ri(hash(mk, k), 'opener', 100) + 1] + 1] END
        AS sg_machine_open,
    _line_number
FROM numbered JOIN m USING (mk)
"""


def channel_events_sql(plan: Plan) -> str:
    """Status callbacks of the SMS provider (Twilio) and the push provider (FCM) for every SMS and push message.

    SMS: queued, sent, then delivered, or undelivered / failed with Twilio's error code. Push: sent, then
    delivered (or failed, UNREGISTERED, for a token that went stale) and for some an open from the app. A few
    callbacks are posted twice with the same id, as providers retry.
    """
    end = plan.end_epoch
    bound = 0.0
    cases = []
    for share, status, code, text in _SMS_FAILURES:
        bound += share
        cases.append(f"WHEN u(mk, 'sms_fate') < {bound!r} THEN {lit(status + '|' + code + '|' + text)}")
    sms_fate = "CASE " + " ".join(cases) + " ELSE 'delivered||' END"
    return f"""
WITH m AS (
    SELECT mk, message_id, channel, sent_e,
        CASE channel WHEN 'sms' THEN {sms_fate}
            ELSE (CASE WHEN u(mk, 'push_fate') < 0.012 THEN 'failed|UNREGISTERED|Requested entity was not found.'
                ELSE 'delivered||' END) END AS fate
    FROM msg WHERE channel IN ('sms', 'push')
), ev AS (
    -- kind 0 queued (SMS only), 1 sent, 2 the final status, 3 opened (push only)
    SELECT mk, 0 AS kind, sent_e AS at_e FROM m WHERE channel = 'sms'
    UNION ALL SELECT mk, 1, sent_e + 1 + ri(mk, 'cb_sent', 4) FROM m
    UNION ALL SELECT mk, 2, sent_e + 6 + ri(mk, 'cb_final', 90) FROM m
    UNION ALL
    SELECT mk, 3, sent_e + 120 + floor(86400 * pow(u(mk, 'push_open_at'), 3))::BIGINT FROM m
    WHERE channel = 'push' AND fate LIKE 'delivered%' AND u(mk, 'push_open') < 0.08
), happened AS (
    SELECT * FROM ev WHERE at_e < {end}
), posted AS (
    SELECT *, 1 AS post FROM happened
    UNION ALL SELECT *, 2 FROM happened WHERE u(hash(mk, kind), 'cb_retry') < 0.005
), numbered AS (
    SELECT *, row_number() OVER (ORDER BY at_e, mk, kind, post) AS _line_number FROM posted
)
SELECT hx(hash(mk, kind), 'callback') AS event_id,
    CASE m.channel WHEN 'sms' THEN 'twilio' ELSE 'fcm' END AS provider,
    m.channel,
    CASE m.channel WHEN 'sms' THEN 'SM' || hx(mk, 'sid1') || hx(mk, 'sid2')
        ELSE 'projects/herald-shop/messages/0:' || (1700000000000000 + ri(mk, 'fcm_id', 99999999999))
            || '%' || hx(mk, 'fcm') END AS provider_message_id,
    m.message_id,
    CASE kind WHEN 0 THEN 'queued' WHEN 1 THEN 'sent' WHEN 3 THEN 'opened'
        ELSE split_part(fate, '|', 1) END AS event,
    CASE WHEN kind = 2 THEN nullif(split_part(fate, '|', 2), '') END AS error_code,
    CASE WHEN kind = 2 THEN nullif(split_part(fate, '|', 3), '') END AS detail,
    ts(at_e) AS occurred_at,
    _line_number
FROM numbered JOIN m USING (mk)
"""
