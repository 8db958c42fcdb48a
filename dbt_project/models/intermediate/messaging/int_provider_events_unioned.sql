-- One row per deduplicated provider event of any channel, in one vocabulary: email (SendGrid, message_events),
-- SMS and push (Twilio and FCM callbacks, channel_events) and in-app (the inbox's read / dismiss / link events).
--
-- event_type: processed, sent, delivered, deferred, bounced, dropped, failed, opened, clicked, dismissed,
-- unsubscribed, complained.
-- bounce_type (email bounces and drops, SMS and push failures):
--   hard     the address can never receive: a SendGrid bounce (or a drop of a bounced address), an invalid
--            number or push token
--   blocked  the receiver refused the sender rather than the address: a SendGrid 'blocked' bounce classified
--            Reputation, Content or Frequency or Volume Too High
--   soft     any other temporary refusal (mailbox full, unreachable handset...)
-- is_opt_out: the event opts the recipient out (an email unsubscribe or an SMS STOP, Twilio 21610).

with

email_events as (

    select * from {{ ref('message_events') }}

),

channel_events as (

    select * from {{ ref('channel_message_events') }}

),

inbox_events as (

    select * from {{ ref('stg_senders__inbox_events') }}

),

email as (

    select
        message_event_id as event_id,
        message_id,
        profile_id,
        'email' as channel,
        case event_type
            when 'bounce' then 'bounced'
            when 'open' then 'opened'
            when 'click' then 'clicked'
            when 'spamreport' then 'complained'
            when 'unsubscribe' then 'unsubscribed'
            when 'group_unsubscribe' then 'unsubscribed'
            else event_type
        end as event_type,
        case
            when bounce_type = 'hard' then 'hard'
            when bounce_type = 'soft'
                and bounce_classification in ('Reputation', 'Content', 'Frequency or Volume Too High')
                then 'blocked'
            when bounce_type = 'soft' then 'soft'
        end as bounce_type,
        bounce_classification,
        reason,
        url,
        cast(null as {{ dbt.type_string() }}) as error_code,
        coalesce(is_machine_open, false) as is_machine_open,
        event_type in ('unsubscribe', 'group_unsubscribe') as is_opt_out,
        batch_id,
        occurred_at

    from email_events

),

sms_and_push as (

    select
        channel_event_id as event_id,
        message_id,
        profile_id,
        channel,
        case event_type
            when 'queued' then 'processed'
            when 'undelivered' then 'failed'
            else event_type
        end as event_type,
        case failure_type
            when 'invalid_address' then 'hard'
            when 'temporary' then 'soft'
        end as bounce_type,
        failure_type as bounce_classification,
        detail as reason,
        cast(null as {{ dbt.type_string() }}) as url,
        error_code,
        false as is_machine_open,
        coalesce(failure_type = 'opted_out', false) as is_opt_out,
        batch_id,
        occurred_at

    from channel_events

),

in_app as (

    select
        inbox_event_id as event_id,
        message_id,
        profile_id,
        'in_app' as channel,
        case event_type
            when 'read' then 'opened'
            when 'opened_link' then 'clicked'
            else event_type
        end as event_type,
        cast(null as {{ dbt.type_string() }}) as bounce_type,
        cast(null as {{ dbt.type_string() }}) as bounce_classification,
        cast(null as {{ dbt.type_string() }}) as reason,
        cast(null as {{ dbt.type_string() }}) as url,
        cast(null as {{ dbt.type_string() }}) as error_code,
        false as is_machine_open,
        false as is_opt_out,
        cast(null as {{ dbt.type_string() }}) as batch_id,
        occurred_at

    from inbox_events

),

unioned as (

    select * from email
    union all
    select * from sms_and_push
    union all
    select * from in_app

)

select * from unioned
