-- One row per message of the message history, with what the provider reported about it.

with

messages as (

    select * from {{ ref('int_messages_deduplicated') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

outcomes as (

    select * from {{ ref('int_message_events_aggregated_to_messages') }}

),

final as (

    select
        ---------- ids
        cast(messages.message_id as {{ dbt.type_string() }}) as message_id,
        cast(identities.profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(messages.external_key as {{ dbt.type_string() }}) as external_key,
        cast(messages.campaign_id as {{ dbt.type_string() }}) as campaign_id,

        ---------- strings
        cast(messages.campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(messages.channel as {{ dbt.type_string() }}) as channel,
        cast(messages.address as {{ dbt.type_string() }}) as address,
        cast(outcomes.bounce_type as {{ dbt.type_string() }}) as bounce_type,

        ---------- numerics
        cast(coalesce(outcomes.open_count, 0) as {{ dbt.type_bigint() }}) as open_count,
        cast(coalesce(outcomes.click_count, 0) as {{ dbt.type_bigint() }}) as click_count,

        ---------- booleans
        cast(coalesce(outcomes.is_delivered, false) as {{ dbt.type_boolean() }}) as is_delivered,
        cast(coalesce(outcomes.is_opened, false) as {{ dbt.type_boolean() }}) as is_opened,
        cast(coalesce(outcomes.is_clicked, false) as {{ dbt.type_boolean() }}) as is_clicked,
        cast(outcomes.bounce_type is not null as {{ dbt.type_boolean() }}) as is_bounced,
        cast(coalesce(outcomes.is_unsubscribed, false) as {{ dbt.type_boolean() }}) as is_unsubscribed,
        cast(coalesce(outcomes.is_spam_reported, false) as {{ dbt.type_boolean() }}) as is_spam_reported,

        ---------- timestamps
        cast(messages.sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(outcomes.delivered_at as {{ dbt.type_timestamp() }}) as delivered_at,
        cast(outcomes.first_opened_at as {{ dbt.type_timestamp() }}) as first_opened_at,
        cast(outcomes.first_clicked_at as {{ dbt.type_timestamp() }}) as first_clicked_at

    from messages
    left join identities
        on messages.external_key = identities.external_key
    left join outcomes
        on messages.message_id = outcomes.message_id

)

select * from final
