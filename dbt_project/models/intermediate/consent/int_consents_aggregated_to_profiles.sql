-- One row per profile with at least one recorded consent: whether each channel may be used.
--
-- A channel's topic 'all' is a channel-wide switch. Its opt-out ("unsubscribe from everything") overrides
-- every topic opt-in given before it; an opt-in given after it re-subscribes that topic.
--   has opt-in   = some topic of the channel is opted in now, and that status began after the latest
--                  channel-wide opt-out (if any). Email and SMS need it (opt-in channels).
--   is opted out = the channel has recorded consents but no opt-in in the sense above. Push, in-app and
--                  direct mail are usable unless opted out (opt-out channels).

with

consents as (

    select * from {{ ref('profile_consents') }}

),

channel_wide_opt_outs as (

    select
        profile_id,
        channel,
        max(status_since) as opted_out_everywhere_at

    from consents
    where topic = 'all'
        and consent_status = 'opted_out'
    group by profile_id, channel

),

channels as (

    select
        consents.profile_id,
        consents.channel,
        max(
            case
                when consents.consent_status = 'opted_in'
                    and (
                        channel_wide_opt_outs.opted_out_everywhere_at is null
                        or consents.status_since > channel_wide_opt_outs.opted_out_everywhere_at
                    )
                    then 1
                else 0
            end
        ) as has_opt_in

    from consents
    left join channel_wide_opt_outs
        on consents.profile_id = channel_wide_opt_outs.profile_id
        and consents.channel = channel_wide_opt_outs.channel
    group by consents.profile_id, consents.channel

),

pivoted as (

    select
        profile_id,
        max(case when channel = 'email' and has_opt_in = 1 then 1 else 0 end) = 1 as is_email_opted_in,
        max(case when channel = 'sms' and has_opt_in = 1 then 1 else 0 end) = 1 as is_sms_opted_in,
        max(case when channel = 'push' and has_opt_in = 0 then 1 else 0 end) = 1 as is_push_opted_out,
        max(case when channel = 'in_app' and has_opt_in = 0 then 1 else 0 end) = 1 as is_in_app_opted_out,
        max(case when channel = 'direct_mail' and has_opt_in = 0 then 1 else 0 end) = 1 as is_direct_mail_opted_out

    from channels
    group by profile_id

)

select * from pivoted
