-- Email provider (SendGrid Event Webhook) events as posted, cleaned and typed. May hold the same event many times.

with

source as (

    select * from {{ source('esp', 'esp_events') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('sg_event_id') }} as sg_event_id,
        {{ clean_string('sg_message_id') }} as sg_message_id,
        {{ clean_string('message_id') }} as message_id,

        ---------- strings
        lower({{ clean_string('event') }}) as event_type,
        {{ clean_string('email') }} as email,
        lower({{ clean_string('bounce_type') }}) as provider_bounce_type,
        {{ clean_string('reason') }} as reason,
        {{ clean_string('status') }} as smtp_status,
        {{ clean_string('url') }} as url,

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
