-- One row per profile with any message, email event or behavioural event: recent engagement and activity.
--
-- The engagement window is the var engagement_window_days (default 90) days ending at as_of (default: the
-- build time), start excluded, end included.
--   messages_received_recent  messages sent in the window, on any channel, that did not bounce
--   opens_recent              distinct messages opened (or clicked) in the window ("unique opens")
--   clicks_recent             distinct messages clicked in the window ("unique clicks")
--   active_days_recent        distinct days with a behavioural event (site or app) in the window
--   engagement_score (0-100)  10 points per unique open (at most 3), 15 per unique click (at most 2) and
--                             4 per active day (at most 10): 30 + 30 + 40
-- last_open_at, last_click_at and last_seen_at are all-time.
--
-- A table, not a view: profiles reads it twice (directly and through reachability), and it is the one
-- pass over the 50M-row profile_events.

{{ config(materialized='table') }}

with

messages as (

    select * from {{ ref('messages') }}

),

message_events as (

    select * from {{ ref('message_events') }}

),

profile_events as (

    select * from {{ ref('profile_events') }}

),

window_bounds as (

    select
        {{ engagement_window_start() }} as window_start,
        {{ as_of() }} as window_end

),

received as (

    select
        messages.profile_id,
        count(*) as messages_received_recent

    from messages
    cross join window_bounds
    where messages.profile_id is not null
        and not messages.is_bounced
        and messages.sent_at > window_bounds.window_start
        and messages.sent_at <= window_bounds.window_end
    group by messages.profile_id

),

email_engagement as (

    select
        message_events.profile_id,
        count(distinct case
            when message_events.occurred_at > window_bounds.window_start
                and message_events.occurred_at <= window_bounds.window_end
                then message_events.message_id
        end) as opens_recent,
        count(distinct case
            when message_events.event_type = 'click'
                and message_events.occurred_at > window_bounds.window_start
                and message_events.occurred_at <= window_bounds.window_end
                then message_events.message_id
        end) as clicks_recent,
        max(case when message_events.event_type = 'open' then message_events.occurred_at end) as last_open_at,
        max(case when message_events.event_type = 'click' then message_events.occurred_at end) as last_click_at

    from message_events
    cross join window_bounds
    where message_events.profile_id is not null
        and message_events.event_type in ('open', 'click')
    group by message_events.profile_id

),

activity as (

    select
        profile_id,
        max(case when event_type = 'app_open' then 1 else 0 end) = 1 as has_app_open,
        max(occurred_at) as last_seen_at

    from profile_events
    where profile_id is not null
    group by profile_id

),

recent_activity as (

    select
        profile_events.profile_id,
        count(distinct profile_events.event_date) as active_days_recent

    from profile_events
    cross join window_bounds
    where profile_events.profile_id is not null
        and profile_events.occurred_at > window_bounds.window_start
        and profile_events.occurred_at <= window_bounds.window_end
    group by profile_events.profile_id

),

profile_ids as (

    select profile_id from received
    union
    select profile_id from email_engagement
    union
    select profile_id from activity

),

combined as (

    select
        profile_ids.profile_id,
        coalesce(received.messages_received_recent, 0) as messages_received_recent,
        coalesce(email_engagement.opens_recent, 0) as opens_recent,
        coalesce(email_engagement.clicks_recent, 0) as clicks_recent,
        coalesce(recent_activity.active_days_recent, 0) as active_days_recent,
        coalesce(activity.has_app_open, false) as has_app_open,
        email_engagement.last_open_at,
        email_engagement.last_click_at,
        activity.last_seen_at

    from profile_ids
    left join received
        on profile_ids.profile_id = received.profile_id
    left join email_engagement
        on profile_ids.profile_id = email_engagement.profile_id
    left join activity
        on profile_ids.profile_id = activity.profile_id
    left join recent_activity
        on profile_ids.profile_id = recent_activity.profile_id

),

scored as (

    select
        *,
        least(opens_recent, 3) * 10
        + least(clicks_recent, 2) * 15
        + least(active_days_recent, 10) * 4 as engagement_score

    from combined

)

select * from scored
