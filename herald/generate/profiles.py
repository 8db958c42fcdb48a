"""Profiles: who the people are, and the CRM contact rows (with their deliberate mess) built from them."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa

from herald.generate._sql import int_list, inverse_cdf, lit, str_list
from herald.generate.plan import CREATED_SKEW, CREATED_SPAN, FIRST_RANDOM_PROFILE, FORCED_FATE, FORCED_MESS, Plan
from herald.generate.reference import COUNTRIES, GLOBAL_DOMAINS, Country, reserved_domain

_POSTALS_PER_CITY = 24

# Phone styles: national spaced, +CC spaced, 00CC compact, +CC compact, national compact, national dashed.
_PHONE_STYLE_WEIGHTS = (35, 25, 5, 20, 10, 5)


def _postal_codes(country: str, city: str, pattern: str) -> list[str]:
    rng = random.Random(f"{country}/{city}/{pattern}")  # str seeds are stable across runs and platforms
    codes: set[str] = set()
    for _ in range(_POSTALS_PER_CITY * 4):
        codes.add(
            "".join(
                str(rng.randrange(10)) if ch == "#" else chr(65 + rng.randrange(26)) if ch == "@" else ch
                for ch in pattern
            )
        )
        if len(codes) >= _POSTALS_PER_CITY:
            break
    return sorted(codes)


def register_countries(con: duckdb.DuckDBPyConnection) -> None:
    """Small reference tables, joined by (country, index): per-row lists would be copied into every row."""
    countries, cities, postals, picks = [], [], [], []
    for ci, c in enumerate(COUNTRIES, start=1):
        lists = {
            "first": c.first_names,
            "last": c.last_names,
            "street": c.streets,
            "line2": c.address_line2,
            "domain": tuple(reserved_domain(d) for d in (*c.domains, *GLOBAL_DOMAINS, *GLOBAL_DOMAINS)),
            "mobile": c.mobile_prefixes,
        }
        countries.append(
            {
                "ci": ci,
                "country_code": c.code,
                "currency": c.currency,
                "dial": c.dial,
                "trunk": c.trunk,
                "nsn_length": c.nsn_length,
                "utc_offset": c.utc_offset,
                "number_first": c.street_number_first,
                "n_city": len(c.cities),
                **{f"n_{kind}": len(values) for kind, values in lists.items()},
            }
        )
        picks += [{"ci": ci, "kind": kind, "k": k, "value": v} for kind, vs in lists.items() for k, v in enumerate(vs)]
        for k, city in enumerate(c.cities):
            codes = _postal_codes(c.code, city.name, city.postal_pattern)
            cities.append(
                {
                    "ci": ci,
                    "k": k,
                    "city": city.name,
                    "language_code": city.language,
                    "time_zone": city.time_zone,
                    "n_postal": len(codes),
                }
            )
            postals += [{"ci": ci, "city_k": k, "k": j, "postal_code": code} for j, code in enumerate(codes)]
    for name, rows in (("ref_country", countries), ("ref_city", cities), ("ref_postal", postals), ("ref_pick", picks)):
        con.register(f"{name}_arrow", pa.Table.from_pylist(rows))
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.unregister(f"{name}_arrow")


def install_profile_macros(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Profile facts that other tables need by profile number alone, so they need no join to ``p``.

    Keys follow sign-up order (``C0000001`` is the oldest customer), with sign-ups growing towards the end.
    """
    n, end = plan.profiles, plan.end_epoch
    country_lut = int_list([x + 1 for x in inverse_cdf([c.weight for c in COUNTRIES], 200)])
    offsets = int_list([c.utc_offset for c in COUNTRIES])
    con.execute(f"CREATE OR REPLACE MACRO key_of(i) AS 'C' || lpad((i)::VARCHAR, {plan.key_digits}, '0')")
    con.execute(
        f"CREATE OR REPLACE MACRO created_of(i) AS "
        f"{end} - 1 - floor({CREATED_SPAN} * pow(({n} - (i) + 0.5) / {n}, {CREATED_SKEW}))::BIGINT"
    )
    con.execute(f"CREATE OR REPLACE MACRO ci_of(i) AS {country_lut}[ri(i, 'country', 200) + 1]")
    con.execute(f"CREATE OR REPLACE MACRO offset_of(i) AS {offsets}[ci_of(i)]")
    con.execute(
        "CREATE OR REPLACE MACRO platform_of(i) AS "
        "CASE WHEN u(i, 'app') < 0.38 THEN (CASE WHEN u(i, 'ios') < 0.45 THEN 'ios' ELSE 'android' END) END"
    )


def _grouped(expr: str, groups: tuple[int, ...], sep: str) -> str:
    parts, pos = [], 1
    for g in groups:
        parts.append(f"substr({expr}, {pos}, {g})")
        pos += g
    return f" || {lit(sep)} || ".join(parts)


def _per_country(render: dict[str, str]) -> str:
    whens = " ".join(f"WHEN {lit(code)} THEN {sql}" for code, sql in render.items())
    return f"CASE country_code {whens} END"


def _phone_sql() -> str:
    """The phone as typed: one of six common styles, in the country's own digit grouping."""
    national: dict[str, str] = {}
    dashed: dict[str, str] = {}
    intl: dict[str, str] = {}
    for c in COUNTRIES:
        _check_groups(c)
        national[c.code] = _grouped("(trunk || nsn)", c.national_groups, " ")
        dashed[c.code] = (
            "'(' || substr(nsn, 1, 3) || ') ' || substr(nsn, 4, 3) || '-' || substr(nsn, 7, 4)"
            if c.code == "US"
            else _grouped("(trunk || nsn)", c.national_groups, "-")
        )
        intl[c.code] = _grouped("nsn", c.intl_groups, " ")
    styles = int_list(inverse_cdf(_PHONE_STYLE_WEIGHTS, 20))
    return f"""CASE {styles}[ri(i, 'phone_style', 20) + 1]
        WHEN 0 THEN {_per_country(national)}
        WHEN 1 THEN '+' || dial || ' ' || {_per_country(intl)}
        WHEN 2 THEN '00' || dial || nsn
        WHEN 3 THEN '+' || dial || nsn
        WHEN 4 THEN trunk || nsn
        ELSE {_per_country(dashed)} END"""


def _check_groups(c: Country) -> None:
    if sum(c.national_groups) != c.nsn_length + len(c.trunk) or sum(c.intl_groups) != c.nsn_length:
        raise ValueError(f"phone digit groups of {c.code} do not add up")


def _fate_sql(plan: Plan) -> str:
    forced = " ".join(f"WHEN i = {i} THEN {lit(f)}" for i, f in FORCED_FATE.items())
    # Deliverability stories need a long history: only customers of more than a year get one.
    return f"""CASE {forced}
        WHEN i < {FIRST_RANDOM_PROFILE} OR i > {int(plan.profiles * 0.6)} THEN 'normal'
        WHEN u(i, 'fate') < 0.006 THEN 'hard'
        WHEN u(i, 'fate') < 0.0075 THEN 'quarantine'
        WHEN u(i, 'fate') < 0.009 THEN 'reset'
        WHEN u(i, 'fate') < 0.011 THEN 'complainer'
        ELSE 'normal' END"""


def _mess_sql() -> str:
    forced = " ".join(f"WHEN i = {i} THEN {lit(m)}" for i, m in FORCED_MESS.items())
    return f"""CASE {forced}
        WHEN i < {FIRST_RANDOM_PROFILE} THEN NULL
        WHEN u(i, 'mess') < 0.006 THEN 'dup'
        WHEN u(i, 'mess') < 0.009 THEN 'invalid_email'
        WHEN u(i, 'mess') < 0.011 THEN 'empty'
        WHEN u(i, 'mess') < 0.016 THEN 'odd_phone'
        WHEN u(i, 'mess') < 0.031 THEN 'update'
        END"""


def create_profiles(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Table ``p``: one row per profile with everything later tables derive from (internal columns included)."""
    # Order segments: none, one, two, a few, regular, loyal (many orders).
    segment_lut = int_list(inverse_cdf([42, 20, 13, 15, 7, 3], 100))
    picks = ("first", "last", "street", "line2", "domain", "mobile")
    pick_keys = ",\n        ".join(f"ri(i, {lit(k)}, c.n_{k}) AS {k}_k" for k in picks)
    pick_joins = "\n".join(
        f"JOIN ref_pick {k} ON {k}.ci = x.ci AND {k}.kind = {lit(k)} AND {k}.k = x.{k}_k" for k in picks
    )
    con.execute(f"""
CREATE OR REPLACE TABLE p_base AS
WITH base AS (
    SELECT i, ci_of(i) AS ci,
        {_fate_sql(plan)} AS fate,
        {_mess_sql()} AS mess_raw,
        {segment_lut}[ri(i, 'segment', 100) + 1] AS seg
    FROM range(1, {plan.profiles} + 1) t(i)
), x AS (
    SELECT b.*, c.* EXCLUDE (ci),
        floor(c.n_city * pow(u(i, 'city'), 1.5))::BIGINT AS city_k,
        {pick_keys},
        CASE WHEN fate = 'normal' THEN mess_raw WHEN mess_raw IN ('dup', 'update') THEN mess_raw END AS mess
    FROM base b JOIN ref_country c USING (ci)
)
SELECT x.i, key_of(x.i) AS external_key,
    x.ci, x.country_code, x.currency, x.dial, x.trunk, x.utc_offset, x.number_first, x.n_city, x.n_street,
    x.city_k, x.fate, x.mess, x.seg, x.nsn_length,
    cy.city, cy.language_code, cy.time_zone, pc.postal_code,
    first.value AS first_name, last.value AS last_name, domain.value AS domain, mobile.value AS mobile_prefix,
    CASE WHEN x.number_first THEN (1 + floor(150 * pow(u(x.i, 'house'), 2)))::BIGINT || ' ' || street.value
         ELSE street.value || ' ' || (1 + floor(150 * pow(u(x.i, 'house'), 2)))::BIGINT END AS address_line1,
    CASE WHEN u(x.i, 'line2') < 0.15 THEN line2.value END AS address_line2,
    created_of(x.i) AS created_e,
    CASE WHEN u(x.i, 'birth') < 0.06 THEN NULL
         ELSE DATE '{plan.end_date.isoformat()}' - (6574 + floor(22645 * pow(u(x.i, 'age'), 1.4)))::INTEGER
    END AS birth_date,
    platform_of(x.i) AS app_platform,
    CASE WHEN u(x.i, 'opener') < 0.35 THEN 0.0 ELSE 0.08 + 0.6 * u(x.i, 'open_rate') END AS open_rate
FROM x
JOIN ref_city cy ON cy.ci = x.ci AND cy.k = x.city_k
JOIN ref_postal pc ON pc.ci = x.ci AND pc.city_k = x.city_k AND pc.k = ri(x.i, 'postal', cy.n_postal)
{pick_joins}
""")
    _finish_profiles(con, plan)


_LOCAL_PART = """lower(CASE ri(i, 'email_style', 6)
    WHEN 0 THEN first_name || '.' || last_name
    WHEN 1 THEN first_name || last_name
    WHEN 2 THEN left(first_name, 1) || '.' || last_name
    WHEN 3 THEN first_name || '_' || last_name
    WHEN 4 THEN last_name || '.' || first_name
    ELSE left(first_name, 1) || last_name END)"""


def _finish_profiles(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    end = plan.end_epoch
    con.execute(f"""
CREATE OR REPLACE TABLE p AS
WITH ranks AS (
    -- Two people whose names give the same address get a number, as mail providers make them do.
    SELECT i, {_LOCAL_PART} AS local_base,
        row_number() OVER (PARTITION BY {_LOCAL_PART}, domain ORDER BY i) AS same_name_rank
    FROM p_base
)
SELECT b.*,
    mobile_prefix || lpad((ri(i, 'phone', pow(10, nsn_length - len(mobile_prefix))::BIGINT))::VARCHAR,
                          (nsn_length - len(mobile_prefix))::INTEGER, '0') AS nsn,
    local_base || CASE WHEN same_name_rank > 1 THEN same_name_rank::VARCHAR ELSE '' END || '@' || domain AS email,
    least({end} - 1, created_e + floor((({end} - created_e) * pow(u(i, 'app_reg'), 2)))::BIGINT) AS app_reg_e,
    u(i, 'no_phone') < 0.08 AND fate = 'normal' AS no_phone
FROM p_base b JOIN ranks USING (i)
""")
    con.execute("DROP TABLE p_base")


_TIERS = "['bronze', 'bronze', 'silver', 'silver', 'gold', 'platinum']"
_SOURCES = str_list(["instagram", "google", "referral", "store", "newsletter", "tiktok", "facebook"])


def contacts_sql(plan: Plan) -> str:
    """Every CRM contact of the first export: the profiles, plus duplicate people under new keys."""
    end = plan.end_epoch
    first_dup = plan.profiles + 1
    return f"""
WITH typed AS (
    SELECT *,
        CASE
            WHEN mess = 'invalid_email' THEN CASE WHEN i = 4 THEN 'bob@' WHEN i = 5 THEN 'no-at-sign.example.com'
                ELSE [
                    'bob@',
                    replace(email, '@', '.'),
                    split_part(email, '.', 1) || '@' || split_part(split_part(email, '@', 2), '.', 1),
                    replace(email, '@', '@@')
                ][ri(i, 'invalid', 4) + 1] END
            WHEN u(i, 'email_case') < 0.03 THEN upper(left(email, 1)) || substr(email, 2)
            WHEN u(i, 'email_case') < 0.04 THEN email || ' '
            WHEN u(i, 'email_case') < 0.05 THEN upper(email)
            ELSE email END AS email_typed,
        CASE
            WHEN mess = 'odd_phone' THEN CASE WHEN i = 7 THEN '12345' ELSE [
                    '+' || dial || ' (0)' || nsn,
                    trunk || regexp_replace(nsn, '(\\d\\d)', '\\1.', 'g'),
                    'tel ' || trunk || nsn,
                    left(nsn, 4),
                    '  ' || trunk || nsn || '  ',
                    '+' || dial || '-' || nsn
                ][CASE WHEN i = 8 THEN 1 ELSE ri(i, 'odd_phone', 6) + 1 END] END
            WHEN no_phone THEN NULL
            ELSE {_phone_sql()} END AS phone_typed,
        least({end} - 1, created_e + CASE WHEN u(i, 'touched') < 0.3 THEN 0
            ELSE floor(({end} - created_e) * pow(u(i, 'updated'), 3))::BIGINT END) AS updated_e,
        {_attributes_sql()} AS attributes
    FROM p
    JOIN ref_city store ON store.ci = p.ci AND store.k = ri(p.i, 'store_city', p.n_city)
), rows AS (
    SELECT i AS ord, external_key,
        CASE WHEN mess = 'empty' THEN '' ELSE first_name END AS first_name,
        last_name, email_typed AS email,
        CASE WHEN mess = 'empty' THEN '' ELSE phone_typed END AS phone,
        address_line1,
        CASE WHEN mess = 'empty' THEN '' ELSE address_line2 END AS address_line2,
        postal_code,
        CASE WHEN mess = 'empty' THEN '' ELSE city END AS city,
        country_code, language_code, time_zone, birth_date, attributes,
        ts(created_e) AS created_at, ts(updated_e) AS updated_at
    FROM typed
    UNION ALL
    -- The same person entered again (another store, another form): same email, other case or spacing.
    SELECT {plan.profiles} + row_number() OVER (ORDER BY i) AS ord,
        key_of({first_dup} - 1 + row_number() OVER (ORDER BY i)) AS external_key,
        first_name,
        CASE WHEN u(i, 'dup_last') < 0.5 THEN upper(last_name) ELSE last_name END,
        [upper(email), ' ' || email || ' ', upper(left(email, 1)) || substr(email, 2) || ' '][
            ri(i, 'dup_email', 3) + 1],
        CASE WHEN no_phone THEN NULL ELSE '+' || dial || ' ' || nsn END,
        address_line1, NULL, postal_code, city, country_code, language_code, time_zone,
        CASE WHEN u(i, 'dup_birth') < 0.5 THEN birth_date END,
        NULL,
        ts(least({end} - 1, created_e + 86400 + floor(({end} - created_e) * u(i, 'dup_created'))::BIGINT)),
        ts(least({end} - 1, created_e + 86400 + floor(({end} - created_e) * u(i, 'dup_created'))::BIGINT))
    FROM typed WHERE mess = 'dup'
)
SELECT *, ord AS _line_number FROM rows
"""


def contact_updates_sql(plan: Plan) -> str:
    """The second export: some contacts moved to another city of their country."""
    end = plan.end_epoch
    return f"""
WITH moved AS (
    SELECT *, (city_k + 1 + ri(i, 'move', n_city - 1)) % n_city AS new_k FROM p WHERE mess = 'update'
)
SELECT row_number() OVER (ORDER BY m.i) AS _line_number, m.external_key, m.first_name, m.last_name, m.email,
    '+' || m.dial || ' ' || m.nsn AS phone,
    CASE WHEN m.number_first THEN (1 + ri(m.i, 'new_house', 80))::VARCHAR || ' ' || street.value
         ELSE street.value || ' ' || (1 + ri(m.i, 'new_house', 80))::VARCHAR END AS address_line1,
    NULL AS address_line2,
    pc.postal_code,
    cy.city,
    m.country_code, cy.language_code, cy.time_zone, m.birth_date,
    NULL AS attributes,
    ts(m.created_e) AS created_at,
    ts({end} - 3600 - ri(m.i, 'moved_at', 20 * 86400)) AS updated_at
FROM moved m
JOIN ref_city cy ON cy.ci = m.ci AND cy.k = m.new_k
JOIN ref_postal pc ON pc.ci = m.ci AND pc.city_k = m.new_k AND pc.k = ri(m.i, 'new_postal', cy.n_postal)
JOIN ref_pick street ON street.ci = m.ci AND street.kind = 'street' AND street.k = ri(m.i, 'new_street', m.n_street)
"""


def _attributes_sql() -> str:
    """Custom attributes as the CRM exports them: a JSON object, sometimes empty or missing."""
    return f"""CASE
        WHEN u(i, 'attrs') < 0.05 THEN NULL
        WHEN u(i, 'attrs') < 0.08 THEN '{{}}'
        ELSE '{{"loyalty_tier":"' || {_TIERS}[seg + 1]
            || '","preferred_store":"' || CASE WHEN u(i, 'store') < 0.7 THEN p.city
                                              ELSE store.city END
            || '"' || CASE WHEN u(i, 'acq') < 0.6
                THEN ',"acquisition_source":"' || {_SOURCES}[ri(i, 'acq_src', 7) + 1] || '"' ELSE '' END
            || CASE WHEN seg = 5 THEN ',"vip":true' ELSE '' END
            || '}}' END"""
