-- Generated from specs/audiences/recent_buyers.yml by `herald audience generate`. Do not edit: edit the spec.
-- spec version f1f000277ef4
-- depends_on: {{ ref('profile_rollups') }}
{{ config(materialized='table', tags=['audience']) }}

{%- set rollups_current = profile_rollups_are_current() %}

{% if target.type == 'duckdb' and rollups_current %}

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

{% elif target.type == 'duckdb' %}

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

{% elif target.type == 'postgres' and rollups_current %}

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

{% elif target.type == 'postgres' %}

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

{% elif target.type == 'spark' and rollups_current %}

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

{% elif target.type == 'spark' %}

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

{% else %}

{{ exceptions.raise_compiler_error('audience models are compiled for duckdb, postgres, spark; add the engine to herald.audiences.compiler.DIALECTS and regenerate') }}

{% endif %}
