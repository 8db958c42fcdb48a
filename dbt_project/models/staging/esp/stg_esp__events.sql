-- Email provider (SendGrid Event Webhook) events as posted, cleaned and typed. May hold the same event many times.

with

source as (

    select * from {{ herald_source('esp', 'esp_events') }}

),

renamed as (

    select
        ---------- ids
        {{ clean_string('sg_event_id') }} as sg_event_id,
        {{ clean_string('sg_message_id') }} as sg_message_id,
        {{ clean_string('message_id') }} as message_id,
        {{ clean_string('run_id') }} as run_id,

        ---------- strings
        lower({{ clean_string('event') }}) as event_type,
        {{ clean_string('email') }} as email,
        lower({{ clean_string('bounce_type') }}) as provider_bounce_type,
        {{ clean_string('bounce_classification') }} as bounce_classification,
        {{ clean_string('reason') }} as reason,
        {{ clean_string('status') }} as smtp_status,
        {{ clean_string('url') }} as url,
        {{ clean_string('useragent') }} as user_agent,
        {{ clean_string('ip') }} as ip_address,
        {{ clean_string('categories') }} as categories,
        {{ clean_string('custom_args') }} as custom_args,

        ---------- numerics
        cast(attempt as {{ dbt.type_bigint() }}) as attempt,
        cast(asm_group_id as {{ dbt.type_bigint() }}) as asm_group_id,
        cast(url_offset_index as {{ dbt.type_bigint() }}) as url_offset_index,

        ---------- booleans
        coalesce(cast(sg_machine_open as {{ dbt.type_bigint() }}), 0) = 1 as is_machine_open,

        ---------- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at,

        ---------- batch
        {{ landing_batch_columns() }}

    from source

)

select * from renamed
