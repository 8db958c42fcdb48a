{%- set window_days = var('conversion_window_days') | int -%}
{%- set alpha = var('ab_test_significance_level') | float -%}
-- One row per delivery run × A/B metric × variant: each variant's rate on opens, clicks and conversions, and the
-- winner of the run on that metric. This is where the winner comes from: the step that sends the winner to the
-- rest of the target reads the rows of its plan's ab_test.metric (see docs/marts.md).
--
--   opens        unique opens (human; machine opens excluded) / delivered
--   clicks       unique clicks / delivered
--   conversions  recipients with a completed order within {{ window_days }} days of the run's first send
--                (var conversion_window_days) / recipients on the send list
-- The leader (highest rate; ties to the smaller variant name) is tested against the runner-up with a pooled
-- two-proportion z-test; winner_variant is the leader when the two-sided p-value is below
-- {{ alpha }} (var ab_test_significance_level), else null. Empty variants give null rates, never an error.

with

send_lists as (

    select * from {{ ref('send_lists') }}
    where recipient_group = 'variant'
        and variant is not null

),

outcomes as (

    select * from {{ ref('message_outcomes') }}
    where run_id is not null

),

orders as (

    select * from {{ ref('orders') }}

),

runs as (

    {{ conversion_windows() }}

),

recipients as (

    select
        send_lists.run_id,
        send_lists.variant,
        send_lists.profile_id,
        max(case when outcomes.is_delivered then 1 else 0 end) as delivered,
        max(case when outcomes.is_opened then 1 else 0 end) as opened,
        max(case when outcomes.is_clicked then 1 else 0 end) as clicked,
        max(case when orders.order_id is not null then 1 else 0 end) as converted

    from send_lists
    inner join runs
        on send_lists.run_id = runs.run_id
    left join outcomes
        on send_lists.send_list_id = outcomes.send_list_id
    left join orders
        on send_lists.profile_id = orders.profile_id
        and {{ is_conversion('orders', 'runs') }}
    group by send_lists.run_id, send_lists.variant, send_lists.profile_id

),

variants as (

    select
        run_id,
        variant,
        count(*) as recipient_count,
        sum(delivered) as delivered_count,
        sum(opened) as opened_count,
        sum(clicked) as clicked_count,
        sum(converted) as converted_count

    from recipients
    group by run_id, variant

),

per_metric as (

    select run_id, variant, 'opens' as metric, opened_count as successes, delivered_count as trials from variants
    union all
    select run_id, variant, 'clicks' as metric, clicked_count, delivered_count from variants
    union all
    select run_id, variant, 'conversions' as metric, converted_count, recipient_count from variants

),

ranked as (

    select
        *,
        {{ safe_rate('successes', 'trials') }} as rate,
        row_number() over (
            partition by run_id, metric
            order by case when trials > 0 then cast(successes as {{ type_double() }}) / trials end desc nulls last,
                variant
        ) as variant_rank

    from per_metric

),

contest as (

    select
        leader.run_id,
        leader.metric,
        leader.variant as leader_variant,
        leader.successes as leader_successes,
        leader.trials as leader_trials,
        leader.rate as leader_rate,
        runner_up.successes as runner_up_successes,
        runner_up.trials as runner_up_trials,
        runner_up.rate as runner_up_rate,
        {{ safe_rate('leader.successes + runner_up.successes', 'leader.trials + runner_up.trials') }} as pooled_rate

    from ranked as leader
    inner join ranked as runner_up
        on leader.run_id = runner_up.run_id
        and leader.metric = runner_up.metric
        and runner_up.variant_rank = 2
    where leader.variant_rank = 1

),

tested as (

    select
        *,
        case
            when leader_trials > 0 and runner_up_trials > 0 and pooled_rate > 0 and pooled_rate < 1
                then (leader_rate - runner_up_rate)
                    / sqrt(pooled_rate * (1 - pooled_rate) * (1.0 / leader_trials + 1.0 / runner_up_trials))
        end as z_score

    from contest

),

decided as (

    select
        *,
        {{ normal_two_sided_p_value('z_score') }} as p_value

    from tested

),

final as (

    select
        ---------- ids
        cast({{ dbt.concat(['ranked.run_id', "':'", 'ranked.metric', "':'", 'ranked.variant']) }}
            as {{ dbt.type_string() }}) as ab_result_id,
        cast(ranked.run_id as {{ dbt.type_string() }}) as run_id,
        cast(runs.delivery_id as {{ dbt.type_string() }}) as delivery_id,

        ---------- strings
        cast(ranked.metric as {{ dbt.type_string() }}) as metric,
        cast(ranked.variant as {{ dbt.type_string() }}) as variant,
        cast(case when decided.p_value < {{ alpha }} then decided.leader_variant end as {{ dbt.type_string() }})
            as winner_variant,

        ---------- numerics
        cast(ranked.successes as {{ dbt.type_bigint() }}) as successes,
        cast(ranked.trials as {{ dbt.type_bigint() }}) as trials,
        cast(ranked.rate as {{ type_double() }}) as rate,
        cast(ranked.variant_rank as {{ dbt.type_bigint() }}) as variant_rank,
        cast(decided.z_score as {{ type_double() }}) as z_score,
        cast(decided.p_value as {{ type_double() }}) as p_value,

        ---------- booleans
        cast(coalesce(decided.p_value < {{ alpha }}, false) as {{ dbt.type_boolean() }}) as is_significant,
        cast(
            coalesce(decided.p_value < {{ alpha }} and ranked.variant = decided.leader_variant, false)
            as {{ dbt.type_boolean() }}
        ) as is_winner,

        ---------- timestamps
        cast(runs.first_sent_at as {{ dbt.type_timestamp() }}) as first_sent_at,
        cast({{ as_of() }} as {{ dbt.type_timestamp() }}) as evaluated_at

    from ranked
    inner join runs
        on ranked.run_id = runs.run_id
    left join decided
        on ranked.run_id = decided.run_id
        and ranked.metric = decided.metric

)

select * from final
