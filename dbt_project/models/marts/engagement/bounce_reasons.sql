-- One row per channel × bounce type × classification × reason: how many messages bounced so, to whom, when.

with

outcomes as (

    select * from {{ ref('message_outcomes') }}
    where is_bounced

),

final as (

    select
        cast(
            {{ dbt.hash(dbt.concat(['channel', "'|'", 'bounce_type', "'|'", "coalesce(bounce_classification, '')",
                                    "'|'", "coalesce(bounce_reason, '')"])) }} as {{ dbt.type_string() }}
        ) as bounce_reason_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(bounce_type as {{ dbt.type_string() }}) as bounce_type,
        cast(bounce_classification as {{ dbt.type_string() }}) as bounce_classification,
        cast(bounce_reason as {{ dbt.type_string() }}) as bounce_reason,
        cast(count(*) as {{ dbt.type_bigint() }}) as message_count,
        cast(count(distinct address) as {{ dbt.type_bigint() }}) as address_count,
        cast(count(distinct campaign_id) as {{ dbt.type_bigint() }}) as campaign_count,
        cast(min(bounced_at) as {{ dbt.type_timestamp() }}) as first_bounced_at,
        cast(max(bounced_at) as {{ dbt.type_timestamp() }}) as last_bounced_at

    from outcomes
    group by channel, bounce_type, bounce_classification, bounce_reason

)

select * from final
