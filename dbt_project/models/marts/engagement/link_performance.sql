-- One row per campaign × delivery × link (the URL without its query string): clicks, unique clicks (messages)
-- and clickers (profiles), to rank a campaign's top links.

with

clicks as (

    select * from {{ ref('link_clicks') }}

),

final as (

    select
        ---------- ids
        cast(
            {{ dbt.hash(dbt.concat(["coalesce(campaign_id, '')", "'|'", "coalesce(delivery_id, '')", "'|'", 'link'])) }}
            as {{ dbt.type_string() }}
        ) as link_performance_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(delivery_id as {{ dbt.type_string() }}) as delivery_id,

        ---------- strings
        cast(max(channel) as {{ dbt.type_string() }}) as channel,
        cast(link as {{ dbt.type_string() }}) as link,

        ---------- numerics
        cast(sum(click_count) as {{ dbt.type_bigint() }}) as click_count,
        cast(count(*) as {{ dbt.type_bigint() }}) as unique_click_count,
        cast(count(distinct profile_id) as {{ dbt.type_bigint() }}) as clicker_count,

        ---------- timestamps
        cast(min(first_clicked_at) as {{ dbt.type_timestamp() }}) as first_clicked_at,
        cast(max(last_clicked_at) as {{ dbt.type_timestamp() }}) as last_clicked_at

    from clicks
    group by campaign_id, delivery_id, link

)

select * from final
