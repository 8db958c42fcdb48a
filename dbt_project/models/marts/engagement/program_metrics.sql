-- One row per program (a plan file of Herald's campaigns): its runs' send lists and messages, with the same
-- counts and rates as delivery_metrics, summed over its deliveries' runs.

with

metrics as (

    select * from {{ ref('delivery_metrics') }}
    where program_id is not null

),

combined as (

    select
        cast(program_id as {{ dbt.type_string() }}) as program_id,
        cast(count(*) as {{ dbt.type_bigint() }}) as run_count,
        cast(count(distinct campaign_id) as {{ dbt.type_bigint() }}) as campaign_count,
        cast(count(distinct delivery_id) as {{ dbt.type_bigint() }}) as delivery_count,
        {% for column in ['targeted_count', 'control_count', 'excluded_count', 'message_count', 'sent_count',
                          'delivered_count', 'unique_open_count', 'open_count', 'machine_open_count',
                          'unique_click_count', 'click_count', 'bounced_count', 'hard_bounce_count',
                          'soft_bounce_count', 'blocked_count', 'deferred_count', 'dropped_count', 'failed_count',
                          'unsubscribe_count', 'complaint_count'] -%}
        cast(sum({{ column }}) as {{ dbt.type_bigint() }}) as {{ column }},
        {% endfor -%}
        cast(min(first_sent_at) as {{ dbt.type_timestamp() }}) as first_sent_at,
        cast(max(last_sent_at) as {{ dbt.type_timestamp() }}) as last_sent_at

    from metrics
    group by program_id

),

final as (

    select
        *,
        {{ safe_rate('sent_count', 'targeted_count') }} as sent_rate,
        {{ engagement_rates() }}

    from combined

)

select * from final
