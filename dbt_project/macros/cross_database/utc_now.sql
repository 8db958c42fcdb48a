{#-
    utc_now(): the current time as a UTC timestamp without time zone, the type of every *_at column.
    dbt.current_timestamp() is a timestamp WITH time zone on DuckDB and PostgreSQL; a plain cast would
    shift it to the session's time zone.
-#}
{% macro utc_now() -%}
    {{ return(adapter.dispatch('utc_now')()) }}
{%- endmacro %}

{% macro default__utc_now() -%}
    cast({{ dbt.current_timestamp() }} as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro duckdb__utc_now() -%}
    cast(timezone('UTC', {{ dbt.current_timestamp() }}) as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro postgres__utc_now() -%}
    cast(({{ dbt.current_timestamp() }} at time zone 'UTC') as {{ dbt.type_timestamp() }})
{%- endmacro %}
