{#-
    clean_string(column): trims a raw string and turns "no value" into null.

    Empty strings mean null in every source. On Spark, dbt seeds load empty cells as the string 'None',
    so that value is nulled out there too. The value is cast to text first, so a column that arrives
    untyped (all nulls) still cleans.
-#}
{% macro clean_string(column) -%}
    {{ return(adapter.dispatch('clean_string')(column)) }}
{%- endmacro %}

{% macro default__clean_string(column) -%}
    nullif(trim(cast({{ column }} as {{ dbt.type_string() }})), '')
{%- endmacro %}

{% macro spark__clean_string(column) -%}
    case
        when trim(cast({{ column }} as {{ dbt.type_string() }})) in ('', 'None') then null
        else trim(cast({{ column }} as {{ dbt.type_string() }}))
    end
{%- endmacro %}
