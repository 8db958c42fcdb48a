-- One row per email provider event, deduplicated on SendGrid's event id, tied to its message and profile.
--
-- profile_id: for a message Herald sent, the profile the send ledger recorded; for a message of
-- the history, the profile of its contact (through identity resolution); otherwise the profile whose email is
-- the event's address.
-- email: the recipient address, normalized (trimmed, lower-case) but not validated: quarantine is kept
-- for the address that actually failed.
-- bounce_type: 'hard' for a bounce of type 'bounce' (or without a type) and for a drop because the
-- address bounced before ('Bounced Address'); 'soft' for a bounce of type 'blocked'; null otherwise.

with

events as (

    select * from {{ ref('int_esp_events_deduplicated') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

email_owners as (

    -- One owner per address (merged profiles share theirs), so the join below is a plain equi-join.
    select
        email,
        min(profile_id) as profile_id

    from identities
    where email is not null
    group by email

),

with_message as (

    select
        events.sg_event_id,
        events.message_id,
        events.event_type,
        events.run_id,
        coalesce(
            {{ normalize_email('events.email') }},
            case when messages.channel = 'email' then {{ normalize_email('messages.address') }} end,
            case when sends.channel = 'email' then sends_contacts.email end
        ) as email,
        events.provider_bounce_type,
        events.bounce_classification,
        events.reason,
        events.url,
        events.url_offset_index,
        events.attempt,
        events.is_machine_open,
        events.batch_id,
        events.occurred_at,
        {{ event_message_profile_id() }} as message_profile_id

    from events
    {{ join_event_messages('events') }}

),

final as (

    select
        ---------- ids
        cast(with_message.sg_event_id as {{ dbt.type_string() }}) as message_event_id,
        cast(with_message.message_id as {{ dbt.type_string() }}) as message_id,
        cast(with_message.run_id as {{ dbt.type_string() }}) as run_id,
        cast(
            coalesce(with_message.message_profile_id, email_owners.profile_id) as {{ dbt.type_string() }}
        ) as profile_id,

        ---------- strings
        cast(with_message.event_type as {{ dbt.type_string() }}) as event_type,
        cast(with_message.email as {{ dbt.type_string() }}) as email,
        cast(
            case
                when with_message.event_type = 'bounce' and with_message.provider_bounce_type = 'blocked' then 'soft'
                when with_message.event_type = 'bounce' then 'hard'
                when with_message.event_type = 'dropped'
                    and lower(with_message.reason) like '%bounced address%' then 'hard'
            end as {{ dbt.type_string() }}
        ) as bounce_type,
        cast(with_message.provider_bounce_type as {{ dbt.type_string() }}) as provider_bounce_type,
        cast(with_message.bounce_classification as {{ dbt.type_string() }}) as bounce_classification,
        cast(with_message.reason as {{ dbt.type_string() }}) as reason,
        cast(with_message.url as {{ dbt.type_string() }}) as url,
        cast(with_message.batch_id as {{ dbt.type_string() }}) as batch_id,

        ---------- numerics
        cast(with_message.url_offset_index as {{ dbt.type_bigint() }}) as url_offset_index,
        cast(with_message.attempt as {{ dbt.type_bigint() }}) as attempt,

        ---------- booleans
        cast(with_message.is_machine_open as {{ dbt.type_boolean() }}) as is_machine_open,

        ---------- timestamps
        cast(with_message.occurred_at as {{ dbt.type_timestamp() }}) as occurred_at

    from with_message
    -- An equality-only condition keeps this a hash join; the coalesce above prefers the message's profile.
    left join email_owners
        on with_message.email = email_owners.email

)

select * from final
