-- No profile of the run being prepared goes beyond a fatigue rule: messages already sent in the rule's
-- period, plus this message's weight, stay within the maximum. (Other prepared runs are checked by the model;
-- this test recounts the sent history independently.)
-- depends_on: {{ ref('messages') }}
{%- set run = delivery_run() %}

{%- if run is none or not run.fatigue %}

select send_list_id from {{ ref('send_lists') }} where 1 = 0

{%- else %}

with

sendable as (

    select profile_id
    from {{ ref('send_lists') }}
    where run_id = {{ sql_text(run.run_id) }}
        and is_sendable
        and profile_id is not null

),

violations as (

    {% for rule in run.fatigue %}
    select sendable.profile_id, {{ sql_text(rule.name) }} as rule_name, count(messages.message_id) as sent
    from sendable
    inner join {{ ref('messages') }} as messages
        on messages.profile_id = sendable.profile_id
        and messages.sent_at > {{ dbt.dateadd('day', -1 * (rule.period_days | int), as_of()) }}
        and messages.sent_at <= {{ as_of() }}
        {% if rule.channel %}and messages.channel = {{ sql_text(rule.channel) }}{% endif %}
    group by sendable.profile_id
    having count(messages.message_id) + {{ run.weight | int }} > {{ rule.max | int }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from violations

{%- endif %}
