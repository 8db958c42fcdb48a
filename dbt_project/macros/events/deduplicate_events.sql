{#-
    deduplicate_events(relation, id_column, natural_key): one row per provider event from an append-only
    relation of posted events, counting each event once however it was posted.

    Providers post the same event many times: with the same id (webhook retries) and, now and then, under a
    new id (a batch re-sent). A copy is dropped when its id OR its natural key (an expression over the event's
    own fields: message, type, time, URL...) was seen before. The first landed copy wins (batch id, then line
    of the file): copies are the same event, and "first" is what an incremental build can keep without
    rewriting rows.

    Incremental (append): a build reads only the batches landed after the newest batch already in the table
    (batch ids sort by landing time) and drops the copies of events already there. A full refresh gives the
    same rows. The relation must carry batch_id and source_line_number; `columns` are the columns kept, and
    event_key (the hash of the natural key) is added.
-#}
{% macro deduplicate_events(relation, id_column, natural_key, columns) -%}
with

posted as (

    select
        source_rows.*,
        {{ dbt.hash(natural_key) }} as event_key
    from {{ relation }} as source_rows
    where {{ id_column }} is not null
    {% if is_incremental() %}
        and batch_id > (select coalesce(max(batch_id), '') from {{ this }})
    {% endif %}

),

first_by_id as (

    select
        *,
        row_number() over (
            partition by {{ id_column }}
            order by batch_id, source_line_number
        ) as id_copy

    from posted

),

first_by_key as (

    select
        *,
        row_number() over (
            partition by event_key
            order by batch_id, source_line_number
        ) as key_copy

    from first_by_id
    where id_copy = 1

),

new_events as (

    select * from first_by_key
    where key_copy = 1

)

select
    {% for column in columns -%}
    new_events.{{ column }},
    {% endfor -%}
    new_events.event_key
from new_events
{% if is_incremental() %}
left join {{ this }} as seen_id
    on new_events.{{ id_column }} = seen_id.{{ id_column }}
left join {{ this }} as seen_key
    on new_events.event_key = seen_key.event_key
where seen_id.{{ id_column }} is null
    and seen_key.event_key is null
{% endif %}
{%- endmacro %}
