-- One row per prepared delivery run: its size by group and exclusions, and a digest of its send list that is
-- equal for two runs sending the same content to the same recipients with the same data.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        full_refresh=false,
        on_schema_change='fail',
    )
}}

{%- set run = delivery_run() %}

with

recipients as (

    select * from {{ ref('delivery_run_recipients') }}
    where {% if run is none %}1 = 0{% else %}run_id = {{ sql_text(run.run_id) }}{% endif %}

),

final as (

    select
        ---------- ids
        max(run_id) as run_id,
        max(delivery_id) as delivery_id,
        max(campaign_id) as campaign_id,
        max(program_id) as program_id,

        ---------- strings
        max(channel) as channel,
        max(audience_name) as audience_name,
        max(audience_version) as audience_version,
        max(plan_version) as plan_version,
        max(content_hash) as content_hash,
        max(build_id) as build_id,
        {{ ordered_digest(
            dbt.concat(["coalesce(recipient_id, '')", "'/'", "coalesce(address, '')", "'/'", "recipient_group",
                        "'/'", "coalesce(variant, '')", "'/'", "coalesce(consent_id, '')", "'/'",
                        "coalesce(payload, '')", "'/'", "coalesce(exclusion_rule, '')", "'/'", "content_hash"]),
            'recipient_id') }} as send_list_digest,

        ---------- numerics
        cast(sum(case when profile_id is not null then 1 else 0 end) as {{ dbt.type_bigint() }}) as audience_size,
        cast(sum(case when is_sendable and recipient_group <> 'seed' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as send_count,
        cast(sum(case when recipient_group = 'control' then 1 else 0 end) as {{ dbt.type_bigint() }}) as control_count,
        cast(sum(case when exclusion_rule is not null then 1 else 0 end) as {{ dbt.type_bigint() }}) as excluded_count,
        cast(sum(case when recipient_group = 'seed' then 1 else 0 end) as {{ dbt.type_bigint() }}) as seed_count,

        ---------- timestamps
        max(prepared_at) as prepared_at
    from recipients
    having count(*) > 0

)

select * from final
