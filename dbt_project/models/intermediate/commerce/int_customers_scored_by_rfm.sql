-- One row per profile with at least one completed order (a customer): RFM scores and segment.
--
-- Each score splits customers into five groups of (nearly) equal size with ntile(5); 5 is best:
--   recency   = last completed order, most recent gets 5
--   frequency = number of completed orders, most gets 5
--   monetary  = lifetime value in EUR, most gets 5
-- Ties are broken by profile_id so the result does not depend on the engine.
-- Segment, first rule that matches:
--   new          one order, and recent (R >= 4)
--   champions    R >= 4 and F >= 4
--   loyal        R >= 3 and F >= 3
--   potential    R >= 3 (recent, buys rarely so far)
--   at_risk      F >= 3 (bought often, not lately: R <= 2)
--   hibernating  everyone else (not recent, rarely)

with

customers as (

    select * from {{ ref('int_orders_aggregated_to_profiles') }}

),

scored as (

    select
        profile_id,
        order_count,
        ntile(5) over (order by last_order_at asc, profile_id asc) as recency_score,
        ntile(5) over (order by order_count asc, profile_id asc) as frequency_score,
        ntile(5) over (order by lifetime_value asc, profile_id asc) as monetary_score

    from customers

),

segmented as (

    select
        profile_id,
        recency_score,
        frequency_score,
        monetary_score,
        case
            when order_count = 1 and recency_score >= 4 then 'new'
            when recency_score >= 4 and frequency_score >= 4 then 'champions'
            when recency_score >= 3 and frequency_score >= 3 then 'loyal'
            when recency_score >= 3 then 'potential'
            when frequency_score >= 3 then 'at_risk'
            else 'hibernating'
        end as rfm_segment

    from scored

)

select * from segmented
