-- One row per day × channel × campaign × delivery with activity: messages sent that day, and the messages
-- delivered, first opened, first clicked, bounced, unsubscribed and complained about that day (each message
-- counts once, on the day it first happened). Days are UTC. For daily trend charts per delivery or channel.

with

outcomes as (

    select * from {{ ref('message_outcomes') }}
    where coalesce(recipient_group, '') <> 'seed'

),

activity as (

    {% set steps = [
        ('sent', 'sent_at', 'is_sent'),
        ('delivered', 'delivered_at', 'is_delivered'),
        ('unique_open', 'first_opened_at', 'is_opened'),
        ('unique_click', 'first_clicked_at', 'is_clicked'),
        ('bounced', 'bounced_at', 'is_bounced'),
        ('unsubscribe', 'unsubscribed_at', 'is_unsubscribed'),
        ('complaint', 'complained_at', 'is_spam_reported'),
    ] %}
    {% for name, at, flag in steps %}
    select
        channel,
        campaign_id,
        delivery_id,
        cast({{ at }} as date) as activity_date,
        '{{ name }}' as measure
    from outcomes
    where {{ flag }}
        and {{ at }} is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

combined as (

    select
        channel,
        campaign_id,
        delivery_id,
        activity_date,
        {% for name, at, flag in steps -%}
        cast(sum(case when measure = '{{ name }}' then 1 else 0 end) as {{ dbt.type_bigint() }}) as {{ name }}_count
        {%- if not loop.last %},{% endif %}
        {% endfor %}

    from activity
    group by channel, campaign_id, delivery_id, activity_date

),

final as (

    select
        cast(
            {{ dbt.hash(dbt.concat(['channel', "'|'", "coalesce(campaign_id, '')", "'|'",
                                    "coalesce(delivery_id, '')", "'|'", 'cast(activity_date as ' ~ dbt.type_string() ~ ')'])) }}
            as {{ dbt.type_string() }}
        ) as engagement_daily_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        sent_count,
        delivered_count,
        unique_open_count,
        unique_click_count,
        bounced_count,
        unsubscribe_count,
        complaint_count,
        cast(activity_date as date) as activity_date

    from combined

)

select * from final
