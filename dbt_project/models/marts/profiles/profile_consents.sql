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

    from events

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

latest as (

    select * from sequenced
    where next_consent_event_id is null

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
        cast(status_runs.status_since as {{ dbt.type_timestamp() }}) as status_since,
        cast(latest.occurred_at as {{ dbt.type_timestamp() }}) as last_changed_at

    from latest
    inner join status_runs
        on latest.profile_id = status_runs.profile_id
        and latest.channel = status_runs.channel
        and latest.topic = status_runs.topic

)

select * from final
