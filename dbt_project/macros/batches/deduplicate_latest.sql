{#-
    deduplicate_latest(relation, key): one row per key from an append-only raw relation, the latest landed
    version winning: latest batch first (loaded_at, then batch_id, which sorts by time), then the last line
    of the file. Rows whose key is null are dropped (nothing can refer to them).

    The relation must carry the staging names of the batch columns: loaded_at, batch_id, source_line_number
    (a batch and a line identify one landed row).

    Most keys land once, so the ranking runs only on the keys seen more than once: a narrow count per key
    finds them, the older versions of those keys are ranked out, and one pass over the wide rows drops them
    (an anti-join against a small table). At tens of millions of events that is several times cheaper than
    a window over every wide row, and it is plain SQL on every engine.
-#}
{% macro deduplicate_latest(relation, key) -%}
with

keys_landed_more_than_once as (

    select {{ key }}
    from {{ relation }}
    where {{ key }} is not null
    group by {{ key }}
    having count(*) > 1

),

repeated_versions as (

    select
        versions.{{ key }},
        versions.batch_id,
        versions.source_line_number,
        row_number() over (
            partition by versions.{{ key }}
            order by
                versions.loaded_at desc,
                versions.batch_id desc,
                versions.source_line_number desc
        ) as version_rank

    from {{ relation }} as versions
    inner join keys_landed_more_than_once
        on versions.{{ key }} = keys_landed_more_than_once.{{ key }}

),

superseded_versions as (

    select * from repeated_versions
    where version_rank > 1

),

latest_versions as (

    select versions.*
    from {{ relation }} as versions
    left join superseded_versions
        on versions.{{ key }} = superseded_versions.{{ key }}
        and versions.batch_id = superseded_versions.batch_id
        and versions.source_line_number = superseded_versions.source_line_number
    where versions.{{ key }} is not null
        and superseded_versions.{{ key }} is null

)

select * from latest_versions
{%- endmacro %}
