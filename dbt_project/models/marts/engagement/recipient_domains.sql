-- One row per campaign × delivery × recipient email domain: the engagement counts and rates of the messages to
-- that domain (gmail.com, outlook.com...), to see a mailbox provider blocking or bulking a campaign.

with

outcomes as (

    select * from {{ ref('message_outcomes') }}
    where channel = 'email'
        and recipient_domain is not null
        and coalesce(recipient_group, '') <> 'seed'

),

aggregated as (

    select
        campaign_id,
        delivery_id,
        recipient_domain,
        {{ engagement_measures() }}

    from outcomes
    group by campaign_id, delivery_id, recipient_domain

),

final as (

    select
        cast(
            {{ dbt.hash(dbt.concat(["coalesce(campaign_id, '')", "'|'", "coalesce(delivery_id, '')", "'|'",
                                    'recipient_domain'])) }} as {{ dbt.type_string() }}
        ) as recipient_domain_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(recipient_domain as {{ dbt.type_string() }}) as recipient_domain,
        aggregated.message_count,
        aggregated.sent_count,
        aggregated.delivered_count,
        aggregated.unique_open_count,
        aggregated.unique_click_count,
        aggregated.bounced_count,
        aggregated.hard_bounce_count,
        aggregated.soft_bounce_count,
        aggregated.blocked_count,
        aggregated.complaint_count,
        {{ engagement_rates() }}

    from aggregated

)

select * from final
