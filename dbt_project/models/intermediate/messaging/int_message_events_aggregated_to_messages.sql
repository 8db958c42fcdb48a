-- One row per message with at least one provider event: what happened to it.
--
-- A click implies an open (images are often blocked): is_opened and first_opened_at count clicks too, while
-- open_count counts open events only. A message is bounced when a bounce (or a drop for a previously
-- bounced address) was reported; bounce_type is 'hard' if any such event was hard, else 'soft'.

with

message_events as (

    select * from {{ ref('message_events') }}

),

aggregated as (

    select
        message_id,
        sum(case when event_type = 'open' then 1 else 0 end) as open_count,
        sum(case when event_type = 'click' then 1 else 0 end) as click_count,
        case
            when max(case when bounce_type = 'hard' then 1 else 0 end) = 1 then 'hard'
            when max(case when bounce_type = 'soft' then 1 else 0 end) = 1 then 'soft'
        end as bounce_type,
        max(case when event_type = 'delivered' then 1 else 0 end) = 1 as is_delivered,
        max(case when event_type in ('open', 'click') then 1 else 0 end) = 1 as is_opened,
        max(case when event_type = 'click' then 1 else 0 end) = 1 as is_clicked,
        max(case when event_type = 'unsubscribe' then 1 else 0 end) = 1 as is_unsubscribed,
        max(case when event_type = 'spamreport' then 1 else 0 end) = 1 as is_spam_reported,
        min(case when event_type = 'delivered' then occurred_at end) as delivered_at,
        min(case when event_type in ('open', 'click') then occurred_at end) as first_opened_at,
        min(case when event_type = 'click' then occurred_at end) as first_clicked_at

    from message_events
    where message_id is not null
    group by message_id

)

select * from aggregated
