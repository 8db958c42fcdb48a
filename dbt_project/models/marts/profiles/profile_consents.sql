-- One row per profile × channel × topic with a recorded consent: the current status and since when.
--
-- The current status is the latest event (after identity resolution, so the events of merged contacts
-- count together); of two events at the same instant, the opt-out wins. status_since is when the current
-- status began: the first event of the latest unbroken run of that status. last_changed_at is the time
-- of the latest event (a repeated opt-in refreshes it but not status_since).

with

events as (

    select * from {{ ref('int_consent_events_mapped_to_profiles') }}

),

-- Most profile × channel × topic keys have a single event: it is the current status, since its own time.
-- Only the keys with several events need ordering, so the window functions below see a small share of the
-- rows (at a million profiles, one sort of all 2.9M events was most of this model's time).
key_event_counts as (

    select
        profile_id,
        channel,
        topic,
        count(*) as event_count

    from events
    group by profile_id, channel, topic

),

counted_events as (

    select
        events.*,
        key_event_counts.event_count

    from events
    inner join key_event_counts
        on events.profile_id = key_event_counts.profile_id
        and events.channel = key_event_counts.channel
        and events.topic = key_event_counts.topic

),

single_events as (

    select * from counted_events
    where event_count = 1

),

repeated_events as (

    select * from counted_events
    where event_count > 1

),

-- One ordering for both window functions (one sort): oldest first, and at the same instant the opt-out
-- after the opt-in, so that it is the one that stands.
sequenced as (

    select
        *,
        lag(consent_status) over (
            partition by profile_id, channel, topic
            order by
                occurred_at asc,
                case when consent_status = 'opted_out' then 1 else 0 end asc,
                consent_event_id asc
        ) as previous_status,
        lead(consent_event_id) over (
            partition by profile_id, channel, topic
            order by
                occurred_at asc,
                case when consent_status = 'opted_out' then 1 else 0 end asc,
                consent_event_id asc
        ) as next_consent_event_id

    from repeated_events

),

status_runs as (

    select
        profile_id,
        channel,
        topic,
        max(occurred_at) as status_since

    from sequenced
    where previous_status is null
        or previous_status <> consent_status
    group by profile_id, channel, topic

),

latest_of_repeated as (

    select
        sequenced.profile_id,
        sequenced.channel,
        sequenced.topic,
        sequenced.consent_event_id,
        sequenced.evidence_id,
        sequenced.consent_status,
        sequenced.source,
        sequenced.ip_address,
        sequenced.occurred_at,
        status_runs.status_since

    from sequenced
    inner join status_runs
        on sequenced.profile_id = status_runs.profile_id
        and sequenced.channel = status_runs.channel
        and sequenced.topic = status_runs.topic
    where sequenced.next_consent_event_id is null

),

latest as (

    select
        profile_id,
        channel,
        topic,
        consent_event_id,
        evidence_id,
        consent_status,
        source,
        ip_address,
        occurred_at,
        occurred_at as status_since

    from single_events

    union all

    select * from latest_of_repeated

),

final as (

    select
        ---------- ids
        cast(
            {{ dbt.hash(dbt.concat(['latest.profile_id', "'|'", 'latest.channel', "'|'", 'latest.topic'])) }}
            as {{ dbt.type_string() }}
        ) as profile_consent_id,
        cast(latest.profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(latest.consent_event_id as {{ dbt.type_string() }}) as consent_event_id,
        cast(latest.evidence_id as {{ dbt.type_string() }}) as evidence_id,

        ---------- strings
        cast(latest.channel as {{ dbt.type_string() }}) as channel,
        cast(latest.topic as {{ dbt.type_string() }}) as topic,
        cast(latest.consent_status as {{ dbt.type_string() }}) as consent_status,
        cast(latest.source as {{ dbt.type_string() }}) as source,
        cast(latest.ip_address as {{ dbt.type_string() }}) as ip_address,

        ---------- booleans
        cast(latest.consent_status = 'opted_in' as {{ dbt.type_boolean() }}) as is_opted_in,

        ---------- timestamps
        cast(latest.status_since as {{ dbt.type_timestamp() }}) as status_since,
        cast(latest.occurred_at as {{ dbt.type_timestamp() }}) as last_changed_at

    from latest

)

select * from final
