-- One row per profile with any message, provider event or behavioural event: recent engagement and activity.
--
-- Messages are Herald's own sends and the imported history alike (int_provider_events_aggregated_to_messages),
-- on every channel; opens and clicks are the provider events of every channel (int_provider_events_unioned:
-- email opens and clicks, push opens, in-app reads and link clicks). Opens flagged as machine-generated (Apple Mail Privacy
-- Protection) are not a person reading: they count nowhere here.
--
-- The engagement window is the var engagement_window_days (default 90) days ending at as_of (default: the
-- build time), start excluded, end included.
--   messages_received_recent  messages sent in the window, on any channel, that did not bounce
--   opens_recent              distinct messages opened (or clicked) in the window ("unique opens")
--   clicks_recent             distinct messages clicked in the window ("unique clicks")
--   opens_last_30_days ...    the same unique opens and clicks over fixed 30- and 90-day windows ending at as_of
--   active_days_recent        distinct days with a behavioural event (site or app) in the window
--   engagement_score (0-100)  10 points per unique open (at most 3), 15 per unique click (at most 2) and
--                             4 per active day (at most 10): 30 + 30 + 40
--   engagement_tier           high (score 60 or more), medium (30 or more), low (above 0), none
-- last_open_at, last_click_at and last_seen_at are all-time.
--
-- A table, not a view: profiles reads it twice (directly and through reachability), and it is the one
-- pass over the 50M-row profile_events.

{{ config(materialized='table') }}

with

outcomes as (

    select * from {{ ref('int_provider_events_aggregated_to_messages') }}

),

identities as (

    select * from {{ ref('profile_identities') }}

),

-- Messages of the history are mapped to their contact's current profile (identities may have merged since
-- the message's row was last built).
messages as (

    select
        coalesce(identities.profile_id, outcomes.profile_id) as profile_id,
        outcomes.is_bounced,
        outcomes.sent_at

    from outcomes
    left join identities
        on outcomes.external_key = identities.external_key
    where outcomes.is_sent

),

provider_events as (

    select * from {{ ref('int_provider_events_unioned') }}
    where event_type in ('opened', 'clicked')
        and not is_machine_open
        and profile_id is not null

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
        provider_events.profile_id,
        {% for name, days in [('recent', none), ('last_30_days', 30), ('last_90_days', 90)] -%}
        {%- set start = 'window_bounds.window_start' if days is none else dbt.dateadd('day', -1 * days, 'window_bounds.window_end') -%}
        count(distinct case
            when provider_events.occurred_at > {{ start }}
                and provider_events.occurred_at <= window_bounds.window_end
                then provider_events.message_id
        end) as opens_{{ name }},
        count(distinct case
            when provider_events.event_type = 'clicked'
                and provider_events.occurred_at > {{ start }}
                and provider_events.occurred_at <= window_bounds.window_end
                then provider_events.message_id
        end) as clicks_{{ name }},
        {% endfor -%}
        max(case when provider_events.event_type = 'opened' then provider_events.occurred_at end) as last_open_at,
        max(case when provider_events.event_type = 'clicked' then provider_events.occurred_at end) as last_click_at

    from provider_events
    cross join window_bounds
    group by provider_events.profile_id

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
        coalesce(email_engagement.opens_last_30_days, 0) as opens_last_30_days,
        coalesce(email_engagement.clicks_last_30_days, 0) as clicks_last_30_days,
        coalesce(email_engagement.opens_last_90_days, 0) as opens_last_90_days,
        coalesce(email_engagement.clicks_last_90_days, 0) as clicks_last_90_days,
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

),

tiered as (

    select
        *,
        case
            when engagement_score >= 60 then 'high'
            when engagement_score >= 30 then 'medium'
            when engagement_score > 0 then 'low'
            else 'none'
        end as engagement_tier

    from scored

)

select * from tiered
