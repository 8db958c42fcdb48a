-- Website and app behavioural events as landed, cleaned and typed. The biggest source: keep it a plain scan.

with

source as (

    select * from {{ source('app', 'app_events') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('event_id') }} as event_id,
        {{ clean_string('external_key') }} as external_key,

        ---------- strings
        lower({{ clean_string('event_type') }}) as event_type,
        {{ clean_string('properties') }} as properties,

        ---------- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        ---------- batch
        _batch_id as batch_id,
        _source_file as source_file,
        cast(_line_number as {{ dbt.type_bigint() }}) as source_line_number,
        cast(_loaded_at as {{ dbt.type_timestamp() }}) as loaded_at

    from source

)

select * from renamed
