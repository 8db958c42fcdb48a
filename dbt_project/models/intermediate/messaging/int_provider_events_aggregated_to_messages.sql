-- One row per message, Herald's own sends (the send ledger: profile, run, delivery) and imported history alike:
-- what the providers reported about it, on every channel, in one vocabulary (int_provider_events_unioned).
-- The message fact without the send list's attributes, so that profiles (engagement) can read it: the mart
-- message_outcomes adds them.
--
-- Unique opens: is_opened counts a human open, or a click (a click implies an open); an open SendGrid flags
-- as machine-generated (Apple Mail Privacy Protection) counts in open_count and machine_open_count only.
-- A Herald message is sent when the ledger says accepted, or says unknown and a provider event proves the
-- provider had it (settled from events). An in-app message is delivered when the inbox accepted it.
--
-- Incremental (DuckDB, PostgreSQL): a build recomputes only the messages touched since the previous one, and
-- replaces their rows (delete+insert on message_id): messages with events or history rows from batches landed
-- since (batch ids sort by time), ledger entries recorded in the last hour before the newest one already
-- built or later, and in-app events likewise. On Spark (parquet: no delete+insert) it is a table.
{{ config(**incremental_by_key('message_id')) }}

with

history as (

    select * from {{ ref('int_messages_deduplicated') }}

),

sends as (

    select * from {{ ref('int_send_ledger_aggregated_to_messages') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

events as (

    select * from {{ ref('int_provider_events_unioned') }}
    where message_id is not null

),

{% if is_incremental() %}
watermarks as (

    select
        coalesce(max(last_batch_id), '') as batch_id,
        max(ledger_changed_at) as ledger_changed_at,
        max(last_inbox_event_at) as inbox_event_at
    from {{ this }}

),

touched as (

    select events.message_id
    from events
    cross join watermarks
    where events.batch_id > watermarks.batch_id
        or (
            events.channel = 'in_app'
            and (
                watermarks.inbox_event_at is null
                or events.occurred_at > {{ dbt.dateadd('hour', -1, 'watermarks.inbox_event_at') }}
            )
        )
    union
    select history.message_id
    from history
    cross join watermarks
    where history.batch_id > watermarks.batch_id
    union
    select sends.message_id
    from sends
    cross join watermarks
    where watermarks.ledger_changed_at is null
        or sends.last_changed_at > {{ dbt.dateadd('hour', -1, 'watermarks.ledger_changed_at') }}

),
{% endif %}

spine as (

    select
        sends.message_id,
        'herald' as source,
        sends.profile_id,
        cast(null as {{ dbt.type_string() }}) as external_key,
        sends.run_id,
        sends.send_list_id,
        sends.delivery_id,
        cast(null as {{ dbt.type_string() }}) as campaign_id,
        cast(null as {{ dbt.type_string() }}) as campaign_name,
        sends.channel,
        cast(null as {{ dbt.type_string() }}) as address,
        sends.state as send_state,
        sends.last_changed_at as ledger_changed_at,
        cast(null as {{ dbt.type_string() }}) as history_batch_id,
        coalesce(
            case when sends.state = 'accepted' then sends.last_changed_at end,
            sends.first_claimed_at
        ) as sent_at

    from sends
    {% if is_incremental() %}
    where sends.message_id in (select message_id from touched)
    {% endif %}

    union all

    select
        history.message_id,
        'history' as source,
        identities.profile_id,
        history.external_key,
        cast(null as {{ dbt.type_string() }}) as run_id,
        cast(null as {{ dbt.type_string() }}) as send_list_id,
        cast(null as {{ dbt.type_string() }}) as delivery_id,
        history.campaign_id,
        history.campaign_name,
        history.channel,
        history.address,
        'accepted' as send_state,
        cast(null as {{ dbt.type_timestamp() }}) as ledger_changed_at,
        history.batch_id as history_batch_id,
        history.sent_at

    from history
    left join identities
        on history.external_key = identities.external_key
    -- A message both in the history and in Herald's ledger is Herald's.
    left join sends
        on history.message_id = sends.message_id
    where sends.message_id is null
    {% if is_incremental() %}
        and history.message_id in (select message_id from touched)
    {% endif %}

),

message_events as (

    select events.*
    from events
    {% if is_incremental() %}
    where events.message_id in (select message_id from touched)
    {% endif %}

),

-- The latest bounce of a message gives its type, class and reason.
ranked_bounces as (

    select
        message_id,
        bounce_type,
        bounce_classification,
        coalesce(reason, error_code) as bounce_reason,
        row_number() over (
            partition by message_id
            order by
                case bounce_type when 'hard' then 1 when 'blocked' then 2 else 3 end,
                occurred_at desc,
                event_id
        ) as bounce_rank

    from message_events
    where bounce_type is not null

),

aggregated as (

    select
        message_id,
        count(*) as event_count,
        sum(case when event_type = 'opened' then 1 else 0 end) as open_count,
        sum(case when event_type = 'opened' and is_machine_open then 1 else 0 end) as machine_open_count,
        sum(case when event_type = 'clicked' then 1 else 0 end) as click_count,
        sum(case when event_type = 'deferred' then 1 else 0 end) as deferred_count,
        max(case when event_type = 'delivered' then 1 else 0 end) as has_delivered,
        max(case when event_type in ('opened', 'clicked') and not is_machine_open then 1 else 0 end) as has_opened,
        max(case when event_type = 'opened' and is_machine_open then 1 else 0 end) as has_machine_open,
        max(case when event_type = 'clicked' then 1 else 0 end) as has_clicked,
        max(case when bounce_type = 'hard' then 1 else 0 end) as has_hard_bounce,
        max(case when bounce_type = 'soft' then 1 else 0 end) as has_soft_bounce,
        max(case when bounce_type = 'blocked' then 1 else 0 end) as has_block,
        max(case when event_type = 'deferred' then 1 else 0 end) as has_deferral,
        max(case when event_type = 'dropped' then 1 else 0 end) as has_drop,
        max(case when event_type = 'failed' then 1 else 0 end) as has_failure,
        max(case when event_type = 'dismissed' then 1 else 0 end) as has_dismissal,
        max(case when is_opt_out then 1 else 0 end) as has_opt_out,
        max(case when event_type = 'complained' then 1 else 0 end) as has_complaint,
        max(case when event_type <> 'opened' or not is_machine_open then 1 else 0 end) as has_provider_event,
        min(case when event_type = 'delivered' then occurred_at end) as delivered_at,
        min(case when event_type in ('opened', 'clicked') and not is_machine_open then occurred_at end)
            as first_opened_at,
        max(case when event_type in ('opened', 'clicked') and not is_machine_open then occurred_at end)
            as last_opened_at,
        min(case when event_type = 'clicked' then occurred_at end) as first_clicked_at,
        max(case when event_type = 'clicked' then occurred_at end) as last_clicked_at,
        min(case when bounce_type is not null then occurred_at end) as bounced_at,
        min(case when is_opt_out then occurred_at end) as unsubscribed_at,
        min(case when event_type = 'complained' then occurred_at end) as complained_at,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at,
        max(batch_id) as last_event_batch_id,
        max(case when channel = 'in_app' then occurred_at end) as last_inbox_event_at

    from message_events
    group by message_id

),

joined as (

    select
        spine.*,
        aggregated.event_count,
        aggregated.open_count,
        aggregated.machine_open_count,
        aggregated.click_count,
        aggregated.deferred_count,
        aggregated.has_delivered,
        aggregated.has_opened,
        aggregated.has_machine_open,
        aggregated.has_clicked,
        aggregated.has_hard_bounce,
        aggregated.has_soft_bounce,
        aggregated.has_block,
        aggregated.has_deferral,
        aggregated.has_drop,
        aggregated.has_failure,
        aggregated.has_dismissal,
        aggregated.has_opt_out,
        aggregated.has_complaint,
        aggregated.has_provider_event,
        aggregated.delivered_at,
        aggregated.first_opened_at,
        aggregated.last_opened_at,
        aggregated.first_clicked_at,
        aggregated.last_clicked_at,
        aggregated.bounced_at,
        aggregated.unsubscribed_at,
        aggregated.complained_at,
        aggregated.first_event_at,
        aggregated.last_event_at,
        aggregated.last_inbox_event_at,
        ranked_bounces.bounce_type,
        ranked_bounces.bounce_classification,
        ranked_bounces.bounce_reason,
        case
            when spine.history_batch_id is null then aggregated.last_event_batch_id
            when aggregated.last_event_batch_id is null then spine.history_batch_id
            when aggregated.last_event_batch_id > spine.history_batch_id then aggregated.last_event_batch_id
            else spine.history_batch_id
        end as last_batch_id,
        spine.send_state = 'accepted'
            or (spine.send_state = 'unknown' and coalesce(aggregated.has_provider_event, 0) = 1) as is_sent

    from spine
    left join aggregated
        on spine.message_id = aggregated.message_id
    left join ranked_bounces
        on spine.message_id = ranked_bounces.message_id
        and ranked_bounces.bounce_rank = 1

),

final as (

    select
        ---------- ids
        cast(message_id as {{ dbt.type_string() }}) as message_id,
        cast(profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(external_key as {{ dbt.type_string() }}) as external_key,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(send_list_id as {{ dbt.type_string() }}) as send_list_id,
        cast(delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,

        ---------- strings
        cast(source as {{ dbt.type_string() }}) as source,
        cast(campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(address as {{ dbt.type_string() }}) as address,
        cast(send_state as {{ dbt.type_string() }}) as send_state,
        cast(bounce_type as {{ dbt.type_string() }}) as bounce_type,
        cast(bounce_classification as {{ dbt.type_string() }}) as bounce_classification,
        cast(bounce_reason as {{ dbt.type_string() }}) as bounce_reason,
        cast(last_batch_id as {{ dbt.type_string() }}) as last_batch_id,

        ---------- numerics
        cast(coalesce(event_count, 0) as {{ dbt.type_bigint() }}) as event_count,
        cast(coalesce(open_count, 0) as {{ dbt.type_bigint() }}) as open_count,
        cast(coalesce(machine_open_count, 0) as {{ dbt.type_bigint() }}) as machine_open_count,
        cast(coalesce(click_count, 0) as {{ dbt.type_bigint() }}) as click_count,
        cast(coalesce(deferred_count, 0) as {{ dbt.type_bigint() }}) as deferred_count,

        ---------- booleans
        cast(is_sent as {{ dbt.type_boolean() }}) as is_sent,
        cast(
            coalesce(has_delivered, 0) = 1 or (channel = 'in_app' and is_sent) as {{ dbt.type_boolean() }}
        ) as is_delivered,
        cast(coalesce(has_opened, 0) = 1 as {{ dbt.type_boolean() }}) as is_opened,
        cast(coalesce(has_machine_open, 0) = 1 as {{ dbt.type_boolean() }}) as is_machine_opened,
        cast(coalesce(has_clicked, 0) = 1 as {{ dbt.type_boolean() }}) as is_clicked,
        cast(bounce_type is not null as {{ dbt.type_boolean() }}) as is_bounced,
        cast(coalesce(has_hard_bounce, 0) = 1 as {{ dbt.type_boolean() }}) as is_hard_bounced,
        cast(coalesce(has_soft_bounce, 0) = 1 as {{ dbt.type_boolean() }}) as is_soft_bounced,
        cast(coalesce(has_block, 0) = 1 as {{ dbt.type_boolean() }}) as is_blocked,
        cast(coalesce(has_deferral, 0) = 1 as {{ dbt.type_boolean() }}) as is_deferred,
        cast(coalesce(has_drop, 0) = 1 as {{ dbt.type_boolean() }}) as is_dropped,
        cast(coalesce(has_failure, 0) = 1 or send_state = 'failed' as {{ dbt.type_boolean() }}) as is_failed,
        cast(coalesce(has_dismissal, 0) = 1 as {{ dbt.type_boolean() }}) as is_dismissed,
        cast(coalesce(has_opt_out, 0) = 1 as {{ dbt.type_boolean() }}) as is_unsubscribed,
        cast(coalesce(has_complaint, 0) = 1 as {{ dbt.type_boolean() }}) as is_spam_reported,
        cast(coalesce(has_provider_event, 0) = 1 as {{ dbt.type_boolean() }}) as is_confirmed,

        ---------- timestamps
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(delivered_at as {{ dbt.type_timestamp() }}) as delivered_at,
        cast(first_opened_at as {{ dbt.type_timestamp() }}) as first_opened_at,
        cast(last_opened_at as {{ dbt.type_timestamp() }}) as last_opened_at,
        cast(first_clicked_at as {{ dbt.type_timestamp() }}) as first_clicked_at,
        cast(last_clicked_at as {{ dbt.type_timestamp() }}) as last_clicked_at,
        cast(bounced_at as {{ dbt.type_timestamp() }}) as bounced_at,
        cast(unsubscribed_at as {{ dbt.type_timestamp() }}) as unsubscribed_at,
        cast(complained_at as {{ dbt.type_timestamp() }}) as complained_at,
        cast(first_event_at as {{ dbt.type_timestamp() }}) as first_event_at,
        cast(last_event_at as {{ dbt.type_timestamp() }}) as last_event_at,
        cast(ledger_changed_at as {{ dbt.type_timestamp() }}) as ledger_changed_at,
        cast(last_inbox_event_at as {{ dbt.type_timestamp() }}) as last_inbox_event_at

    from joined

)

select * from final
