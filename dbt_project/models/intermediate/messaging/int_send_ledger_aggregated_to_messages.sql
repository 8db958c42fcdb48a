-- One row per message in the send ledger: its latest state and who it went to, from the ledger alone
-- (message_sends adds the send-list row each came from).
--
-- The models that feed profiles (consent, quarantine, engagement) resolve Herald's messages to profiles here,
-- not through the send list: send lists are prepared from profiles, so reading them there would be a cycle.
-- The ledger is read in place, which only DuckDB does: on other engines this is an empty relation of the same
-- columns (no Herald sends), so every model that reads it stays portable.

with

{% if target.type == 'duckdb' %}
entries as (

    select * from {{ ref('stg_senders__send_ledger') }}

),
{% else %}
entries as (

    select
        {% for column in ['ledger_entry_id', 'message_id', 'run_id', 'recipient_id', 'profile_id', 'delivery_id',
                          'provider_id', 'channel', 'state', 'reason', 'content_hash'] -%}
        cast(null as {{ dbt.type_string() }}) as {{ column }},
        {% endfor -%}
        cast(null as {{ dbt.type_bigint() }}) as attempt,
        cast(null as {{ dbt.type_timestamp() }}) as recorded_at
    from {{ ref('stg_reference__country_calling_codes') }}
    where 1 = 0

),
{% endif %}

ranked as (

    select
        entries.*,
        row_number() over (partition by message_id order by recorded_at desc, ledger_entry_id) as recency
    from entries

),

per_message as (

    select
        message_id,
        min(case when state = 'claimed' then recorded_at end) as first_claimed_at,
        max(attempt) as attempts,
        max(provider_id) as provider_id,
        count(*) as ledger_entries
    from entries
    group by message_id

),

final as (

    select
        latest.message_id,
        latest.run_id,
        latest.recipient_id,
        latest.profile_id,
        latest.delivery_id,
        {{ dbt.concat(['latest.run_id', "':'", 'latest.recipient_id']) }} as send_list_id,
        per_message.provider_id,
        latest.channel,
        latest.state,
        latest.reason,
        latest.content_hash,
        per_message.attempts,
        per_message.ledger_entries,
        per_message.first_claimed_at,
        latest.recorded_at as last_changed_at

    from ranked as latest
    inner join per_message
        on latest.message_id = per_message.message_id
    where latest.recency = 1

)

select * from final
