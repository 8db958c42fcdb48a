-- Generated from specs/audiences/staff.yml by `herald audience generate`. Do not edit: edit the spec.
-- spec version 04bf94895944
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
    p.email_domain IN ('herald.invalid', 'shop.example')
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
    p.email_domain IN ('herald.invalid', 'shop.example')
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
    p.email_domain IN ('herald.invalid', 'shop.example')
) AS m

{% else %}

{{ exceptions.raise_compiler_error('audience models are compiled for duckdb, postgres, spark; add the engine to herald.audiences.compiler.DIALECTS and regenerate') }}

{% endif %}
