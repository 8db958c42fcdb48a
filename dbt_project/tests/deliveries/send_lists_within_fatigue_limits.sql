-- No profile of the run being prepared goes beyond a fatigue rule: messages already sent in the rule's
-- period (the imported history and Herald's own, from the ledger), plus this message's weight, stay within the
-- maximum. (Other prepared runs are checked by the model; this test recounts the sent messages independently.)
-- depends_on: {{ ref('messages') }}
{% if target.type == 'duckdb' %}-- depends_on: {{ source('senders', 'send_ledger') }}{% endif %}
{%- set run = delivery_run() %}

{%- if run is none or not run.fatigue %}

select send_list_id from {{ ref('send_lists') }} where 1 = 0

{%- else %}

{%- set max_period = run.fatigue | map(attribute='period_days') | max %}
{#- The build id is its start time: the model read the ledger after it, so every message claimed before it was
    counted there. Later claims (a send running beside the preparation) are the next preparation's to count. -#}
{%- set build_id = herald_build_id() %}
{%- set started = modules.re.fullmatch('(\\d{4})(\\d{2})(\\d{2})T(\\d{2})(\\d{2})(\\d{2})(\\d{6})Z', build_id) %}

with

sendable as (

    select profile_id
    from {{ ref('send_lists') }}
    where run_id = {{ sql_text(run.run_id) }}
        and is_sendable
        and profile_id is not null

),

sent as (

    select message_id, profile_id, channel, sent_at
    from {{ ref('messages') }}
    where sent_at <= {{ as_of() }}
    union all
    select message_id, profile_id, channel, claimed_at as sent_at
    from ({{ ledger_messages(dbt.dateadd('day', -1 * (max_period | int), as_of())) }}) as herald_messages
    where {{ counts_toward_fatigue('state') }}
        {% if started -%}
        and claimed_at <= cast({{ sql_text('%s-%s-%s %s:%s:%s.%s' % started.groups()) }} as {{ dbt.type_timestamp() }})
        {%- endif %}

),

violations as (

    {% for rule in run.fatigue %}
    select sendable.profile_id, {{ sql_text(rule.name) }} as rule_name, count(sent.message_id) as sent
    from sendable
    inner join sent
        on sent.profile_id = sendable.profile_id
        and sent.sent_at > {{ dbt.dateadd('day', -1 * (rule.period_days | int), as_of()) }}
        {% if rule.channel %}and sent.channel = {{ sql_text(rule.channel) }}{% endif %}
    group by sendable.profile_id
    having count(sent.message_id) + {{ run.weight | int }} > {{ rule.max | int }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from violations

{%- endif %}
