-- Generated from specs/audiences/winter_sale_test.yml by `herald audience generate`. Do not edit: edit the spec.
-- spec version a37368f835f9
-- depends_on: {{ ref('profile_rollups') }}
{{ config(materialized='table', tags=['audience']) }}

{%- set rollups_current = profile_rollups_are_current() %}

{% if target.type == 'duckdb' and rollups_current %}

SELECT
  m.profile_id,
  CASE
    WHEN SUBSTRING(MD5('winter-sale-2026:' || m.profile_id), 1, 8) < '73333333'
    THEN 'A'
    WHEN SUBSTRING(MD5('winter-sale-2026:' || m.profile_id), 1, 8) < 'e6666666'
    THEN 'B'
    ELSE 'control'
  END AS audience_group
FROM (
  SELECT
    p.profile_id
  FROM {{ ref('profiles') }} AS p
  WHERE
    (
      p.is_email_reachable
      AND NOT COALESCE(STRPOS(LOWER(p.email), LOWER('@herald.invalid')) > 0, FALSE)
    )
    AND (
      p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            LEFT JOIN {{ ref('profile_rollups') }} AS agg
              ON agg.profile_id = p.profile_id
            WHERE
              agg.completed_order_count_365_days >= 1
          ) AS m
        ) AS a
      )
      OR p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            LEFT JOIN {{ ref('profile_rollups') }} AS agg
              ON agg.profile_id = p.profile_id
            WHERE
              p.country_code IN ('FR', 'BE', 'DE')
              AND agg.is_email_newsletter_opted_in
              AND p.is_email_reachable
              AND agg.product_view_event_count_90_days >= 2
          ) AS m
        ) AS a
      )
    )
) AS m

{% elif target.type == 'duckdb' %}

SELECT
  m.profile_id,
  CASE
    WHEN SUBSTRING(MD5('winter-sale-2026:' || m.profile_id), 1, 8) < '73333333'
    THEN 'A'
    WHEN SUBSTRING(MD5('winter-sale-2026:' || m.profile_id), 1, 8) < 'e6666666'
    THEN 'B'
    ELSE 'control'
  END AS audience_group
FROM (
  SELECT
    p.profile_id
  FROM {{ ref('profiles') }} AS p
  WHERE
    (
      p.is_email_reachable
      AND NOT COALESCE(STRPOS(LOWER(p.email), LOWER('@herald.invalid')) > 0, FALSE)
    )
    AND (
      p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            WHERE
              p.profile_id IN (
                SELECT
                  r.profile_id
                FROM {{ ref('orders') }} AS r
                WHERE
                  r.profile_id IS NOT NULL
                  AND r.ordered_at >= {{ as_of() }} - INTERVAL '365' DAY
                  AND r.ordered_at <= {{ as_of() }}
                  AND r.is_completed = TRUE
                GROUP BY
                  r.profile_id
                HAVING
                  COUNT(*) >= 1
              )
          ) AS m
        ) AS a
      )
      OR p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            WHERE
              p.country_code IN ('FR', 'BE', 'DE')
              AND p.profile_id IN (
                SELECT
                  c.profile_id
                FROM {{ ref('profile_consents') }} AS c
                WHERE
                  c.profile_id IS NOT NULL
                  AND c.channel = 'email'
                  AND c.is_opted_in
                  AND c.topic = 'newsletter'
              )
              AND p.is_email_reachable
              AND p.profile_id IN (
                SELECT
                  r.profile_id
                FROM {{ ref('profile_events') }} AS r
                WHERE
                  r.profile_id IS NOT NULL
                  AND r.occurred_at >= {{ as_of() }} - INTERVAL '90' DAY
                  AND r.occurred_at <= {{ as_of() }}
                  AND r.event_type = 'product_view'
                GROUP BY
                  r.profile_id
                HAVING
                  COUNT(*) >= 2
              )
          ) AS m
        ) AS a
      )
    )
) AS m

{% elif target.type == 'postgres' and rollups_current %}

SELECT
  m.profile_id,
  CASE
    WHEN SUBSTRING(MD5('winter-sale-2026:' || m.profile_id) FROM 1 FOR 8) < '73333333'
    THEN 'A'
    WHEN SUBSTRING(MD5('winter-sale-2026:' || m.profile_id) FROM 1 FOR 8) < 'e6666666'
    THEN 'B'
    ELSE 'control'
  END AS audience_group
FROM (
  SELECT
    p.profile_id
  FROM {{ ref('profiles') }} AS p
  WHERE
    (
      p.is_email_reachable
      AND NOT COALESCE(POSITION(LOWER('@herald.invalid') IN LOWER(p.email)) > 0, FALSE)
    )
    AND (
      p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            LEFT JOIN {{ ref('profile_rollups') }} AS agg
              ON agg.profile_id = p.profile_id
            WHERE
              agg.completed_order_count_365_days >= 1
          ) AS m
        ) AS a
      )
      OR p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            LEFT JOIN {{ ref('profile_rollups') }} AS agg
              ON agg.profile_id = p.profile_id
            WHERE
              p.country_code IN ('FR', 'BE', 'DE')
              AND agg.is_email_newsletter_opted_in
              AND p.is_email_reachable
              AND agg.product_view_event_count_90_days >= 2
          ) AS m
        ) AS a
      )
    )
) AS m

{% elif target.type == 'postgres' %}

SELECT
  m.profile_id,
  CASE
    WHEN SUBSTRING(MD5('winter-sale-2026:' || m.profile_id) FROM 1 FOR 8) < '73333333'
    THEN 'A'
    WHEN SUBSTRING(MD5('winter-sale-2026:' || m.profile_id) FROM 1 FOR 8) < 'e6666666'
    THEN 'B'
    ELSE 'control'
  END AS audience_group
FROM (
  SELECT
    p.profile_id
  FROM {{ ref('profiles') }} AS p
  WHERE
    (
      p.is_email_reachable
      AND NOT COALESCE(POSITION(LOWER('@herald.invalid') IN LOWER(p.email)) > 0, FALSE)
    )
    AND (
      p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            WHERE
              p.profile_id IN (
                SELECT
                  r.profile_id
                FROM {{ ref('orders') }} AS r
                WHERE
                  r.profile_id IS NOT NULL
                  AND r.ordered_at >= {{ as_of() }} - INTERVAL '365 DAY'
                  AND r.ordered_at <= {{ as_of() }}
                  AND r.is_completed = TRUE
                GROUP BY
                  r.profile_id
                HAVING
                  COUNT(*) >= 1
              )
          ) AS m
        ) AS a
      )
      OR p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            WHERE
              p.country_code IN ('FR', 'BE', 'DE')
              AND p.profile_id IN (
                SELECT
                  c.profile_id
                FROM {{ ref('profile_consents') }} AS c
                WHERE
                  c.profile_id IS NOT NULL
                  AND c.channel = 'email'
                  AND c.is_opted_in
                  AND c.topic = 'newsletter'
              )
              AND p.is_email_reachable
              AND p.profile_id IN (
                SELECT
                  r.profile_id
                FROM {{ ref('profile_events') }} AS r
                WHERE
                  r.profile_id IS NOT NULL
                  AND r.occurred_at >= {{ as_of() }} - INTERVAL '90 DAY'
                  AND r.occurred_at <= {{ as_of() }}
                  AND r.event_type = 'product_view'
                GROUP BY
                  r.profile_id
                HAVING
                  COUNT(*) >= 2
              )
          ) AS m
        ) AS a
      )
    )
) AS m

{% elif target.type == 'spark' and rollups_current %}

SELECT
  m.profile_id,
  CASE
    WHEN SUBSTRING(MD5(CONCAT('winter-sale-2026:', m.profile_id)), 1, 8) < '73333333'
    THEN 'A'
    WHEN SUBSTRING(MD5(CONCAT('winter-sale-2026:', m.profile_id)), 1, 8) < 'e6666666'
    THEN 'B'
    ELSE 'control'
  END AS audience_group
FROM (
  SELECT
    p.profile_id
  FROM {{ ref('profiles') }} AS p
  WHERE
    (
      p.is_email_reachable
      AND NOT COALESCE(LOCATE(LOWER('@herald.invalid'), LOWER(p.email)) > 0, FALSE)
    )
    AND (
      p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            LEFT JOIN {{ ref('profile_rollups') }} AS agg
              ON agg.profile_id = p.profile_id
            WHERE
              agg.completed_order_count_365_days >= 1
          ) AS m
        ) AS a
      )
      OR p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            LEFT JOIN {{ ref('profile_rollups') }} AS agg
              ON agg.profile_id = p.profile_id
            WHERE
              p.country_code IN ('FR', 'BE', 'DE')
              AND agg.is_email_newsletter_opted_in
              AND p.is_email_reachable
              AND agg.product_view_event_count_90_days >= 2
          ) AS m
        ) AS a
      )
    )
) AS m

{% elif target.type == 'spark' %}

SELECT
  m.profile_id,
  CASE
    WHEN SUBSTRING(MD5(CONCAT('winter-sale-2026:', m.profile_id)), 1, 8) < '73333333'
    THEN 'A'
    WHEN SUBSTRING(MD5(CONCAT('winter-sale-2026:', m.profile_id)), 1, 8) < 'e6666666'
    THEN 'B'
    ELSE 'control'
  END AS audience_group
FROM (
  SELECT
    p.profile_id
  FROM {{ ref('profiles') }} AS p
  WHERE
    (
      p.is_email_reachable
      AND NOT COALESCE(LOCATE(LOWER('@herald.invalid'), LOWER(p.email)) > 0, FALSE)
    )
    AND (
      p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            WHERE
              p.profile_id IN (
                SELECT
                  r.profile_id
                FROM {{ ref('orders') }} AS r
                WHERE
                  r.profile_id IS NOT NULL
                  AND r.ordered_at >= {{ as_of() }} - INTERVAL '365' DAY
                  AND r.ordered_at <= {{ as_of() }}
                  AND r.is_completed = TRUE
                GROUP BY
                  r.profile_id
                HAVING
                  COUNT(*) >= 1
              )
          ) AS m
        ) AS a
      )
      OR p.profile_id IN (
        SELECT
          a.profile_id
        FROM (
          SELECT
            m.profile_id,
            'target' AS audience_group
          FROM (
            SELECT
              p.profile_id
            FROM {{ ref('profiles') }} AS p
            WHERE
              p.country_code IN ('FR', 'BE', 'DE')
              AND p.profile_id IN (
                SELECT
                  c.profile_id
                FROM {{ ref('profile_consents') }} AS c
                WHERE
                  c.profile_id IS NOT NULL
                  AND c.channel = 'email'
                  AND c.is_opted_in
                  AND c.topic = 'newsletter'
              )
              AND p.is_email_reachable
              AND p.profile_id IN (
                SELECT
                  r.profile_id
                FROM {{ ref('profile_events') }} AS r
                WHERE
                  r.profile_id IS NOT NULL
                  AND r.occurred_at >= {{ as_of() }} - INTERVAL '90' DAY
                  AND r.occurred_at <= {{ as_of() }}
                  AND r.event_type = 'product_view'
                GROUP BY
                  r.profile_id
                HAVING
                  COUNT(*) >= 2
              )
          ) AS m
        ) AS a
      )
    )
) AS m

{% else %}

{{ exceptions.raise_compiler_error('audience models are compiled for duckdb, postgres, spark; add the engine to herald.audiences.compiler.DIALECTS and regenerate') }}

{% endif %}
