-- A send-list row of the run being prepared goes to a profile only with an opt-in for the channel (and topic)
-- when the typology requires consent: the consent_id it carries must be such an opt-in of that profile, given
-- after the profile's latest opt-out of every topic of the channel (topic 'all'), if any.
{%- set run = fromjson(env_var('HERALD_DELIVERY_RUN', 'null')) %}

with

channel_wide_opt_outs as (

    select profile_id, channel, max(status_since) as opted_out_everywhere_at
    from {{ ref('profile_consents') }}
    where topic = 'all' and consent_status = 'opted_out'
    group by profile_id, channel

)

select send_lists.send_list_id, send_lists.profile_id, send_lists.consent_id
from {{ ref('send_lists') }} as send_lists
left join {{ ref('profile_consents') }} as consents
    on consents.profile_consent_id = send_lists.consent_id
    and consents.profile_id = send_lists.profile_id
    and consents.channel = send_lists.channel
    and consents.is_opted_in
    and (send_lists.topic is null or consents.topic = send_lists.topic)
left join channel_wide_opt_outs
    on channel_wide_opt_outs.profile_id = send_lists.profile_id
    and channel_wide_opt_outs.channel = send_lists.channel
where {% if run is none or not run.require_consent %}1 = 0{% else %}send_lists.run_id = {{ sql_text(run.run_id) }}{% endif %}
    and send_lists.is_sendable
    and send_lists.profile_id is not null
    and (
        consents.profile_consent_id is null
        or channel_wide_opt_outs.opted_out_everywhere_at >= consents.status_since
    )
