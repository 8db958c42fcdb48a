{#-
    landing_batch_columns(): the columns every landed row carries, under their staging names: the batch it
    landed in, the file and line it was read from, and when it landed. deduplicate_latest and the incremental
    models rely on these names; every staging model of a landed table ends its select with them.
-#}
{% macro landing_batch_columns() -%}
        _batch_id as batch_id,
        _source_file as source_file,
        cast(_line_number as {{ dbt.type_bigint() }}) as source_line_number,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at
{%- endmacro %}
