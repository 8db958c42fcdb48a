-- One row per consent event that applies to a known profile: the CRM's consent events, mapped through
-- identity resolution, plus the email provider's unsubscribe events.
--
-- A provider 'unsubscribe' (the recipient used the provider's unsubscribe link) is recorded as an email
-- opt-out of every topic (topic 'all', source 'esp_unsubscribe'); a later opt-in to a topic re-subscribes.
-- Likewise an SMS the provider refused because the recipient replied STOP (Twilio error 21610) is an SMS
-- opt-out of every topic (source 'sms_stop'). Both hold for Herald's own sends (profile from the send list)
-- and for the imported history (profile from the message's contact).
-- Events with a channel or status Herald does not know, or for a contact the CRM does not know, are left out.

with

crm_events as (

    select * from {{ ref('int_consent_events_deduplicated') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

message_events as (

    select * from {{ ref('message_events') }}

),

channel_events as (

    select * from {{ ref('channel_message_events') }}

),

crm_consents as (

    select
        crm_events.consent_event_id,
        identities.profile_id,
        crm_events.evidence_id,
        crm_events.channel,
        crm_events.topic,
        case crm_events.status
            when 'opt_in' then 'opted_in'
            when 'opt_out' then 'opted_out'
        end as consent_status,
        crm_events.source,
        crm_events.ip_address,
        crm_events.occurred_at

    from crm_events
    inner join identities
        on crm_events.external_key = identities.external_key
    where crm_events.status in ('opt_in', 'opt_out')
        and crm_events.channel in ('email', 'sms', 'push', 'in_app', 'direct_mail')
        and crm_events.topic is not null

),

provider_unsubscribes as (

    select
        message_event_id as consent_event_id,
        profile_id,
        message_id as evidence_id,
        'email' as channel,
        'all' as topic,
        'opted_out' as consent_status,
        'esp_unsubscribe' as source,
        cast(null as {{ dbt.type_string() }}) as ip_address,
        occurred_at

    from message_events
    where event_type = 'unsubscribe'
        and profile_id is not null

),

sms_stops as (

    select
        channel_event_id as consent_event_id,
        profile_id,
        message_id as evidence_id,
        'sms' as channel,
        'all' as topic,
        'opted_out' as consent_status,
        'sms_stop' as source,
        cast(null as {{ dbt.type_string() }}) as ip_address,
        occurred_at

    from channel_events
    where failure_type = 'opted_out'
        and channel = 'sms'
        and profile_id is not null

),

unioned as (

    select * from crm_consents
    union all
    select * from provider_unsubscribes
    union all
    select * from sms_stops

)

select * from unioned
