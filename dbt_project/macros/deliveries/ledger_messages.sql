{#-
    ledger_messages(since): one row per message of the send ledger whose latest entry was written after `since`
    (any run: deliveries, transactional and journey messages), with its run, recipient, profile, channel,
    latest state and the time of its latest claim (when it went to the provider).

    Read from the ledger's files as they are when the query runs, not from a mart of the last build: fatigue at
    preparation time must see what was sent since. It reads the source itself rather than the staging view:
    a preparation builds on the published build without re-creating views, and the view keeps the ledger
    folder it was created with, the source the folder of the project being prepared. The ledger is read in place
    only on DuckDB; elsewhere, and with `enabled` false (nothing to count), this is an empty relation of the same
    columns. The caller declares `-- depends_on: {{ source('senders', 'send_ledger') }}` on DuckDB.
-#}
{% macro ledger_messages(since, enabled=true) -%}
    {%- if target.type == 'duckdb' and enabled %}
    select
        entries.message_id,
        max(entries.run_id) as run_id,
        max(entries.recipient_id) as recipient_id,
        max(nullif(entries.profile_id, '')) as profile_id,
        max(entries.channel) as channel,
        {#- The state of the newest entry (a claim and its outcome are never written at the same time). #}
        arg_max(entries.state, entries.recorded_at) as state,
        coalesce(
            max(case when entries.state = 'claimed' then entries.recorded_at end), max(entries.recorded_at)
        ) as claimed_at
    from (
        {#- Typed as stg_senders__send_ledger types them. #}
        select message_id, run_id, recipient_id, profile_id, channel, state, cast("at" as timestamp) as recorded_at
        from {{ source('senders', 'send_ledger') }}
        where message_id is not null
    ) as entries
    group by entries.message_id
    having max(entries.recorded_at) > {{ since }}
    {%- else %}
    select
        {% for column in ['message_id', 'run_id', 'recipient_id', 'profile_id', 'channel', 'state'] -%}
        cast(null as {{ dbt.type_string() }}) as {{ column }},
        {% endfor -%}
        cast(null as {{ dbt.type_timestamp() }}) as claimed_at
    from {{ ref('profiles') }}
    where 1 = 0
    {%- endif %}
{%- endmacro %}

{#-
    counts_toward_fatigue(state): whether a ledger message in `state` counts toward pressure rules: claimed (in
    flight, or its sender died during the call), accepted, or unknown (it may have gone). Failed, skipped and
    released messages surely did not reach anyone (a released one is sent again later, then claimed anew).
-#}
{% macro counts_toward_fatigue(state) -%}
    {{ state }} in ('claimed', 'accepted', 'unknown')
{%- endmacro %}
