-- One row per campaign: Herald's campaigns (all runs of their deliveries) and the campaigns of the imported
-- history, with the same counts and rates. targeted_count is the send lists' target and variant rows for
-- Herald's campaigns and the messages sent for the history (which has no send list).

with

outcomes as (

    select * from {{ ref('message_outcomes') }}
    where campaign_id is not null
        and coalesce(recipient_group, '') <> 'seed'

),

runs as (

    select
        campaign_id,
        max(program_id) as program_id,
        count(*) as run_count,
        sum(send_count) as targeted_count,
        sum(control_count) as control_count,
        sum(excluded_count) as excluded_count

    from {{ ref('delivery_runs') }}
    where campaign_id is not null
    group by campaign_id

),

per_campaign as (

    select
        campaign_id,
        max(campaign_name) as campaign_name,
        max(source) as source,
        max(program_id) as program_id,
        count(distinct channel) as channel_count,
        max(channel) as channel,
        {{ engagement_measures() }},
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at

    from outcomes
    group by campaign_id

),

campaigns as (

    select campaign_id from per_campaign
    union
    select campaign_id from runs

),

combined as (

    select
        ---------- ids
        cast(campaigns.campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(coalesce(runs.program_id, per_campaign.program_id) as {{ dbt.type_string() }}) as program_id,

        ---------- strings
        cast(per_campaign.campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(case when runs.campaign_id is not null then 'herald' else per_campaign.source end
            as {{ dbt.type_string() }}) as source,
        cast(case when per_campaign.channel_count > 1 then 'multi' else per_campaign.channel end
            as {{ dbt.type_string() }}) as channel,

        ---------- numerics
        cast(coalesce(runs.run_count, 0) as {{ dbt.type_bigint() }}) as run_count,
        cast(coalesce(runs.targeted_count, per_campaign.sent_count, 0) as {{ dbt.type_bigint() }}) as targeted_count,
        cast(coalesce(runs.control_count, 0) as {{ dbt.type_bigint() }}) as control_count,
        cast(coalesce(runs.excluded_count, 0) as {{ dbt.type_bigint() }}) as excluded_count,
        {% for column in ['message_count', 'sent_count', 'delivered_count', 'unique_open_count', 'open_count',
                          'machine_open_count', 'unique_click_count', 'click_count', 'bounced_count',
                          'hard_bounce_count', 'soft_bounce_count', 'blocked_count', 'deferred_count',
                          'dropped_count', 'failed_count', 'unsubscribe_count', 'complaint_count'] -%}
        cast(coalesce(per_campaign.{{ column }}, 0) as {{ dbt.type_bigint() }}) as {{ column }},
        {% endfor %}

        ---------- timestamps
        cast(per_campaign.first_sent_at as {{ dbt.type_timestamp() }}) as first_sent_at,
        cast(per_campaign.last_sent_at as {{ dbt.type_timestamp() }}) as last_sent_at

    from campaigns
    left join per_campaign
        on campaigns.campaign_id = per_campaign.campaign_id
    left join runs
        on campaigns.campaign_id = runs.campaign_id

),

final as (

    select
        *,
        {{ engagement_rates() }}

    from combined

)

select * from final
