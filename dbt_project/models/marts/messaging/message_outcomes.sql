-- One row per message, Herald's own sends and imported history alike: what the providers reported about it on
-- every channel (int_provider_events_aggregated_to_messages), with the send list's attributes of a Herald
-- message (campaign, program, group target / control / variant / seed, variant, address).
--
-- Incremental like the rollup it reads (DuckDB, PostgreSQL; a table on Spark): a build replaces the rows of the
-- messages whose rollup changed since the previous build (delete+insert on message_id).
{{ config(**incremental_by_key('message_id')) }}

with

rollup as (

    select * from {{ ref('int_provider_events_aggregated_to_messages') }}
    {% if is_incremental() %}
    where last_batch_id > (select coalesce(max(last_batch_id), '') from {{ this }})
        or ledger_changed_at > (
            select {{ dbt.dateadd('hour', -1, 'max(ledger_changed_at)') }} from {{ this }}
        )
        or (ledger_changed_at is not null and (select max(ledger_changed_at) from {{ this }}) is null)
        or last_inbox_event_at > (
            select {{ dbt.dateadd('hour', -1, 'max(last_inbox_event_at)') }} from {{ this }}
        )
        or (last_inbox_event_at is not null and (select max(last_inbox_event_at) from {{ this }}) is null)
    {% endif %}

),

send_lists as (

    select * from {{ ref('send_lists') }}

),

runs as (

    select * from {{ ref('delivery_runs') }}

),

final as (

    select
        ---------- ids
        cast(rollup.message_id as {{ dbt.type_string() }}) as message_id,
        cast(rollup.profile_id as {{ dbt.type_string() }}) as profile_id,
        cast(rollup.external_key as {{ dbt.type_string() }}) as external_key,
        cast(rollup.run_id as {{ dbt.type_string() }}) as run_id,
        cast(rollup.send_list_id as {{ dbt.type_string() }}) as send_list_id,
        cast(rollup.delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(coalesce(rollup.campaign_id, send_lists.campaign_id, runs.campaign_id) as {{ dbt.type_string() }})
            as campaign_id,
        cast(coalesce(send_lists.program_id, runs.program_id) as {{ dbt.type_string() }}) as program_id,

        ---------- strings
        cast(rollup.source as {{ dbt.type_string() }}) as source,
        cast(rollup.campaign_name as {{ dbt.type_string() }}) as campaign_name,
        cast(rollup.channel as {{ dbt.type_string() }}) as channel,
        cast(coalesce(rollup.address, send_lists.address) as {{ dbt.type_string() }}) as address,
        cast(
            case
                when rollup.channel = 'email'
                    then lower({{ dbt.split_part('coalesce(rollup.address, send_lists.address)', "'@'", 2) }})
            end as {{ dbt.type_string() }}
        ) as recipient_domain,
        cast(send_lists.recipient_group as {{ dbt.type_string() }}) as recipient_group,
        cast(send_lists.variant as {{ dbt.type_string() }}) as variant,
        cast(rollup.send_state as {{ dbt.type_string() }}) as send_state,
        cast(rollup.bounce_type as {{ dbt.type_string() }}) as bounce_type,
        cast(rollup.bounce_classification as {{ dbt.type_string() }}) as bounce_classification,
        cast(rollup.bounce_reason as {{ dbt.type_string() }}) as bounce_reason,
        cast(rollup.last_batch_id as {{ dbt.type_string() }}) as last_batch_id,

        ---------- numerics
        {% for column in ['event_count', 'open_count', 'machine_open_count', 'click_count', 'deferred_count'] -%}
        cast(rollup.{{ column }} as {{ dbt.type_bigint() }}) as {{ column }},
        {% endfor %}
        ---------- booleans
        {% for column in ['is_sent', 'is_delivered', 'is_opened', 'is_machine_opened', 'is_clicked', 'is_bounced',
                          'is_hard_bounced', 'is_soft_bounced', 'is_blocked', 'is_deferred', 'is_dropped',
                          'is_failed', 'is_dismissed', 'is_unsubscribed', 'is_spam_reported', 'is_confirmed'] -%}
        cast(rollup.{{ column }} as {{ dbt.type_boolean() }}) as {{ column }},
        {% endfor %}
        ---------- timestamps
        {% for column in ['sent_at', 'delivered_at', 'first_opened_at', 'last_opened_at', 'first_clicked_at',
                          'last_clicked_at', 'bounced_at', 'unsubscribed_at', 'complained_at', 'first_event_at',
                          'last_event_at', 'ledger_changed_at', 'last_inbox_event_at'] -%}
        cast(rollup.{{ column }} as {{ dbt.type_timestamp() }}) as {{ column }}
        {%- if not loop.last %},{% endif %}
        {% endfor %}

    from rollup
    left join send_lists
        on rollup.send_list_id = send_lists.send_list_id
    left join runs
        on rollup.run_id = runs.run_id

)

select * from final
