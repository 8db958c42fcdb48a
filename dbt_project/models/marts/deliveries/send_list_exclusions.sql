-- One row per audience member a run excluded: the first typology rule that excluded it, and why.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
        tags=['delivery'],
    )
}}

{%- set run = delivery_run() %}

with

recipients as (

    select * from {{ ref('delivery_run_recipients') }}

),

final as (

    select
        delivery_run_recipient_id as send_list_exclusion_id,
        run_id,
        profile_id,
        delivery_id,
        address,
        exclusion_rule,
        exclusion_reason,
        prepared_at
    from recipients
    where exclusion_rule is not null
        {% if run is none %}and 1 = 0{% else %}and run_id = {{ sql_text(run.run_id) }}{% endif %}

)

select * from final
