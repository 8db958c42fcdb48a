-- One row per message × clicked URL: how often the recipient clicked it, first and last.

with

events as (

    select * from {{ ref('int_provider_events_unioned') }}
    where event_type = 'clicked'
        and url is not null
        and message_id is not null

),

outcomes as (

    select * from {{ ref('message_outcomes') }}

),

per_link as (

    select
        message_id,
        url,
        count(*) as click_count,
        min(occurred_at) as first_clicked_at,
        max(occurred_at) as last_clicked_at

    from events
    group by message_id, url

),

final as (

    select
        ---------- ids
        cast({{ dbt.hash(dbt.concat(['per_link.message_id', "'|'", 'per_link.url'])) }} as {{ dbt.type_string() }})
            as link_click_id,
        cast(per_link.message_id as {{ dbt.type_string() }}) as message_id,
        cast(outcomes.profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(outcomes.run_id as {{ dbt.type_string() }}) as run_id,
        cast(outcomes.delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(outcomes.campaign_id as {{ dbt.type_string() }}) as campaign_id,

        ---------- strings
        cast(outcomes.channel as {{ dbt.type_string() }}) as channel,
        cast(per_link.url as {{ dbt.type_string() }}) as url,
        cast({{ dbt.split_part('per_link.url', "'?'", 1) }} as {{ dbt.type_string() }}) as link,

        ---------- numerics
        cast(per_link.click_count as {{ dbt.type_bigint() }}) as click_count,

        ---------- timestamps
        cast(per_link.first_clicked_at as {{ dbt.type_timestamp() }}) as first_clicked_at,
        cast(per_link.last_clicked_at as {{ dbt.type_timestamp() }}) as last_clicked_at

    from per_link
    left join outcomes
        on per_link.message_id = outcomes.message_id

)

select * from final
