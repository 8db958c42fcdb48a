{#-
    deduplicate_latest(relation, key): one row per key from an append-only raw relation, the latest landed
    version winning: latest batch first (_loaded_at, then _batch_id, which sorts by time), then the last
    line of the file. Rows whose key is null are dropped (they cannot be addressed by any other record).

    The relation must carry the staging names of the batch columns: loaded_at, batch_id, source_line_number.
-#}
{% macro deduplicate_latest(relation, key) -%}
with

versions as (

    select
        *,
        row_number() over (
            partition by {{ key }}
            order by loaded_at desc, batch_id desc, source_line_number desc
        ) as version_rank

    from {{ relation }}
    where {{ key }} is not null

)

select * from versions
where version_rank = 1
{%- endmacro %}
