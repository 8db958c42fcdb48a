{#-
    as_of(): the reference time of time windows ("opened in the last 90 days"), as a UTC timestamp.
    Set with the var `as_of` (e.g. --vars '{as_of: "2026-06-30 00:00:00"}') to rebuild a past state;
    null (the default) means the environment's HERALD_AS_OF (`herald build` sets it to the build's start,
    and records it), else the time of the query. An environment variable rather than a var: a var that changes
    on every build would make dbt re-parse the whole project every time; and read only when a model runs
    (`execute`), never while dbt parses, so that a new value re-parses nothing.
-#}
{% macro as_of() -%}
    {%- set value = var('as_of', none) or (env_var('HERALD_AS_OF', '') if execute else '') -%}
    {%- if value is none or value == '' -%}
        {{ utc_now() }}
    {%- else -%}
        cast('{{ value | string | replace("'", "") }}' as {{ dbt.type_timestamp() }})
    {%- endif -%}
{%- endmacro %}

{#- engagement_window_start(): start (exclusive) of the engagement window that ends at as_of(). -#}
{% macro engagement_window_start() -%}
    {{ dbt.dateadd('day', -1 * (var('engagement_window_days') | int), as_of()) }}
{%- endmacro %}
