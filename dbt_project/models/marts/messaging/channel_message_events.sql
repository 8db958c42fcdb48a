-- One row per SMS or push provider callback, counted once however often it was posted, tied to its message,
-- profile and address.
--
-- failure_type classifies a failed or undelivered callback by the provider's error code (see DECISIONS.md):
--   opted_out        Twilio 21610: the recipient replied STOP; an SMS opt-out of every topic
--   invalid_address  the number or token can never receive (Twilio 21211, 21612, 21614, 30005, 30006;
--                    FCM UNREGISTERED, INVALID_ARGUMENT, NOT_FOUND): quarantines the address
--   temporary        any other failure (unreachable handset, carrier filtering, quota...): may pass next time
-- profile_id comes from the send ledger for a message Herald sent, else from the message history's contact.

with

events as (

    select * from {{ ref('int_channel_events_deduplicated') }}

),

joined as (

    select
        events.channel_event_id,
        events.message_id,
        events.provider_message_id,
        {{ event_message_profile_id() }} as profile_id,
        events.provider,
        coalesce(events.channel, sends.channel, messages.channel) as channel,
        events.event_type,
        -- Herald's ledger holds no address: the profile's current phone (SMS); push tokens are not resolved.
        coalesce(
            messages.address,
            case when coalesce(events.channel, sends.channel) = 'sms' then sends_contacts.phone end
        ) as address,
        events.error_code,
        events.detail,
        events.batch_id,
        events.occurred_at

    from events
    {{ join_event_messages('events') }}

),

final as (

    select
        ---------- ids
        cast(channel_event_id as {{ dbt.type_string() }}) as channel_event_id,
        cast(message_id as {{ dbt.type_string() }}) as message_id,
        cast(provider_message_id as {{ dbt.type_string() }}) as provider_message_id,
        cast(profile_id as {{ dbt.type_string() }}) as profile_id,

        ---------- strings
        cast(provider as {{ dbt.type_string() }}) as provider,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(address as {{ dbt.type_string() }}) as address,
        cast(error_code as {{ dbt.type_string() }}) as error_code,
        cast(
            case
                when event_type not in ('failed', 'undelivered') then null
                when error_code = '21610' then 'opted_out'
                when error_code in (
                    '21211', '21612', '21614', '30005', '30006', 'UNREGISTERED', 'INVALID_ARGUMENT', 'NOT_FOUND'
                ) then 'invalid_address'
                else 'temporary'
            end as {{ dbt.type_string() }}
        ) as failure_type,
        cast(detail as {{ dbt.type_string() }}) as detail,
        cast(batch_id as {{ dbt.type_string() }}) as batch_id,

        ---------- timestamps
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at

    from joined

)

select * from final
