-- One row per profile: whether each channel can reach it now, accounting for address validity, consent
-- and quarantine.
--
--   email        valid email, opted in to at least one email topic (and not unsubscribed from all email
--                since), address neither quarantined nor denylisted
--   sms          valid E.164 phone, opted in to at least one SMS topic, number not quarantined (an SMS
--                provider said it can never receive)
--   push         at least one active push device, push not opted out
--   in_app       has opened the app at least once (an app_open event), in-app not opted out
--   direct_mail  complete postal address (line 1, postal code, city, country), direct mail not opted out
-- Opt-in and opt-out per channel are defined in int_consents_aggregated_to_profiles.

with

profiles as (

    select * from {{ ref('int_contacts_merged_to_profiles') }}

),

consents as (

    select * from {{ ref('int_consents_aggregated_to_profiles') }}

),

quarantines as (

    select * from {{ ref('address_quarantines') }}
    where channel = 'email'

),

sms_quarantines as (

    select * from {{ ref('address_quarantines') }}
    where channel = 'sms'
        and is_quarantined

),

push_devices as (

    select
        profile_id,
        max(case when is_active then 1 else 0 end) = 1 as has_active_push_device

    from {{ ref('push_devices') }}
    where profile_id is not null
    group by profile_id

),

engagement as (

    select * from {{ ref('int_engagement_aggregated_to_profiles') }}

),

joined as (

    select
        profiles.profile_id,
        profiles.is_email_valid,
        profiles.is_phone_valid,
        profiles.address_line1 is not null
            and profiles.postal_code is not null
            and profiles.city is not null
            and profiles.country_code is not null as has_postal_address,
        coalesce(quarantines.quarantine_status, 'active') as email_address_status,
        quarantines.quarantine_reason as email_quarantine_reason,
        coalesce(consents.is_email_opted_in, false) as is_email_opted_in,
        coalesce(consents.is_sms_opted_in, false) as is_sms_opted_in,
        coalesce(consents.is_push_opted_out, false) as is_push_opted_out,
        coalesce(consents.is_in_app_opted_out, false) as is_in_app_opted_out,
        coalesce(consents.is_direct_mail_opted_out, false) as is_direct_mail_opted_out,
        coalesce(push_devices.has_active_push_device, false) as has_active_push_device,
        coalesce(engagement.has_app_open, false) as has_app_open,
        sms_quarantines.address is not null as is_phone_quarantined

    from profiles
    left join consents
        on profiles.profile_id = consents.profile_id
    left join quarantines
        on profiles.email = quarantines.address
    left join push_devices
        on profiles.profile_id = push_devices.profile_id
    left join engagement
        on profiles.profile_id = engagement.profile_id
    left join sms_quarantines
        on profiles.phone = sms_quarantines.address

),

evaluated as (

    select
        ---------- ids
        profile_id,

        ---------- strings
        case email_address_status
            when 'active' then 'none'
            else email_address_status
        end as email_quarantine_status,
        email_quarantine_reason,

        ---------- booleans
        is_email_opted_in,
        is_sms_opted_in,
        is_push_opted_out,
        is_in_app_opted_out,
        is_direct_mail_opted_out,
        has_active_push_device,
        has_app_open,
        has_postal_address,
        is_email_valid
            and is_email_opted_in
            and email_address_status = 'active' as is_email_reachable,
        is_phone_valid
            and is_sms_opted_in
            and not is_phone_quarantined as is_sms_reachable,
        has_active_push_device
            and not is_push_opted_out as is_push_reachable,
        has_app_open
            and not is_in_app_opted_out as is_in_app_reachable,
        has_postal_address
            and not is_direct_mail_opted_out as is_direct_mail_reachable

    from joined

)

select * from evaluated
