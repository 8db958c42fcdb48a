-- One row per event of the in-app inbox (a profile read, dismissed, or followed a link of a message), typed.
-- DuckDB reads the inbox's JSON lines in place; on other engines (which would load the same files into a table
-- of their own) this is an empty relation of the same columns for now, so the models reading it stay portable.

with

{% if target.type == 'duckdb' %}
source as (

    select * from {{ source('senders', 'inbox_events') }}

),
{% else %}
source as (

    select
        cast(null as {{ dbt.type_string() }}) as filename,
        cast(null as {{ dbt.type_string() }}) as message_id,
        cast(null as {{ dbt.type_string() }}) as profile_id,
        cast(null as {{ dbt.type_string() }}) as event,
        cast(null as {{ dbt.type_string() }}) as occurred_at
    from {{ ref('stg_reference__country_calling_codes') }}
    where 1 = 0

),
{% endif %}

renamed as (

    select
        ---------- ids
        -- One event per file, named by its uuid.
        {{ dbt.hash('filename') }} as inbox_event_id,
        message_id,
        profile_id,

        ---------- strings
        lower(event) as event_type,

        ---------- timestamps
        cast(replace(replace(occurred_at, 'T', ' '), 'Z', '') as {{ dbt.type_timestamp() }}) as occurred_at

    from source
    where message_id is not null

)

select * from renamed
