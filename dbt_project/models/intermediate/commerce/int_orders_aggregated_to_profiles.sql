-- One row per profile with at least one completed order: purchase history in EUR.
--
-- Only completed orders count (cancelled and refunded ones are not purchases). The average order value is
-- taken over the orders whose amount could be converted to EUR.

with

orders as (

    select * from {{ ref('orders') }}

),

aggregated as (

    select
        profile_id,
        count(*) as order_count,
        coalesce(sum(total_amount_eur), 0) as lifetime_value,
        sum(total_amount_eur) / nullif(count(total_amount_eur), 0) as average_order_value,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at

    from orders
    where is_completed
        and profile_id is not null
    group by profile_id

)

select * from aggregated
