-- Generated from specs/audiences/engaged_newsletter_readers.yml by `herald audience generate`. Do not edit: edit the spec.
-- spec version 11bc0b7bbd11
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
    p.country_code IN ('FR', 'BE', 'DE')
    AND agg.is_email_newsletter_opted_in
    AND p.is_email_reachable
    AND agg.product_view_event_count_90_days >= 2
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
    p.country_code IN ('FR', 'BE', 'DE')
    AND agg.is_email_newsletter_opted_in
    AND p.is_email_reachable
    AND agg.product_view_event_count_90_days >= 2
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
    p.country_code IN ('FR', 'BE', 'DE')
    AND agg.is_email_newsletter_opted_in
    AND p.is_email_reachable
    AND agg.product_view_event_count_90_days >= 2
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

{% else %}

{{ exceptions.raise_compiler_error('audience models are compiled for duckdb, postgres, spark; add the engine to herald.audiences.compiler.DIALECTS and regenerate') }}

{% endif %}
