-- A send-list row of the run being prepared goes to a profile only with an opt-in for the channel (and topic)
-- when the typology requires consent: the consent_id it carries must be such an opt-in of that profile, given
-- after the profile's latest opt-out of every topic of the channel (topic 'all'), if any.
{%- set run = delivery_run() %}

with

run_send_lists as (

    select *
    from {{ ref('send_lists') }}
    where {% if run is none or not run.require_consent %}1 = 0{% else %}run_id = {{ sql_text(run.run_id) }}{% endif %}
        and is_sendable
        and profile_id is not null

),

allowing_consents as (

    -- Equality joins only, the topic rule as a filter: an OR in the join condition would turn the join into a
    -- nested loop over every consent (minutes at a million profiles).
    select run_send_lists.send_list_id, consents.status_since
    from run_send_lists
    inner join {{ ref('profile_consents') }} as consents
        on consents.profile_consent_id = run_send_lists.consent_id
        and consents.profile_id = run_send_lists.profile_id
        and consents.channel = run_send_lists.channel
    where consents.is_opted_in
        and (run_send_lists.topic is null or consents.topic = run_send_lists.topic)

),

channel_wide_opt_outs as (

    select profile_id, channel, max(status_since) as opted_out_everywhere_at
    from {{ ref('profile_consents') }}
    where topic = 'all' and consent_status = 'opted_out'
    group by profile_id, channel

)

select run_send_lists.send_list_id, run_send_lists.profile_id, run_send_lists.consent_id
from run_send_lists
left join allowing_consents
    on allowing_consents.send_list_id = run_send_lists.send_list_id
left join channel_wide_opt_outs
    on channel_wide_opt_outs.profile_id = run_send_lists.profile_id
    and channel_wide_opt_outs.channel = run_send_lists.channel
where allowing_consents.send_list_id is null
    or channel_wide_opt_outs.opted_out_everywhere_at >= allowing_consents.status_since
