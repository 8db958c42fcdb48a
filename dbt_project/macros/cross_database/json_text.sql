{#-
    json_text(column, key): the value of a top-level key of a JSON object held as text, as text.

    Returns null when the key is absent, the value is JSON null, or the text is not a JSON object.
    Only the SQL function differs between engines; the key must be a plain identifier.
-#}
{% macro json_text(column, key) -%}
    {%- if not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', key) -%}
        {{ exceptions.raise_compiler_error("json_text: key must be a plain identifier, got " ~ key) }}
    {%- endif -%}
    {{ return(adapter.dispatch('json_text')(column, key)) }}
{%- endmacro %}

{% macro default__json_text(column, key) -%}
    json_extract_string({{ column }}, '$.{{ key }}')
{%- endmacro %}

{% macro duckdb__json_text(column, key) -%}
    json_extract_string(try_cast({{ column }} as json), '$.{{ key }}')
{%- endmacro %}

{#- PostgreSQL 15 has no "try" cast: text that is not shaped like a JSON object is skipped, not parsed. -#}
{% macro postgres__json_text(column, key) -%}
    (case when substr(trim({{ column }}), 1, 1) = '{' then ({{ column }}::json ->> '{{ key }}') end)
{%- endmacro %}

{% macro spark__json_text(column, key) -%}
    get_json_object({{ column }}, '$.{{ key }}')
{%- endmacro %}
