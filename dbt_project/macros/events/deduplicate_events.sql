{#-
    deduplicate_events(relation, id_column, natural_key): one row per provider event from an append-only
    relation of posted events, counting each event once however it was posted.

    Providers post the same event many times: with the same id (webhook retries) and, now and then, under a
    new id (a batch re-sent). A copy is dropped when its id OR its natural key (an expression over the event's
    own fields: message, type, time, URL...) was seen before. The first landed copy wins (batch id, then line
    of the file): copies are the same event, and "first" is what an incremental build can keep without
    rewriting rows.

    Copies are rare, so only the rows whose id or natural key was posted more than once are ranked: one narrow
    count (id and key, as grouping sets) finds those ids and keys, and every other row streams past them to the
    table. The rows ranked share an id or a key only with each other, so ranking them alone gives what ranking
    every row would. Ranking every wide row instead sorted the whole batch twice, with every column: more than
    twice the CPU at 6M events, and more memory than the machine has at 50M.

    Incremental (append): a build reads only the batches landed after the newest batch already in the table
    (batch ids sort by landing time) and drops the copies of events already there. A full refresh gives the
    same rows. The relation must carry batch_id and source_line_number; `columns` are the columns kept, and
    event_key (the hash of the natural key) is added.
-#}
{% macro deduplicate_events(relation, id_column, natural_key, columns) -%}
{%- set kept = columns + ['event_key'] -%}
{#- The posted rows are read where they are needed rather than shared, so no engine holds them all at once. -#}
{%- set posted -%}
    (
        select
            source_rows.*,
            {{ dbt.hash(natural_key) }} as event_key
        from {{ relation }} as source_rows
        where {{ id_column }} is not null
        {% if is_incremental() %}
            and batch_id > (select coalesce(max(batch_id), '') from {{ this }})
        {% endif %}
    )
{%- endset -%}
with

posted_more_than_once as (

    select
        {{ id_column }},
        event_key
    from {{ posted }} as posted
    group by grouping sets (({{ id_column }}), (event_key))
    having count(*) > 1

),

repeated_ids as (

    select {{ id_column }} from posted_more_than_once
    where {{ id_column }} is not null

),

repeated_keys as (

    select event_key from posted_more_than_once
    where event_key is not null

),

unrepeated as (

    select {% for column in kept %}posted.{{ column }}{{ ", " if not loop.last }}{% endfor %}
    from {{ posted }} as posted
    left join repeated_ids
        on posted.{{ id_column }} = repeated_ids.{{ id_column }}
    left join repeated_keys
        on posted.event_key = repeated_keys.event_key
    where repeated_ids.{{ id_column }} is null
        and repeated_keys.event_key is null

),

repeated as (

    select posted.*
    from {{ posted }} as posted
    left join repeated_ids
        on posted.{{ id_column }} = repeated_ids.{{ id_column }}
    left join repeated_keys
        on posted.event_key = repeated_keys.event_key
    where repeated_ids.{{ id_column }} is not null
        or repeated_keys.event_key is not null

),

first_by_id as (

    select
        *,
        row_number() over (
            partition by {{ id_column }}
            order by batch_id, source_line_number
        ) as id_copy

    from repeated

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

    select {{ kept | join(', ') }} from unrepeated

    union all

    select {{ kept | join(', ') }} from first_by_key
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
