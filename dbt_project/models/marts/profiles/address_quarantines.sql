{#-
    Adobe Campaign style quarantine of email addresses, from the deduplicated provider events.

    Soft bounces count only when at least soft_bounce_spacing_hours after the previous COUNTED one. That is
    a greedy chain window functions cannot express, so counted bounce k is found in step k as the first soft
    bounce at least the spacing after counted bounce k - 1. The threshold is small (var
    soft_bounce_quarantine_threshold), so the steps are unrolled here: portable SQL, no recursive CTE.
-#}
{%- set spacing_hours = var('soft_bounce_spacing_hours') | int -%}
{%- set threshold = var('soft_bounce_quarantine_threshold') | int -%}
-- One row per channel × address that ever failed (bounce, drop, deferral or spam complaint).
--
-- Only the events after the address's last successful delivery (its current segment) count: a delivery
-- lifts a quarantine and resets the soft bounce count.
--   denylisted   a spam complaint, ever (permanent; a delivery does not lift it)
--   quarantined  a hard bounce in the current segment (at once), or the {{ threshold }}th counted soft bounce
--                of the current segment, soft bounces counting only {{ spacing_hours }} h or more apart
--   active       otherwise
-- Deferrals are the provider retrying: they are recorded as errors but never counted.
--
-- SMS numbers and push tokens (channel_events, Herald's sends and the history alike): a failure the provider
-- says is permanent (failure_type invalid_address: not a mobile number, landline, unregistered token)
-- quarantines the address at once; a later delivery lifts it; other failures are recorded, never counted.

with

message_events as (

    select * from {{ ref('message_events') }}

),

channel_events as (

    select * from {{ ref('channel_message_events') }}
    where address is not null
        and channel in ('sms', 'push')
        and (event_type = 'delivered' or failure_type is not null)

),

email_events as (

    select
        email as address,
        message_event_id,
        event_type,
        bounce_type,
        coalesce(reason, event_type) as error_reason,
        occurred_at

    from message_events
    where email is not null
        and event_type in ('delivered', 'bounce', 'dropped', 'deferred', 'spamreport')

),

deliveries as (

    select
        address,
        max(occurred_at) as last_delivered_at

    from email_events
    where event_type = 'delivered'
    group by address

),

failures as (

    select
        email_events.*,
        deliveries.last_delivered_at,
        case
            when deliveries.last_delivered_at is null then 1
            when email_events.occurred_at > deliveries.last_delivered_at then 1
            else 0
        end as is_in_current_segment

    from email_events
    left join deliveries
        on email_events.address = deliveries.address
    where email_events.event_type <> 'delivered'

),

failure_summary as (

    select
        address,
        max(last_delivered_at) as last_delivered_at,
        min(case when event_type = 'spamreport' then occurred_at end) as denylisted_at,
        min(case when bounce_type = 'hard' and is_in_current_segment = 1 then occurred_at end) as hard_bounced_at,
        max(occurred_at) as last_error_at

    from failures
    group by address

),

last_errors as (

    select
        address,
        error_reason as last_error_reason,
        row_number() over (
            partition by address
            order by occurred_at desc, message_event_id desc
        ) as recency_rank

    from failures

),

soft_bounces as (

    select
        address,
        occurred_at

    from failures
    where bounce_type = 'soft'
        and is_in_current_segment = 1

),

counted_1 as (

    select
        address,
        min(occurred_at) as counted_at

    from soft_bounces
    group by address

),
{% for step in range(2, threshold + 1) %}
counted_{{ step }} as (

    select
        soft_bounces.address,
        min(soft_bounces.occurred_at) as counted_at

    from soft_bounces
    inner join counted_{{ step - 1 }} as previous
        on soft_bounces.address = previous.address
    where soft_bounces.occurred_at >= {{ dbt.dateadd('hour', spacing_hours, 'previous.counted_at') }}
    group by soft_bounces.address

),
{% endfor %}
soft_bounce_counts as (

    select
        counted_1.address,
        {% for step in range(1, threshold + 1) -%}
        case when counted_{{ step }}.counted_at is not null then 1 else 0 end
        {%- if not loop.last %} + {% endif %}
        {%- endfor %} as soft_bounce_count,
        counted_{{ threshold }}.counted_at as soft_quarantined_at

    from counted_1
    {% for step in range(2, threshold + 1) -%}
    left join counted_{{ step }}
        on counted_1.address = counted_{{ step }}.address
    {% endfor %}

),

evaluated as (

    select
        failure_summary.address,
        coalesce(soft_bounce_counts.soft_bounce_count, 0) as soft_bounce_count,
        last_errors.last_error_reason,
        failure_summary.last_error_at,
        failure_summary.last_delivered_at,
        case
            when failure_summary.denylisted_at is not null then 'spam_complaint'
            when failure_summary.hard_bounced_at is not null
                and (
                    soft_bounce_counts.soft_quarantined_at is null
                    or failure_summary.hard_bounced_at <= soft_bounce_counts.soft_quarantined_at
                ) then 'hard_bounce'
            when soft_bounce_counts.soft_quarantined_at is not null then 'soft_bounces'
        end as quarantine_reason,
        failure_summary.denylisted_at,
        failure_summary.hard_bounced_at,
        soft_bounce_counts.soft_quarantined_at

    from failure_summary
    left join soft_bounce_counts
        on failure_summary.address = soft_bounce_counts.address
    left join last_errors
        on failure_summary.address = last_errors.address
        and last_errors.recency_rank = 1

),

channel_deliveries as (

    select
        channel,
        address,
        max(occurred_at) as last_delivered_at

    from channel_events
    where event_type = 'delivered'
    group by channel, address

),

channel_failures as (

    select
        channel_events.*,
        channel_deliveries.last_delivered_at,
        row_number() over (
            partition by channel_events.channel, channel_events.address
            order by channel_events.occurred_at desc, channel_events.channel_event_id desc
        ) as recency_rank

    from channel_events
    left join channel_deliveries
        on channel_events.channel = channel_deliveries.channel
        and channel_events.address = channel_deliveries.address
    where channel_events.failure_type is not null

),

channel_evaluated as (

    select
        channel,
        address,
        max(last_delivered_at) as last_delivered_at,
        max(occurred_at) as last_error_at,
        max(case when recency_rank = 1 then coalesce(detail, error_code) end) as last_error_reason,
        min(
            case
                when failure_type = 'invalid_address'
                    and (last_delivered_at is null or occurred_at > last_delivered_at)
                    then occurred_at
            end
        ) as hard_bounced_at

    from channel_failures
    group by channel, address

),

channel_final as (

    select
        cast({{ dbt.hash(dbt.concat(['channel', "'|'", 'address'])) }} as {{ dbt.type_string() }})
            as address_quarantine_id,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(address as {{ dbt.type_string() }}) as address,
        cast(case when hard_bounced_at is not null then 'quarantined' else 'active' end as {{ dbt.type_string() }})
            as quarantine_status,
        cast(case when hard_bounced_at is not null then 'invalid_address' end as {{ dbt.type_string() }})
            as quarantine_reason,
        cast(last_error_reason as {{ dbt.type_string() }}) as last_error_reason,
        cast(0 as {{ dbt.type_bigint() }}) as soft_bounce_count,
        cast(hard_bounced_at is not null as {{ dbt.type_boolean() }}) as is_quarantined,
        cast(hard_bounced_at as {{ dbt.type_timestamp() }}) as quarantined_since,
        cast(last_error_at as {{ dbt.type_timestamp() }}) as last_error_at,
        cast(last_delivered_at as {{ dbt.type_timestamp() }}) as last_delivered_at

    from channel_evaluated

),

email_final as (

    select
        ---------- ids
        cast(
            {{ dbt.hash(dbt.concat(["'email'", "'|'", 'address'])) }} as {{ dbt.type_string() }}
        ) as address_quarantine_id,

        ---------- strings
        cast('email' as {{ dbt.type_string() }}) as channel,
        cast(address as {{ dbt.type_string() }}) as address,
        cast(
            case quarantine_reason
                when 'spam_complaint' then 'denylisted'
                when 'hard_bounce' then 'quarantined'
                when 'soft_bounces' then 'quarantined'
                else 'active'
            end as {{ dbt.type_string() }}
        ) as quarantine_status,
        cast(quarantine_reason as {{ dbt.type_string() }}) as quarantine_reason,
        cast(last_error_reason as {{ dbt.type_string() }}) as last_error_reason,

        ---------- numerics
        cast(soft_bounce_count as {{ dbt.type_bigint() }}) as soft_bounce_count,

        ---------- booleans
        cast(quarantine_reason is not null as {{ dbt.type_boolean() }}) as is_quarantined,

        ---------- timestamps
        cast(
            case quarantine_reason
                when 'spam_complaint' then denylisted_at
                when 'hard_bounce' then hard_bounced_at
                when 'soft_bounces' then soft_quarantined_at
            end as {{ dbt.type_timestamp() }}
        ) as quarantined_since,
        cast(last_error_at as {{ dbt.type_timestamp() }}) as last_error_at,
        cast(last_delivered_at as {{ dbt.type_timestamp() }}) as last_delivered_at

    from evaluated

),

final as (

    select * from email_final
    union all
    select * from channel_final

)

select * from final
