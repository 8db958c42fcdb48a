-- Generated from specs/audiences/birthdays_this_week.yml by `herald audience generate`. Do not edit: edit the spec.
-- spec version 49061c7d643e
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
    (
      p.birth_date IS NOT NULL
      AND (
        MAKE_DATE(
          CAST(YEAR(CAST({{ as_of() }} AS DATE)) AS INT),
          CAST(MONTH(p.birth_date) AS INT),
          CASE
            WHEN CAST(MONTH(p.birth_date) AS INT) = 2 AND DAY(p.birth_date) = 29
            THEN 28
            ELSE CAST(DAY(p.birth_date) AS INT)
          END
        ) BETWEEN CAST({{ as_of() }} AS DATE) AND CAST({{ as_of() }} AS DATE) + INTERVAL '7' DAY
        OR MAKE_DATE(
          CAST(YEAR(CAST({{ as_of() }} AS DATE)) AS INT) + 1,
          CAST(MONTH(p.birth_date) AS INT),
          CASE
            WHEN CAST(MONTH(p.birth_date) AS INT) = 2 AND DAY(p.birth_date) = 29
            THEN 28
            ELSE CAST(DAY(p.birth_date) AS INT)
          END
        ) BETWEEN CAST({{ as_of() }} AS DATE) AND CAST({{ as_of() }} AS DATE) + INTERVAL '7' DAY
      )
    )
    AND (
      p.is_email_reachable OR p.is_sms_reachable
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
    (
      p.birth_date IS NOT NULL
      AND (
        MAKE_DATE(
          CAST(EXTRACT(YEAR FROM CAST({{ as_of() }} AS DATE)) AS INT),
          CAST(EXTRACT(MONTH FROM p.birth_date) AS INT),
          CASE
            WHEN CAST(EXTRACT(MONTH FROM p.birth_date) AS INT) = 2
            AND EXTRACT(DAY FROM p.birth_date) = 29
            THEN 28
            ELSE CAST(EXTRACT(DAY FROM p.birth_date) AS INT)
          END
        ) BETWEEN CAST({{ as_of() }} AS DATE) AND CAST({{ as_of() }} AS DATE) + INTERVAL '7 DAY'
        OR MAKE_DATE(
          CAST(EXTRACT(YEAR FROM CAST({{ as_of() }} AS DATE)) AS INT) + 1,
          CAST(EXTRACT(MONTH FROM p.birth_date) AS INT),
          CASE
            WHEN CAST(EXTRACT(MONTH FROM p.birth_date) AS INT) = 2
            AND EXTRACT(DAY FROM p.birth_date) = 29
            THEN 28
            ELSE CAST(EXTRACT(DAY FROM p.birth_date) AS INT)
          END
        ) BETWEEN CAST({{ as_of() }} AS DATE) AND CAST({{ as_of() }} AS DATE) + INTERVAL '7 DAY'
      )
    )
    AND (
      p.is_email_reachable OR p.is_sms_reachable
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
    (
      p.birth_date IS NOT NULL
      AND (
        MAKE_DATE(
          CAST(YEAR(CAST({{ as_of() }} AS DATE)) AS INT),
          CAST(MONTH(p.birth_date) AS INT),
          CASE
            WHEN CAST(MONTH(p.birth_date) AS INT) = 2 AND DAY(p.birth_date) = 29
            THEN 28
            ELSE CAST(DAY(p.birth_date) AS INT)
          END
        ) BETWEEN CAST({{ as_of() }} AS DATE) AND CAST({{ as_of() }} AS DATE) + INTERVAL '7' DAY
        OR MAKE_DATE(
          CAST(YEAR(CAST({{ as_of() }} AS DATE)) AS INT) + 1,
          CAST(MONTH(p.birth_date) AS INT),
          CASE
            WHEN CAST(MONTH(p.birth_date) AS INT) = 2 AND DAY(p.birth_date) = 29
            THEN 28
            ELSE CAST(DAY(p.birth_date) AS INT)
          END
        ) BETWEEN CAST({{ as_of() }} AS DATE) AND CAST({{ as_of() }} AS DATE) + INTERVAL '7' DAY
      )
    )
    AND (
      p.is_email_reachable OR p.is_sms_reachable
    )
) AS m

{% else %}

{{ exceptions.raise_compiler_error('audience models are compiled for duckdb, postgres, spark; add the engine to herald.audiences.compiler.DIALECTS and regenerate') }}

{% endif %}
