{%- set window_days = var('conversion_window_days') | int -%}
-- One row per delivery run with a control group: conversion of the target (target and variant groups) against
-- the control group of the same run, and the lift with its 95 % confidence interval.
--
-- A recipient converts with a completed order within {{ window_days }} days (var conversion_window_days) after
-- the run started sending (its first sent message; the preparation time if nothing was sent yet), the same
-- start for both groups. Intention to treat: every target member on the send list counts, sent or not.
-- lift = target rate - control rate; the interval is the normal approximation on the difference of two
-- proportions, lift ± 1.96 × sqrt(p_t (1 - p_t) / n_t + p_c (1 - p_c) / n_c). Rates, lift and interval are null
-- when a group is empty; is_significant is true when the interval excludes 0.

with

send_lists as (

    select * from {{ ref('send_lists') }}
    where recipient_group in ('target', 'variant', 'control')
        and profile_id is not null

),

orders as (

    select * from {{ ref('orders') }}

),

windows as (

    {{ conversion_windows() }}

),

runs as (

    select * from windows
    where control_count > 0

),

members as (

    select
        send_lists.run_id,
        send_lists.profile_id,
        case when send_lists.recipient_group = 'control' then 'control' else 'target' end as arm,
        max(case when orders.order_id is not null then 1 else 0 end) as converted

    from send_lists
    inner join runs
        on send_lists.run_id = runs.run_id
    left join orders
        on send_lists.profile_id = orders.profile_id
        and {{ is_conversion('orders', 'runs') }}
    group by send_lists.run_id, send_lists.profile_id, send_lists.recipient_group

),

arms as (

    select
        run_id,
        sum(case when arm = 'target' then 1 else 0 end) as target_size,
        sum(case when arm = 'target' then converted else 0 end) as target_conversions,
        sum(case when arm = 'control' then 1 else 0 end) as control_size,
        sum(case when arm = 'control' then converted else 0 end) as control_conversions

    from members
    group by run_id

),

rates as (

    select
        runs.*,
        coalesce(arms.target_size, 0) as target_size,
        coalesce(arms.target_conversions, 0) as target_conversions,
        coalesce(arms.control_size, 0) as control_size,
        coalesce(arms.control_conversions, 0) as control_conversions,
        {{ safe_rate('arms.target_conversions', 'arms.target_size') }} as target_conversion_rate,
        {{ safe_rate('arms.control_conversions', 'arms.control_size') }} as control_conversion_rate

    from runs
    left join arms
        on runs.run_id = arms.run_id

),

lifted as (

    select
        *,
        target_conversion_rate - control_conversion_rate as lift,
        sqrt(
            target_conversion_rate * (1 - target_conversion_rate) / nullif(target_size, 0)
            + control_conversion_rate * (1 - control_conversion_rate) / nullif(control_size, 0)
        ) as standard_error

    from rates

),

final as (

    select
        ---------- ids
        cast(run_id as {{ dbt.type_string() }}) as run_id,
        cast(delivery_id as {{ dbt.type_string() }}) as delivery_id,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,

        ---------- numerics
        cast({{ window_days }} as {{ dbt.type_bigint() }}) as conversion_window_days,
        cast(target_size as {{ dbt.type_bigint() }}) as target_size,
        cast(target_conversions as {{ dbt.type_bigint() }}) as target_conversions,
        cast(control_size as {{ dbt.type_bigint() }}) as control_size,
        cast(control_conversions as {{ dbt.type_bigint() }}) as control_conversions,
        cast(target_conversion_rate as {{ type_double() }}) as target_conversion_rate,
        cast(control_conversion_rate as {{ type_double() }}) as control_conversion_rate,
        cast(lift as {{ type_double() }}) as lift,
        cast(
            case when control_conversion_rate > 0 then lift / control_conversion_rate end as {{ type_double() }}
        ) as relative_lift,
        cast(lift - 1.96 * standard_error as {{ type_double() }}) as lift_ci_lower,
        cast(lift + 1.96 * standard_error as {{ type_double() }}) as lift_ci_upper,

        ---------- booleans
        cast(
            coalesce(lift - 1.96 * standard_error > 0 or lift + 1.96 * standard_error < 0, false)
            as {{ dbt.type_boolean() }}
        ) as is_significant,
        cast(window_end_at <= {{ as_of() }} as {{ dbt.type_boolean() }}) as is_window_complete,

        ---------- timestamps
        cast(window_start_at as {{ dbt.type_timestamp() }}) as window_start_at,
        cast(window_end_at as {{ dbt.type_timestamp() }}) as window_end_at

    from lifted

)

select * from final
