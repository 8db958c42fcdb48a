-- One row per recipient of a prepared run that is not excluded: the frozen list the sender jobs read, and
-- nothing else. Control-group members are listed (recipient_group = control) and never sent.
-- A view (configured in _deliveries__models.yml): delivery_run_recipients is append-only and never rewritten,
-- so the list is as frozen as a copy would be, and a preparation does not write every recipient twice.

with

recipients as (

    select * from {{ ref('delivery_run_recipients') }}

),

final as (

    select
        ---------- ids
        delivery_run_recipient_id as send_list_id,
        run_id,
        recipient_id,
        profile_id,
        delivery_id,
        campaign_id,
        program_id,
        consent_id,

        ---------- strings
        channel,
        topic,
        address,
        recipient_group,
        variant,
        payload,
        content_hash,
        audience_name,
        audience_version,
        plan_version,
        build_id,

        ---------- numerics
        weight,
        priority,

        ---------- booleans
        is_sendable,

        ---------- timestamps
        prepared_at
    from recipients
    where exclusion_rule is null

)

select * from final
