-- One row per delivery run × step of its preparation, in the order the typology applies them: the audience, each
-- exclusion rule (how many members it removed, and how many remain), then the control group held out, and the
-- recipients left to send. Seed addresses are not audience members and are left out.
-- Incremental: a preparation appends the steps of its run (the runs it derives from are never rewritten); the
-- first build, or a full refresh, computes every run.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
    )
}}

{%- set rules = ['no_address', 'no_consent', 'quarantined', 'denylisted', 'excluded_audience', 'custom_rule',
                 'duplicate_address', 'fatigue'] %}
{%- set run = delivery_run() %}

with

recipients as (

    select * from {{ ref('delivery_run_recipients') }}
    where profile_id is not null
    {%- if is_incremental() %}
        and {% if run is none %}1 = 0{% else %}run_id = {{ sql_text(run.run_id) }}{% endif %}
    {%- endif %}

),

per_run as (

    select
        run_id,
        max(delivery_id) as delivery_id,
        count(*) as audience_size,
        {% for rule in rules -%}
        sum(case when exclusion_rule = '{{ rule }}' then 1 else 0 end) as removed_{{ loop.index }},
        {% endfor -%}
        sum(case when recipient_group = 'control' then 1 else 0 end) as control_removed

    from recipients
    group by run_id

),

steps as (

    select run_id, delivery_id, 0 as step_order, 'audience' as step, 0 as removed_count, audience_size
    from per_run
    {% for rule in rules %}
    union all
    select run_id, delivery_id, {{ loop.index }}, '{{ rule }}', removed_{{ loop.index }}, audience_size
    from per_run
    {% endfor %}
    union all
    select run_id, delivery_id, {{ rules | length + 1 }}, 'control', control_removed, audience_size
    from per_run

),

final as (

    select
        cast({{ dbt.concat(['run_id', "':'", 'step']) }} as {{ dbt.type_string() }}) as exclusion_waterfall_id,
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(step as {{ dbt.type_string() }}) as step,
        cast(step_order as {{ dbt.type_bigint() }}) as step_order,
        cast(removed_count as {{ dbt.type_bigint() }}) as removed_count,
        cast(
            audience_size - sum(removed_count) over (
                partition by run_id order by step_order rows between unbounded preceding and current row
            ) as {{ dbt.type_bigint() }}
        ) as remaining_count

    from steps

)

select * from final
