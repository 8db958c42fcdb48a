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

{#-
    json_text_columns(column, keys): a select-list fragment with one text column per key, named after it:
    `json_text(column, 'url') as url, json_text(column, 'platform') as platform, ...`.

    Use it where several keys come out of the same JSON, on a big table: DuckDB then parses each value
    once (json_transform to a struct) instead of once per key, which halves the cost of profile_events.
    Text that is not valid JSON gives nulls, as with json_text.
-#}
{% macro json_text_columns(column, keys) -%}
    {%- for key in keys -%}
        {%- if not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_]*', key) -%}
            {{ exceptions.raise_compiler_error("json_text_columns: keys must be plain identifiers, got " ~ key) }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(adapter.dispatch('json_text_columns')(column, keys)) }}
{%- endmacro %}

{% macro default__json_text_columns(column, keys) -%}
    {%- for key in keys %}
    {{ json_text(column, key) }} as {{ key }}{{ "," if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro duckdb__json_text_columns(column, keys) -%}
    {%- set shape = [] -%}
    {%- for key in keys -%}{%- do shape.append('"' ~ key ~ '":"VARCHAR"') -%}{%- endfor %}
    unnest(json_transform(
        case when json_valid({{ column }}) then {{ column }} end,
        '{{ "{" ~ shape | join(",") ~ "}" }}'
    ))
{%- endmacro %}
