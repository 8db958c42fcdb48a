-- One row per prepared delivery run: its send list (targeted, control, excluded, seeds), what the senders did
-- (the ledger) and what the providers reported (message_outcomes), with rates over explicit denominators.
--
-- targeted_count is the send list's target and variant rows (delivery_runs.send_count): the denominator of
-- sent_rate. Sent, delivered and engagement count the run's messages to those recipients, never its seed
-- addresses; control members are never sent. Rates are null when their denominator is 0.

with

runs as (

    select * from {{ ref('delivery_runs') }}

),

outcomes as (

    select * from {{ ref('message_outcomes') }}
    where run_id is not null
        and coalesce(recipient_group, '') <> 'seed'

),

per_run as (

    select
        run_id,
        {{ engagement_measures() }},
        cast(sum(case when send_state = 'skipped' then 1 else 0 end) as {{ dbt.type_bigint() }}) as skipped_count,
        cast(sum(case when send_state = 'unknown' and not is_sent then 1 else 0 end) as {{ dbt.type_bigint() }})
            as unknown_count,
        cast(sum(case when send_state = 'unknown' and is_sent then 1 else 0 end) as {{ dbt.type_bigint() }})
            as settled_from_events_count,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at

    from outcomes
    group by run_id

),

joined as (

    select
        runs.run_id,
        runs.delivery_id,
        runs.campaign_id,
        runs.program_id,
        runs.channel,
        runs.audience_name,
        runs.audience_size,
        runs.send_count as targeted_count,
        runs.control_count,
        runs.excluded_count,
        runs.seed_count,
        {% for column in ['message_count', 'sent_count', 'delivered_count', 'unique_open_count', 'open_count',
                          'machine_open_count', 'unique_click_count', 'click_count', 'bounced_count',
                          'hard_bounce_count', 'soft_bounce_count', 'blocked_count', 'deferred_count',
                          'dropped_count', 'failed_count', 'unsubscribe_count', 'complaint_count', 'skipped_count',
                          'unknown_count', 'settled_from_events_count'] -%}
        cast(coalesce(per_run.{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }},
        {% endfor -%}
        runs.prepared_at,
        per_run.first_sent_at,
        per_run.last_sent_at

    from runs
    left join per_run
        on runs.run_id = per_run.run_id

),

final as (

    select
        ---------- ids
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(program_id as {{ dbt.type_string() }}) as program_id,

        ---------- strings
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(audience_name as {{ dbt.type_string() }}) as audience_name,

        ---------- numerics
        cast(audience_size as {{ dbt.type_bigint() }}) as audience_size,
        cast(targeted_count as {{ dbt.type_bigint() }}) as targeted_count,
        cast(control_count as {{ dbt.type_bigint() }}) as control_count,
        cast(excluded_count as {{ dbt.type_bigint() }}) as excluded_count,
        cast(seed_count as {{ dbt.type_bigint() }}) as seed_count,
        message_count,
        sent_count,
        skipped_count,
        unknown_count,
        settled_from_events_count,
        delivered_count,
        unique_open_count,
        open_count,
        machine_open_count,
        unique_click_count,
        click_count,
        bounced_count,
        hard_bounce_count,
        soft_bounce_count,
        blocked_count,
        deferred_count,
        dropped_count,
        failed_count,
        unsubscribe_count,
        complaint_count,
        {{ safe_rate('sent_count', 'targeted_count') }} as sent_rate,
        {{ engagement_rates() }},

        ---------- timestamps
        cast(prepared_at as {{ dbt.type_timestamp() }}) as prepared_at,
        cast(first_sent_at as {{ dbt.type_timestamp() }}) as first_sent_at,
        cast(last_sent_at as {{ dbt.type_timestamp() }}) as last_sent_at

    from joined

)

select * from final
