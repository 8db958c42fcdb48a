{#-
    clean_string(column): trims a raw string and turns "no value" into null.

    Empty strings mean null in every source. On Spark, dbt seeds load empty cells as the string 'None',
    so that value is nulled out there too. The value is cast to text first, so a column that arrives
    untyped (all nulls) still cleans.

    trim() allocates a new string, and nullif(trim(x), '') evaluates it twice; most values have no
    surrounding spaces, so they are checked with two cheap LIKEs first and passed through untouched.
    (trim() removes spaces only, on every engine; so do the LIKEs.)
-#}
{% macro clean_string(column) -%}
    {{ return(adapter.dispatch('clean_string')(column)) }}
{%- endmacro %}

{% macro default__clean_string(column) -%}
    {%- set value = 'cast(' ~ column ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    case
        when {{ value }} like ' %' or {{ value }} like '% ' then nullif(trim({{ value }}), '')
        when {{ value }} = '' then null
        else {{ value }}
    end
{%- endmacro %}

{% macro spark__clean_string(column) -%}
    {%- set value = 'cast(' ~ column ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    case
        when trim({{ value }}) in ('', 'None') then null
        else trim({{ value }})
    end
{%- endmacro %}
