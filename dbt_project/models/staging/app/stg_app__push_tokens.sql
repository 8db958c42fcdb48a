-- Push device registrations as landed: every version of every device, cleaned and typed.

with

source as (

    select * from {{ herald_source('app', 'push_tokens') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('device_id') }} as device_id,
        {{ clean_string('external_key') }} as external_key,

        ---------- strings
        lower({{ clean_string('platform') }}) as platform,
        {{ clean_string('token') }} as token,

        ---------- timestamps
        cast(registered_at as {{ dbt.type_timestamp() }}) as registered_at,
        cast(unregistered_at as {{ dbt.type_timestamp() }}) as unregistered_at,

        ---------- batch
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
