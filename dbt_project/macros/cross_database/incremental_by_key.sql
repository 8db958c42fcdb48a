{#-
    incremental_by_key(unique_key, on_schema_change='fail'): the config of a model whose build recomputes only
    the keys touched since the previous one and replaces their rows (delete+insert on `unique_key`) on DuckDB and
    PostgreSQL. On Spark, whose parquet tables have no delete+insert, it is a table rebuilt whole.
    Use: {{ config(**incremental_by_key('message_id')) }}.
-#}
{% macro incremental_by_key(unique_key, on_schema_change='fail') -%}
    {{ return({
        'materialized': 'table' if target.type == 'spark' else 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': unique_key,
        'on_schema_change': on_schema_change,
    }) }}
{%- endmacro %}
