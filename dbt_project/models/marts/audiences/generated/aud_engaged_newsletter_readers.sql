-- Generated from specs/audiences/engaged_newsletter_readers.yml by `herald audience generate`. Do not edit: edit the spec.
-- spec version 11bc0b7bbd11
{{ config(materialized='table', tags=['audience']) }}

{% if target.type == 'duckdb' %}

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
