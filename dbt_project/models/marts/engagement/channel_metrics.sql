-- One row per channel × source (herald: Herald's sends; history: imported messages): the same counts and rates
-- over every message of the channel (seed messages left out).

with

outcomes as (

    select * from {{ ref('message_outcomes') }}
    where coalesce(recipient_group, '') <> 'seed'

),

combined as (

    select
        cast({{ dbt.concat(['channel', "'|'", 'source']) }} as {{ dbt.type_string() }}) as channel_metric_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(count(distinct campaign_id) as {{ dbt.type_bigint() }}) as campaign_count,
        {{ engagement_measures() }},
        cast(min(sent_at) as {{ dbt.type_timestamp() }}) as first_sent_at,
        cast(max(sent_at) as {{ dbt.type_timestamp() }}) as last_sent_at

    from outcomes
    group by channel, source

),

final as (

    select
        *,
        {{ engagement_rates() }}

    from combined

)

select * from final
