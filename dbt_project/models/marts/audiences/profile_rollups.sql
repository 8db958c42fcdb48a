-- One row per profile: its behavioural events (all, and per type) and its orders (all, and completed: count
-- and EUR sum) in fixed windows of var rollup_window_days ending at the build's reference time as_of(), and
-- whether it is opted in to each channel (any topic) and to each channel and topic.
-- A window of D days holds what happened from as_of() - D days to as_of(), both included: the window of an
-- audience condition `within_days: D`; a consent flag is the test of a `consent` condition. So the compiler
-- answers such conditions from this table exactly (docs/audiences.md). built_at records the as_of() used.
{%- set window_days = rollup_window_days() %}
{%- set event_types = rollup_event_types() %}
{%- set consent_topics = rollup_consent_topics() %}
{#- The channels of herald.audiences.spec.CHANNELS. #}
{%- set channels = ['email', 'sms', 'push', 'in_app', 'direct_mail'] %}
{%- set longest = window_days | max %}

with

profiles as (

    select profile_id from {{ ref('profiles') }}

),

events as (

    select profile_id, event_type, occurred_at from {{ ref('profile_events') }}
    where profile_id is not null
        and occurred_at >= {{ dbt.dateadd('day', -1 * longest, as_of()) }}
        and occurred_at <= {{ as_of() }}

),

orders as (

    select profile_id, is_completed, total_amount_eur, ordered_at from {{ ref('orders') }}
    where profile_id is not null
        and ordered_at >= {{ dbt.dateadd('day', -1 * longest, as_of()) }}
        and ordered_at <= {{ as_of() }}

),

consents as (

    select profile_id, channel, topic, is_opted_in from {{ ref('profile_consents') }}
    where profile_id is not null

),

events_aggregated as (

    select
        profile_id,
        {%- for days in window_days %}
        {%- set last_window = loop.last %}
        {%- set in_window = 'occurred_at >= ' ~ dbt.dateadd('day', -1 * days, as_of()) %}
        count(case when {{ in_window }} then 1 end) as event_count_{{ days }}_days,
        {%- for event_type in event_types %}
        count(case when event_type = '{{ event_type }}' and {{ in_window }} then 1 end)
            as {{ event_type }}_event_count_{{ days }}_days{{ ',' if not (loop.last and last_window) }}
        {%- endfor %}
        {%- endfor %}

    from events
    group by profile_id

),

orders_aggregated as (

    select
        profile_id,
        {%- for days in window_days %}
        {%- set in_window = 'ordered_at >= ' ~ dbt.dateadd('day', -1 * days, as_of()) %}
        count(case when {{ in_window }} then 1 end) as order_count_{{ days }}_days,
        sum(case when {{ in_window }} then total_amount_eur end) as order_total_amount_eur_{{ days }}_days,
        count(case when is_completed and {{ in_window }} then 1 end) as completed_order_count_{{ days }}_days,
        sum(case when is_completed and {{ in_window }} then total_amount_eur end)
            as completed_order_total_amount_eur_{{ days }}_days{{ ',' if not loop.last }}
        {%- endfor %}

    from orders
    group by profile_id

),

consents_aggregated as (

    select
        profile_id,
        {%- for channel in channels %}
        {%- set last_channel = loop.last %}
        max(case when channel = '{{ channel }}' and is_opted_in then 1 else 0 end) as is_{{ channel }}_opted_in,
        {%- for topic in consent_topics %}
        max(case when channel = '{{ channel }}' and topic = '{{ topic }}' and is_opted_in then 1 else 0 end)
            as is_{{ channel }}_{{ topic }}_opted_in{{ ',' if not (loop.last and last_channel) }}
        {%- endfor %}
        {%- endfor %}

    from consents
    group by profile_id

),

final as (

    select
        ---------- ids
        cast(profiles.profile_id as {{ dbt.type_string() }}) as profile_id,

        ---------- numerics
        {%- for days in window_days %}
        cast(coalesce(events_aggregated.event_count_{{ days }}_days, 0) as {{ dbt.type_int() }})
            as event_count_{{ days }}_days,
        {%- for event_type in event_types %}
        {%- set column = event_type ~ '_event_count_' ~ days ~ '_days' %}
        cast(coalesce(events_aggregated.{{ column }}, 0) as {{ dbt.type_int() }}) as {{ column }},
        {%- endfor %}
        {%- endfor %}
        {%- for days in window_days %}
        {%- for prefix in ['order', 'completed_order'] %}
        cast(coalesce(orders_aggregated.{{ prefix }}_count_{{ days }}_days, 0) as {{ dbt.type_int() }})
            as {{ prefix }}_count_{{ days }}_days,
        cast(coalesce(orders_aggregated.{{ prefix }}_total_amount_eur_{{ days }}_days, 0) as {{ type_double() }})
            as {{ prefix }}_total_amount_eur_{{ days }}_days,
        {%- endfor %}
        {%- endfor %}

        ---------- booleans
        {%- for channel in channels %}
        {%- set flags = ['is_' ~ channel ~ '_opted_in'] %}
        {%- for topic in consent_topics %}
        {%- do flags.append('is_' ~ channel ~ '_' ~ topic ~ '_opted_in') %}
        {%- endfor %}
        {%- for flag in flags %}
        cast(coalesce(consents_aggregated.{{ flag }}, 0) = 1 as {{ dbt.type_boolean() }}) as {{ flag }},
        {%- endfor %}
        {%- endfor %}

        ---------- timestamps
        cast({{ as_of() }} as {{ dbt.type_timestamp() }}) as built_at

    from profiles
    left join events_aggregated
        on profiles.profile_id = events_aggregated.profile_id
    left join orders_aggregated
        on profiles.profile_id = orders_aggregated.profile_id
    left join consents_aggregated
        on profiles.profile_id = consents_aggregated.profile_id

)

select * from final
