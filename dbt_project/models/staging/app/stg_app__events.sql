-- Website and app behavioural events as landed, cleaned and typed. The biggest source: keep it a plain scan.

with

source as (

    select * from {{ herald_source('app', 'app_events') }}

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
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
