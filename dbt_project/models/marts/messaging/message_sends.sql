-- One row per message a sender has handled: its latest state in the send ledger, with the send-list row it
-- came from, so "why did this person get this, and what exactly?" is one query (payload, content hash, consent
-- record, audience and plan versions, build, provider id).
{{ config(enabled=(target.type == 'duckdb')) }}

with

entries as (

    select * from {{ ref('stg_senders__send_ledger') }}

),

send_lists as (

    select * from {{ ref('send_lists') }}

),

ranked as (

    select
        entries.*,
        row_number() over (partition by message_id order by recorded_at desc, ledger_entry_id) as recency
    from entries

),

per_message as (

    select
        message_id,
        min(case when state = 'claimed' then recorded_at end) as first_claimed_at,
        max(attempt) as attempts,
        max(provider_id) as provider_id,
        count(*) as ledger_entries
    from entries
    group by message_id

),

final as (

    select
        ---------- ids
        latest.message_id,
        latest.run_id,
        send_lists.send_list_id,
        latest.recipient_id,
        latest.profile_id,
        latest.delivery_id,
        send_lists.campaign_id,
        send_lists.consent_id,
        per_message.provider_id,

        ---------- strings
        latest.channel,
        latest.state,
        latest.reason,
        send_lists.address,
        send_lists.recipient_group,
        send_lists.variant,
        send_lists.payload,
        latest.content_hash,
        send_lists.audience_version,
        send_lists.plan_version,
        send_lists.build_id,

        ---------- numerics
        per_message.attempts,
        per_message.ledger_entries,

        ---------- booleans
        latest.state = 'accepted' as is_sent,

        ---------- timestamps
        per_message.first_claimed_at,
        latest.recorded_at as last_changed_at

    from ranked as latest
    inner join per_message
        on per_message.message_id = latest.message_id
    left join send_lists
        on send_lists.run_id = latest.run_id
        and send_lists.recipient_id = latest.recipient_id
    where latest.recency = 1

)

select * from final
