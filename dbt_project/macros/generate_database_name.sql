{#-
    A model's database: on DuckDB, the one its config names (the delivery runs: `deliveries`, the file
    profiles.yml attaches); elsewhere always the target's, so the same project needs one database there.
-#}
{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {%- if custom_database_name is not none and target.type == 'duckdb' -%}
        {{ custom_database_name | trim }}
    {%- else -%}
        {{ default__generate_database_name(none, node) }}
    {%- endif -%}
{%- endmacro %}
