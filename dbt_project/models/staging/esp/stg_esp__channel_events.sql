-- SMS (Twilio) and push (FCM) provider callbacks as posted, cleaned and typed. May hold the same callback many
-- times.

with

source as (

    select * from {{ herald_source('esp', 'channel_events') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('event_id') }} as channel_event_id,
        {{ clean_string('provider_message_id') }} as provider_message_id,
        {{ clean_string('message_id') }} as message_id,

        ---------- strings
        lower({{ clean_string('provider') }}) as provider,
        lower({{ clean_string('channel') }}) as channel,
        lower({{ clean_string('event') }}) as event_type,
        upper({{ clean_string('error_code') }}) as error_code,
        {{ clean_string('detail') }} as detail,

        ---------- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        ---------- batch
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
