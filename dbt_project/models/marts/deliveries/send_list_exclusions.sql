-- One row per audience member a run excluded: the first typology rule that excluded it, and why. A view over
-- the append-only recipients, as send_lists.

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

)

select * from final
