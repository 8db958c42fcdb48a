{%- set unconfirmed_hours = var('unconfirmed_after_hours') | int -%}
-- One row per message × reconciliation issue between what Herald recorded and what the providers reported:
--   unknown_message      provider events carry a message id that is neither in the send ledger nor in the
--                        imported history (a test send from another tool, a message id mangled on the way)
--   unconfirmed          the provider accepted the message more than {{ unconfirmed_hours }} h before as_of
--                        (var unconfirmed_after_hours) and no provider event about it ever arrived
--   settled_from_events  the ledger says unknown (the sender died during the call) and provider events prove
--                        the provider had it: counted as sent in message_outcomes

with

events as (

    select * from {{ ref('int_provider_events_unioned') }}
    where message_id is not null

),

outcomes as (

    select * from {{ ref('message_outcomes') }}

),

unknown_messages as (

    select
        events.message_id,
        'unknown_message' as issue,
        max(events.channel) as channel,
        cast(null as {{ dbt.type_string() }}) as run_id,
        cast(null as {{ dbt.type_string() }}) as send_state,
        count(*) as event_count,
        min(events.occurred_at) as first_event_at,
        max(events.occurred_at) as last_event_at,
        cast(null as {{ dbt.type_timestamp() }}) as sent_at

    from events
    left join outcomes
        on events.message_id = outcomes.message_id
    where outcomes.message_id is null
    group by events.message_id

),

known_issues as (

    select
        message_id,
        case
            when send_state = 'unknown' and is_confirmed then 'settled_from_events'
            else 'unconfirmed'
        end as issue,
        channel,
        run_id,
        send_state,
        event_count,
        first_event_at,
        last_event_at,
        sent_at

    from outcomes
    where (send_state = 'unknown' and is_confirmed)
        or (
            send_state = 'accepted'
            and not is_confirmed
            and channel in ('email', 'sms', 'push')
            and sent_at <= {{ dbt.dateadd('hour', -1 * unconfirmed_hours, as_of()) }}
        )

),

unioned as (

    select * from unknown_messages
    union all
    select * from known_issues

),

final as (

    select
        cast({{ dbt.concat(['issue', "':'", 'message_id']) }} as {{ dbt.type_string() }}) as reconciliation_id,
        cast(message_id as {{ dbt.type_string() }}) as message_id,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(issue as {{ dbt.type_string() }}) as issue,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(send_state as {{ dbt.type_string() }}) as send_state,
        cast(event_count as {{ dbt.type_bigint() }}) as event_count,
        cast(sent_at as {{ dbt.type_timestamp() }}) as sent_at,
        cast(first_event_at as {{ dbt.type_timestamp() }}) as first_event_at,
        cast(last_event_at as {{ dbt.type_timestamp() }}) as last_event_at

    from unioned

)

select * from final
