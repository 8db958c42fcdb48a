-- One row per delivery run × recipient: every member of the run's audience, plus its seed addresses, with the
-- group it landed in or the first typology rule that excluded it. `herald prepare` appends one run per call;
-- rows are never rewritten (full_refresh is off), so a prepared run stays exactly as it was prepared.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
    )
}}

{#- Read while the model runs (see delivery_run()): every ref of the run's SQL is declared here. -#}
-- depends_on: {{ ref('audience_memberships') }}, {{ ref('audience_builds') }}, {{ ref('push_devices') }}
-- depends_on: {{ ref('profile_consents') }}, {{ ref('address_quarantines') }}, {{ ref('messages') }}
{% if target.type == 'duckdb' %}-- depends_on: {{ source('senders', 'send_ledger') }}{% endif %}
{%- set run = delivery_run() %}

{%- if run is none %}

-- No run is being prepared: append nothing (the typed empty shape creates the table on a first build).
select
    cast(null as {{ dbt.type_string() }}) as delivery_run_recipient_id,
    cast(null as {{ dbt.type_string() }}) as run_id,
    cast(null as {{ dbt.type_string() }}) as recipient_id,
    cast(null as {{ dbt.type_string() }}) as profile_id,
    cast(null as {{ dbt.type_string() }}) as delivery_id,
    cast(null as {{ dbt.type_string() }}) as campaign_id,
    cast(null as {{ dbt.type_string() }}) as program_id,
    cast(null as {{ dbt.type_string() }}) as channel,
    cast(null as {{ dbt.type_string() }}) as topic,
    cast(null as {{ dbt.type_string() }}) as address,
    cast(null as {{ dbt.type_string() }}) as recipient_group,
    cast(null as {{ dbt.type_string() }}) as variant,
    cast(null as {{ dbt.type_string() }}) as audience_name,
    cast(null as {{ dbt.type_string() }}) as audience_group,
    cast(null as {{ dbt.type_string() }}) as consent_id,
    cast(null as {{ dbt.type_string() }}) as exclusion_rule,
    cast(null as {{ dbt.type_string() }}) as exclusion_reason,
    cast(null as {{ dbt.type_string() }}) as payload,
    cast(null as {{ dbt.type_string() }}) as content_hash,
    cast(null as {{ dbt.type_string() }}) as audience_version,
    cast(null as {{ dbt.type_string() }}) as plan_version,
    cast(null as {{ dbt.type_string() }}) as build_id,
    cast(null as {{ dbt.type_bigint() }}) as weight,
    cast(null as {{ dbt.type_bigint() }}) as priority,
    cast(null as {{ dbt.type_boolean() }}) as is_sendable,
    cast(null as {{ dbt.type_timestamp() }}) as prepared_at
from {{ ref('profiles') }}
where 1 = 0

{%- else %}

{%- set channel = run.channel %}
{%- set fatigue = run.fatigue or [] %}
{%- set max_period = (fatigue | map(attribute='period_days') | max) if fatigue else 0 %}
{%- set payload_pairs = [('profile_id', 'profiles.profile_id')] %}
{%- for field in run.payload_fields if field != 'profile_id' %}
    {%- do payload_pairs.append((field, 'profiles.' ~ sql_identifier(field))) %}
{%- endfor %}

with

members as (

    {%- if run.entered %}
    -- A triggered run: only the members of one audience build who were not members at the build before.
    select entered.profile_id, entered.audience_group
    from {{ ref('audience_memberships') }} as entered
    where entered.audience_name = {{ sql_text(run.audience) }}
        and entered.build_id = {{ sql_text(run.entered.build_id) }}
        and not exists (
            select 1
            from {{ ref('audience_memberships') }} as before
            where before.audience_name = entered.audience_name
                and before.build_id = {{ sql_text(run.entered.baseline_id) }}
                and before.profile_id = entered.profile_id
        )
    {%- else %}
    {{ audience_members(run.audience) }}
    {%- endif %}

),

profiles as (

    select * from {{ ref('profiles') }}

),

{% if channel == 'push' %}
devices as (

    -- A push goes to the profile's most recently registered active device.
    select
        profile_id,
        token,
        row_number() over (partition by profile_id order by registered_at desc, device_id) as device_rank
    from {{ ref('push_devices') }}
    where is_active

),
{% endif %}

addressed as (

    select
        members.profile_id,
        members.audience_group,
        {% if channel == 'email' -%}
        profiles.email
        {%- elif channel == 'sms' -%}
        profiles.phone
        {%- elif channel == 'push' -%}
        devices.token
        {%- elif channel == 'in_app' -%}
        profiles.profile_id
        {%- else -%}
        case
            when profiles.address_line1 is not null and profiles.postal_code is not null and profiles.city is not null
                then profiles.address_line1
        end
        {%- endif %} as address,
        {{ json_object(payload_pairs) }} as payload
    from members
    inner join profiles
        on profiles.profile_id = members.profile_id
    {% if channel == 'push' -%}
    left join devices
        on devices.profile_id = members.profile_id
        and devices.device_rank = 1
    {%- endif %}

),

channel_wide_opt_outs as (

    -- "Unsubscribe from everything" on this channel (topic 'all'): it cancels every opt-in given before it.
    select
        profile_id,
        max(status_since) as opted_out_everywhere_at
    from {{ ref('profile_consents') }}
    where channel = {{ sql_text(channel) }}
        and topic = 'all'
        and consent_status = 'opted_out'
    group by profile_id

),

consents as (

    -- The opt-in that allows this message: channel (and topic), the most recent when several apply.
    select
        topic_consents.profile_id,
        topic_consents.profile_consent_id,
        row_number() over (
            partition by topic_consents.profile_id
            order by topic_consents.status_since desc, topic_consents.profile_consent_id
        ) as consent_rank
    from {{ ref('profile_consents') }} as topic_consents
    left join channel_wide_opt_outs
        on channel_wide_opt_outs.profile_id = topic_consents.profile_id
    where topic_consents.channel = {{ sql_text(channel) }}
        and topic_consents.is_opted_in
        {% if run.topic %}and topic_consents.topic = {{ sql_text(run.topic) }}{% endif %}
        and (
            channel_wide_opt_outs.opted_out_everywhere_at is null
            or topic_consents.status_since > channel_wide_opt_outs.opted_out_everywhere_at
        )

),

quarantined as (

    select
        address,
        max(case when quarantine_status = 'denylisted' then 2 else 1 end) as severity
    from {{ ref('address_quarantines') }}
    where channel = {{ sql_text(channel) }}
        and quarantine_status in ('quarantined', 'denylisted')
    group by address

),

excluded_audiences as (

    select profile_id, min(audience_name) as audience_name
    from (
        {% for name in run.exclude_audiences or [] %}
        select members.profile_id, {{ sql_text(name) }} as audience_name from ({{ audience_members(name) }}) as members
        union all
        {% endfor %}
        select profile_id, cast(null as {{ dbt.type_string() }}) as audience_name
        from {{ ref('profiles') }}
        where 1 = 0
    ) as listed
    group by profile_id

),

custom_rules as (

    select profile_id, min(reason) as reason
    from (
        {% for rule in run.custom_rules or [] %}
        select members.profile_id, {{ sql_text(rule.reason) }} as reason from ({{ audience_members(rule.audience) }}) as members
        union all
        {% endfor %}
        select profile_id, cast(null as {{ dbt.type_string() }}) as reason
        from {{ ref('profiles') }}
        where 1 = 0
    ) as listed
    group by profile_id

),

filtered as (

    select
        addressed.profile_id,
        addressed.audience_group,
        addressed.address,
        addressed.payload,
        consents.profile_consent_id as consent_id,
        case
            when addressed.address is null then 'no_address'
            {% if run.require_consent -%}
            when consents.profile_consent_id is null then 'no_consent'
            {%- endif %}
            {% if run.exclude_quarantined -%}
            when quarantined.severity = 2 then 'denylisted'
            when quarantined.severity = 1 then 'quarantined'
            {%- endif %}
            when excluded_audiences.profile_id is not null then 'excluded_audience'
            when custom_rules.profile_id is not null then 'custom_rule'
        end as filter_rule,
        case
            when addressed.address is null then {{ sql_text('no ' ~ channel ~ ' address') }}
            {% if run.require_consent -%}
            when consents.profile_consent_id is null
                then {{ sql_text('no opt-in for ' ~ channel ~ ((' topic ' ~ run.topic) if run.topic else '')) }}
            {%- endif %}
            {% if run.exclude_quarantined -%}
            when quarantined.severity = 2 then 'address on the denylist'
            when quarantined.severity = 1 then 'address in quarantine'
            {%- endif %}
            when excluded_audiences.profile_id is not null then excluded_audiences.audience_name
            when custom_rules.profile_id is not null then custom_rules.reason
        end as filter_reason
    from addressed
    left join consents
        on consents.profile_id = addressed.profile_id
        and consents.consent_rank = 1
    left join quarantined
        on quarantined.address = addressed.address
    left join excluded_audiences
        on excluded_audiences.profile_id = addressed.profile_id
    left join custom_rules
        on custom_rules.profile_id = addressed.profile_id

),

deduplicated as (

    select
        filtered.*,
        {% if run.dedupe_address -%}
        case
            when filter_rule is null
                and row_number() over (partition by filter_rule, address order by profile_id) > 1
                then 'duplicate_address'
        end
        {%- else -%}
        cast(null as {{ dbt.type_string() }})
        {%- endif %} as duplicate_rule
    from filtered

),

ledger_messages as (

    -- Herald's own messages (every run: deliveries, transactional, journeys), read from the ledger's files now,
    -- so what was sent since the last build counts without waiting for one.
    {{ ledger_messages(dbt.dateadd('day', -1 * max_period, as_of()), enabled=(fatigue | length > 0)) }}

),

history as (

    -- What already counts toward fatigue: imported message history, Herald's own messages (claimed, accepted
    -- or unknown), and the latest prepared runs of other deliveries that are not outranked by this delivery's
    -- priority, for their recipients the ledger has no message of yet (a sent one counts once, as sent).
    select profile_id, channel, cast(1 as {{ dbt.type_bigint() }}) as weight, sent_at as counted_at
    from {{ ref('messages') }}
    where sent_at > {{ dbt.dateadd('day', -1 * max_period, as_of()) }}
        and sent_at <= {{ as_of() }}
    union all
    select profile_id, channel, cast(1 as {{ dbt.type_bigint() }}) as weight, claimed_at as counted_at
    from ledger_messages
    where {{ counts_toward_fatigue('state') }}
        and profile_id is not null
        and claimed_at > {{ dbt.dateadd('day', -1 * max_period, as_of()) }}
    {% if is_incremental() %}
    union all
    select prepared.profile_id, prepared.channel, prepared.weight, prepared.prepared_at as counted_at
    from {{ this }} as prepared
    where prepared.is_sendable
        and prepared.profile_id is not null
        and prepared.delivery_id <> {{ sql_text(run.delivery_id) }}
        and prepared.priority >= {{ run.priority | int }}
        and prepared.prepared_at > {{ dbt.dateadd('day', -1 * max_period, as_of()) }}
        and prepared.run_id in (select max(run_id) from {{ this }} group by delivery_id)
        and not exists (
            select 1
            from ledger_messages
            where ledger_messages.run_id = prepared.run_id
                and ledger_messages.recipient_id = prepared.recipient_id
                and ledger_messages.state <> 'released'
        )
    {% endif %}

),

fatigue_counts as (

    select
        profile_id
        {%- for rule in fatigue %},
        sum(
            case
                when counted_at > {{ dbt.dateadd('day', -1 * (rule.period_days | int), as_of()) }}
                    {% if rule.channel %}and channel = {{ sql_text(rule.channel) }}{% endif %}
                    then weight
                else 0
            end
        ) as fatigue_{{ loop.index }}
        {%- endfor %}
    from history
    group by profile_id

),

evaluated as (

    select
        deduplicated.profile_id,
        deduplicated.audience_group,
        deduplicated.address,
        deduplicated.payload,
        deduplicated.consent_id,
        coalesce(
            deduplicated.filter_rule,
            deduplicated.duplicate_rule
            {%- if fatigue %},
            case
                {% for rule in fatigue -%}
                when coalesce(fatigue_counts.fatigue_{{ loop.index }}, 0) + {{ run.weight | int }} > {{ rule.max | int }}
                    then 'fatigue'
                {% endfor -%}
            end
            {%- endif %}
        ) as exclusion_rule,
        coalesce(
            deduplicated.filter_reason,
            case when deduplicated.duplicate_rule is not null then 'address already in this delivery' end
            {%- if fatigue %},
            case
                {% for rule in fatigue -%}
                when coalesce(fatigue_counts.fatigue_{{ loop.index }}, 0) + {{ run.weight | int }} > {{ rule.max | int }}
                    then {{ sql_text(rule.name) }}
                {% endfor -%}
            end
            {%- endif %}
        ) as exclusion_reason
    from deduplicated
    left join fatigue_counts
        on fatigue_counts.profile_id = deduplicated.profile_id

),

grouped as (

    -- Groups from a salted hash of the profile (the delivery's id): stable across re-preparations.
    select
        evaluated.*,
        case
            when exclusion_rule is not null then 'excluded'
            {% for bucket in run.buckets if bucket.upper -%}
            when substring(md5({{ dbt.concat([sql_text(run.salt ~ ':'), 'profile_id']) }}), 1, 8) < {{ sql_text(bucket.upper) }}
                then {{ sql_text(bucket.group) }}
            {% endfor -%}
            else {{ sql_text((run.buckets | last).group) }}
        end as recipient_group,
        case
            when exclusion_rule is not null then cast(null as {{ dbt.type_string() }})
            {% for bucket in run.buckets if bucket.upper -%}
            when substring(md5({{ dbt.concat([sql_text(run.salt ~ ':'), 'profile_id']) }}), 1, 8) < {{ sql_text(bucket.upper) }}
                then {{ sql_text(bucket.variant) }}
            {% endfor -%}
            else {{ sql_text((run.buckets | last).variant) }}
        end as variant
    from evaluated

),

seeds as (

    {% for seed in run.seeds or [] %}
    select
        cast(null as {{ dbt.type_string() }}) as profile_id,
        cast(null as {{ dbt.type_string() }}) as audience_group,
        {{ sql_text(seed) }} as address,
        {{ json_object([('seed', sql_text(seed))]) }} as payload,
        cast(null as {{ dbt.type_string() }}) as consent_id,
        cast(null as {{ dbt.type_string() }}) as exclusion_rule,
        cast(null as {{ dbt.type_string() }}) as exclusion_reason,
        'seed' as recipient_group,
        cast(null as {{ dbt.type_string() }}) as variant,
        {{ sql_text('seed:' ~ loop.index) }} as recipient_id
    union all
    {% endfor %}
    select
        cast(null as {{ dbt.type_string() }}) as profile_id,
        cast(null as {{ dbt.type_string() }}) as audience_group,
        cast(null as {{ dbt.type_string() }}) as address,
        cast(null as {{ dbt.type_string() }}) as payload,
        cast(null as {{ dbt.type_string() }}) as consent_id,
        cast(null as {{ dbt.type_string() }}) as exclusion_rule,
        cast(null as {{ dbt.type_string() }}) as exclusion_reason,
        cast(null as {{ dbt.type_string() }}) as recipient_group,
        cast(null as {{ dbt.type_string() }}) as variant,
        cast(null as {{ dbt.type_string() }}) as recipient_id
    from {{ ref('profiles') }}
    where 1 = 0

),

recipients as (

    select
        profile_id, audience_group, address, payload, consent_id, exclusion_rule, exclusion_reason,
        recipient_group, variant, profile_id as recipient_id
    from grouped
    union all
    select
        profile_id, audience_group, address, payload, consent_id, exclusion_rule, exclusion_reason,
        recipient_group, variant, recipient_id
    from seeds

),

final as (

    select
        ---------- ids
        cast({{ dbt.concat([sql_text(run.run_id ~ ':'), 'recipient_id']) }} as {{ dbt.type_string() }})
            as delivery_run_recipient_id,
        cast({{ sql_text(run.run_id) }} as {{ dbt.type_string() }}) as run_id,
        cast(recipient_id as {{ dbt.type_string() }}) as recipient_id,
        cast(profile_id as {{ dbt.type_string() }}) as profile_id,
        cast({{ sql_text(run.delivery_id) }} as {{ dbt.type_string() }}) as delivery_id,
        cast({{ sql_text(run.campaign_id) }} as {{ dbt.type_string() }}) as campaign_id,
        cast({{ sql_text(run.program_id) }} as {{ dbt.type_string() }}) as program_id,

        ---------- strings
        cast({{ sql_text(channel) }} as {{ dbt.type_string() }}) as channel,
        cast({{ sql_text(run.topic) }} as {{ dbt.type_string() }}) as topic,
        cast(address as {{ dbt.type_string() }}) as address,
        cast(recipient_group as {{ dbt.type_string() }}) as recipient_group,
        cast(variant as {{ dbt.type_string() }}) as variant,
        cast({{ sql_text(run.audience) }} as {{ dbt.type_string() }}) as audience_name,
        cast(audience_group as {{ dbt.type_string() }}) as audience_group,
        cast(consent_id as {{ dbt.type_string() }}) as consent_id,
        cast(exclusion_rule as {{ dbt.type_string() }}) as exclusion_rule,
        cast(exclusion_reason as {{ dbt.type_string() }}) as exclusion_reason,
        cast(payload as {{ dbt.type_string() }}) as payload,
        cast({{ sql_text(run.content_hash) }} as {{ dbt.type_string() }}) as content_hash,
        cast({{ sql_text(run.audience_version) }} as {{ dbt.type_string() }}) as audience_version,
        cast({{ sql_text(run.plan_version) }} as {{ dbt.type_string() }}) as plan_version,
        cast('{{ herald_build_id() }}' as {{ dbt.type_string() }}) as build_id,

        ---------- numerics
        cast({{ run.weight | int }} as {{ dbt.type_bigint() }}) as weight,
        cast({{ run.priority | int }} as {{ dbt.type_bigint() }}) as priority,

        ---------- booleans
        cast(
            exclusion_rule is null and recipient_group in ('target', 'variant', 'seed') as {{ dbt.type_boolean() }}
        ) as is_sendable,

        ---------- timestamps
        cast({{ as_of() }} as {{ dbt.type_timestamp() }}) as prepared_at
    from recipients

)

select * from final

{%- endif %}
