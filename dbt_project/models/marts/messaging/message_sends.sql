-- One row per message a sender has handled: its latest state in the send ledger, with the send-list row it
-- came from, so "why did this person get this, and what exactly?" is one query (payload, content hash, consent
-- record, audience and plan versions, build, provider id).
{{ config(enabled=(target.type == 'duckdb')) }}

with

sends as (

    select * from {{ ref('int_send_ledger_aggregated_to_messages') }}

),

send_lists as (

    select * from {{ ref('send_lists') }}

),

final as (

    select
        ---------- ids
        sends.message_id,
        sends.run_id,
        send_lists.send_list_id,
        sends.recipient_id,
        sends.profile_id,
        sends.delivery_id,
        send_lists.campaign_id,
        send_lists.consent_id,
        sends.provider_id,

        ---------- strings
        sends.channel,
        sends.state,
        sends.reason,
        send_lists.address,
        send_lists.recipient_group,
        send_lists.variant,
        send_lists.payload,
        sends.content_hash,
        send_lists.audience_version,
        send_lists.plan_version,
        send_lists.build_id,

        ---------- numerics
        sends.attempts,
        sends.ledger_entries,

        ---------- booleans
        sends.state = 'accepted' as is_sent,

        ---------- timestamps
        sends.first_claimed_at,
        sends.last_changed_at

    from sends
    left join send_lists
        on send_lists.run_id = sends.run_id
        and send_lists.recipient_id = sends.recipient_id

)

select * from final
